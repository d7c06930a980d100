//! Signing in: password, then a TOTP code or MFA enrolment when needed; lockout after
//! repeated failures; a rate limit per client address; every outcome in the audit chain.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_sessions::Session;

use crate::platform::accounts::{self, User};
use crate::platform::agencies::Agency;
use crate::platform::audit::{self, Actor, Event};
use crate::platform::error::{AppError, AppResult};
use crate::platform::mfa;
use crate::platform::sessions::{AUTH_KEY, SessionAuth, Stage};
use crate::state::AppState;
use crate::web::ctx::{Ctx, RequestMeta};
use crate::web::page;

/// Rate-limits by the client address found before routing (the proxy's header only when the
/// deployment trusts it).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp;

impl KeyExtractor for ClientIp {
    type Key = std::net::IpAddr;

    fn extract<T>(
        &self,
        req: &axum::http::Request<T>,
    ) -> Result<Self::Key, tower_governor::GovernorError> {
        Ok(req
            .extensions()
            .get::<RequestMeta>()
            .and_then(|m| m.ip)
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)))
    }
}

type NoOp = governor::middleware::NoOpMiddleware<governor::clock::QuantaInstant>;

pub type SignInLimiter = tower_governor::governor::GovernorConfig<ClientIp, NoOp>;

pub fn limiter(config: &crate::Config) -> Arc<SignInLimiter> {
    Arc::new(
        GovernorConfigBuilder::default()
            .period(config.signin_refill)
            .burst_size(config.signin_burst)
            .methods(vec![axum::http::Method::POST])
            .key_extractor(ClientIp)
            .finish()
            .expect("sign-in rate limit settings are positive"),
    )
}

pub fn rate_limit(state: &AppState) -> GovernorLayer<ClientIp, NoOp, axum::body::Body> {
    GovernorLayer::new(state.signin_limiter.clone())
        .error_handler(|_| AppError::RateLimited.into_response())
}

#[derive(Template)]
#[template(path = "platform/signin.html")]
struct SignInPage<'a> {
    ctx: &'a Ctx,
    username: &'a str,
    next: &'a str,
    failure: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    expired: Option<String>,
}

/// Where to go after signing in: only a page of this agency, never another site.
fn safe_next(next: &str, slug: &str) -> String {
    let inside = next == format!("/{slug}") || next.starts_with(&format!("/{slug}/"));
    if inside && !next.contains("//") && !next.contains('\\') && !next.contains("/signin") {
        next.to_string()
    } else {
        format!("/{slug}/staff")
    }
}

pub async fn form(ctx: Ctx, Query(q): Query<SignInQuery>) -> AppResult<Response> {
    let agency = ctx.agency()?;
    if ctx.user().is_some() {
        return Ok(Redirect::to(&safe_next(&q.next, &agency.slug)).into_response());
    }
    let notice = q.expired.is_some().then(|| ctx.t("signin.timed_out"));
    page(SignInPage {
        ctx: &ctx,
        username: "",
        next: &q.next,
        failure: None,
        notice,
    })
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Said only to someone who has already given the account's password (the two-step code
/// stage): the password page answers a locked account as it answers any failure.
fn locked_message(ctx: &Ctx, until: i64, now: i64) -> String {
    let minutes = ((until - now).max(1) + 59) / 60;
    ctx.tf("signin.locked", &[("minutes", &minutes.to_string())])
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Form(f): Form<SignInForm>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let now = state.clock.unix();
    let ip = ctx.ip();
    let again = |failure: String| {
        page(SignInPage {
            ctx: &ctx,
            username: &f.username,
            next: &f.next,
            failure: Some(failure),
            notice: None,
        })
    };
    if f.username.trim().is_empty() || f.password.is_empty() {
        return again(ctx.t("signin.required").to_string());
    }

    let user = accounts::find_by_username(&state.db, agency.id, &f.username).await?;
    let Some(user) = user.filter(|u| u.active) else {
        // Take as long as a real check, so response time does not reveal which usernames exist.
        let _ = accounts::verify_password(&f.password, accounts::dummy_hash().await).await;
        audit::record(
            &state.db,
            agency.id,
            now,
            &Event::new(
                &Actor::Anonymous,
                "signin.failure",
                format!("username:{}", f.username.trim().to_lowercase()),
            )
            .detail(serde_json::json!({"reason": "unknown or inactive account"}))
            .ip(ip.as_deref()),
        )
        .await?;
        return again(ctx.t("signin.failed").to_string());
    };

    if user.is_locked(now) {
        // A locked account answers exactly as an unknown username or a wrong password, in the
        // same time: telling the visitor it is locked would tell them the username exists. The
        // owner learns of it from the notice at their next sign-in, and the audit log has it.
        let _ = accounts::verify_password(&f.password, &user.password_hash).await;
        audit::record(
            &state.db,
            agency.id,
            now,
            &Event::new(
                &Actor::Anonymous,
                "signin.locked",
                format!("user:{}", user.id),
            )
            .ip(ip.as_deref()),
        )
        .await?;
        return again(ctx.t("signin.failed").to_string());
    }

    if !accounts::verify_password(&f.password, &user.password_hash).await {
        // The failure that locks the account says no more than any other.
        fail(
            &state,
            agency,
            &user,
            "signin.failure",
            "wrong password",
            ip.as_deref(),
            now,
        )
        .await?;
        return again(ctx.t("signin.failed").to_string());
    }

    let stage = if user.mfa_enabled {
        Stage::Mfa
    } else if agency.mfa_required && user.role().requires_mfa() {
        Stage::Enrol
    } else {
        complete(&state, &session, agency, &user, ip.as_deref(), now, false).await?;
        Stage::Full
    };
    // A new session id at every change of privilege defeats session fixation.
    session.cycle_id().await.map_err(anyhow::Error::from)?;
    session
        .insert(
            AUTH_KEY,
            SessionAuth {
                agency_id: agency.id,
                user_id: user.id,
                stage,
            },
        )
        .await
        .map_err(anyhow::Error::from)?;
    session
        .insert("next", safe_next(&f.next, &agency.slug))
        .await
        .map_err(anyhow::Error::from)?;
    Ok(after_stage(&ctx, &session, stage).await)
}

/// Where a session goes next once it reaches `stage`.
async fn after_stage(ctx: &Ctx, session: &Session, stage: Stage) -> Response {
    let slug = ctx.slug();
    match stage {
        Stage::Mfa => Redirect::to(&format!("/{slug}/signin/mfa")).into_response(),
        Stage::Enrol => Redirect::to(&format!("/{slug}/account/mfa")).into_response(),
        Stage::Full => {
            let next: Option<String> = session.remove("next").await.ok().flatten();
            Redirect::to(&next.unwrap_or_else(|| format!("/{slug}/staff"))).into_response()
        }
    }
}

/// Counts a failure, records it (and a lock, if this failure caused one). Returns the lock expiry.
async fn fail(
    state: &AppState,
    agency: &Agency,
    user: &User,
    action: &'static str,
    reason: &str,
    ip: Option<&str>,
    now: i64,
) -> AppResult<Option<i64>> {
    let mut tx = state.db.begin().await?;
    let locked = accounts::record_failure(&mut tx, user, now).await?;
    let target = format!("user:{}", user.id);
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(&Actor::Anonymous, action, target.clone())
            .detail(serde_json::json!({"reason": reason}))
            .ip(ip),
    )
    .await?;
    if let Some(until) = locked {
        audit::append(
            &mut tx,
            agency.id,
            now,
            &Event::new(&Actor::System("lockout"), "account.locked", target)
                .detail(serde_json::json!({"until": until, "after_failures": accounts::MAX_FAILED_ATTEMPTS}))
                .ip(ip),
        )
        .await?;
    }
    tx.commit().await?;
    if let Some(until) = locked {
        tell_owner_of_lock(state, agency, user, until, ip);
    }
    Ok(locked)
}

/// E-mails the owner of an account that was just locked, if it has an address and a mail
/// server is configured. It is sent in the background: the page that answered the failure
/// must take no longer than any other failure.
fn tell_owner_of_lock(
    state: &AppState,
    agency: &Agency,
    user: &User,
    until: i64,
    ip: Option<&str>,
) {
    let (Some(mailer), false) = (state.mailer.clone(), user.email.trim().is_empty()) else {
        return;
    };
    let Ok(to) = user.email.trim().parse::<lettre::message::Mailbox>() else {
        return;
    };
    let body = format!(
        "Someone failed to sign in to your {agency} account ({username}) {n} times in a row{from}, \
         so it is locked until {until}.\n\n\
         If that was you, wait and sign in again. If it was not, tell your administrator: the \
         audit log records each attempt and the address it came from.\n\n\
         This message was sent automatically.\n",
        agency = agency.name,
        username = user.username,
        n = accounts::MAX_FAILED_ATTEMPTS,
        from = ip
            .map(|a| format!(" (the last from {a})"))
            .unwrap_or_default(),
        until = crate::platform::clock::format_unix(until, agency.tz()),
    );
    let message = lettre::Message::builder()
        .from(mailer.sender(&agency.name))
        .to(to)
        .subject(format!("Your {} account was locked", agency.name))
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body);
    let Ok(message) = message else { return };
    tokio::spawn(async move {
        if let Err(e) = mailer.send(message).await {
            tracing::warn!("the account-locked notice could not be sent: {e}");
        }
    });
}

/// The session key of the warning the staff home shows once after a sign-in.
pub const SIGNIN_WARNING: &str = "signin_warning";

/// Records a completed sign-in, and leaves the owner a warning of the failed attempts on their
/// account since their last sign-in (the sign-in page told the person trying nothing).
pub(super) async fn complete(
    state: &AppState,
    session: &Session,
    agency: &Agency,
    user: &User,
    ip: Option<&str>,
    now: i64,
    mfa: bool,
) -> AppResult<()> {
    let since = user.last_sign_in_at.unwrap_or(user.created_at);
    let (failures, locked_at) =
        audit::failed_sign_ins_since(&state.db, agency.id, user.id, since).await?;
    if failures > 0 {
        let mut warning = if failures == 1 {
            "Since you last signed in, there was 1 failed attempt to sign in to your account"
                .to_string()
        } else {
            format!(
                "Since you last signed in, there were {failures} failed attempts to sign in to your account"
            )
        };
        if let Some(at) = locked_at {
            warning.push_str(&format!(
                ", and it was locked for {} minutes at {}",
                accounts::LOCKOUT_SECONDS / 60,
                crate::platform::clock::format_unix(at, agency.tz())
            ));
        }
        warning.push_str(". If that was not you, tell your administrator: the audit log records each attempt and where it came from.");
        session
            .insert(SIGNIN_WARNING, warning)
            .await
            .map_err(anyhow::Error::from)?;
    }
    let mut tx = state.db.begin().await?;
    accounts::record_sign_in(&mut tx, user, now).await?;
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(&user.actor(), "signin.success", format!("user:{}", user.id))
            .detail(serde_json::json!({"mfa": mfa}))
            .ip(ip),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Template)]
#[template(path = "platform/mfa.html")]
struct MfaPage<'a> {
    ctx: &'a Ctx,
    failed: bool,
}

pub async fn mfa_form(ctx: Ctx) -> AppResult<Response> {
    page(MfaPage {
        ctx: &ctx,
        failed: false,
    })
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    pub code: String,
}

pub async fn mfa_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Form(f): Form<CodeForm>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let user = ctx.require_user()?;
    let now = state.clock.unix();
    let ip = ctx.ip();
    if user.is_locked(now) {
        session.flush().await.map_err(anyhow::Error::from)?;
        return page(SignInPage {
            ctx: &ctx,
            username: &user.username,
            next: "",
            failure: Some(locked_message(&ctx, user.locked_until.unwrap_or(now), now)),
            notice: None,
        });
    }
    let step = user
        .totp_secret
        .as_deref()
        .and_then(|secret| mfa::check(secret, &f.code, now, user.totp_last_step));
    let Some(step) = step else {
        let locked = fail(
            &state,
            agency,
            user,
            "mfa.failure",
            "wrong code",
            ip.as_deref(),
            now,
        )
        .await?;
        if let Some(until) = locked {
            session.flush().await.map_err(anyhow::Error::from)?;
            return page(SignInPage {
                ctx: &ctx,
                username: &user.username,
                next: "",
                failure: Some(locked_message(&ctx, until, now)),
                notice: None,
            });
        }
        return page(MfaPage {
            ctx: &ctx,
            failed: true,
        });
    };
    let mut tx = state.db.begin().await?;
    accounts::use_totp_step(&mut tx, agency.id, user.id, step).await?;
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(&user.actor(), "mfa.success", format!("user:{}", user.id)).ip(ip.as_deref()),
    )
    .await?;
    tx.commit().await?;
    complete(&state, &session, agency, user, ip.as_deref(), now, true).await?;
    promote(&session, agency.id, user.id).await?;
    Ok(after_stage(&ctx, &session, Stage::Full).await)
}

/// Marks the session fully signed in, under a new id.
pub(super) async fn promote(session: &Session, agency_id: i64, user_id: i64) -> AppResult<()> {
    session.cycle_id().await.map_err(anyhow::Error::from)?;
    session
        .insert(
            AUTH_KEY,
            SessionAuth {
                agency_id,
                user_id,
                stage: Stage::Full,
            },
        )
        .await
        .map_err(anyhow::Error::from)?;
    Ok(())
}

pub async fn sign_out(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    if let Some(user) = ctx.user() {
        audit::record(
            &state.db,
            agency.id,
            state.clock.unix(),
            &Event::new(&user.actor(), "signout", format!("user:{}", user.id))
                .ip(ctx.ip().as_deref()),
        )
        .await?;
    }
    session.flush().await.map_err(anyhow::Error::from)?;
    Ok(Redirect::to(&format!("/{}", agency.slug)).into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_inside_the_agency() {
        assert_eq!(
            safe_next("/riverton/staff/users", "riverton"),
            "/riverton/staff/users"
        );
        assert_eq!(
            safe_next("https://evil.example", "riverton"),
            "/riverton/staff"
        );
        assert_eq!(safe_next("//evil.example", "riverton"), "/riverton/staff");
        assert_eq!(safe_next("/riverton//evil", "riverton"), "/riverton/staff");
        assert_eq!(safe_next("/rivertonx/staff", "riverton"), "/riverton/staff");
        assert_eq!(safe_next("/other/staff", "riverton"), "/riverton/staff");
        assert_eq!(safe_next("", "riverton"), "/riverton/staff");
    }
}
