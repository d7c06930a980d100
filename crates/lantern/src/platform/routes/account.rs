//! One's own account: change password, set up two-step sign-in.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::signin::{CodeForm, complete, promote};
use crate::platform::accounts::{self, User};
use crate::platform::audit::{self, Event};
use crate::platform::error::{AppResult, FieldError};
use crate::platform::mfa;
use crate::platform::sessions::{self, AUTH_KEY, SessionAuth, Stage};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::forms::FormErrors;
use crate::web::page;

#[derive(Template)]
#[template(path = "platform/account.html")]
struct AccountPage<'a> {
    ctx: &'a Ctx,
    user: &'a User,
    errors: FormErrors,
    saved: bool,
}

async fn render(ctx: &Ctx, errors: FormErrors, saved: bool) -> AppResult<Response> {
    let user = ctx.require_user()?;
    page(AccountPage {
        ctx,
        user,
        errors,
        saved,
    })
}

pub async fn show(ctx: Ctx) -> AppResult<Response> {
    render(&ctx, FormErrors::default(), false).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Form(f): Form<PasswordForm>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let user = ctx.require_user()?;
    let now = state.clock.unix();
    let mut errors = Vec::new();
    if !accounts::verify_password(&f.current, &user.password_hash).await {
        errors.push(FieldError::new("current", "Current password is not right"));
    }
    if let Err(e) =
        accounts::check_password(&f.new, &[&user.username, &user.display_name, &agency.name])
    {
        errors.push(FieldError::new("new", format!("New password {e}")));
    } else if f.new != f.confirm {
        errors.push(FieldError::new(
            "confirm",
            "The two new passwords do not match",
        ));
    }
    if !errors.is_empty() {
        return render(&ctx, FormErrors(errors), false).await;
    }
    let hash = accounts::hash_password(&f.new).await?;
    let mut tx = state.db.begin().await?;
    accounts::set_password(&mut tx, agency.id, user.id, &hash, now).await?;
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(
            &user.actor(),
            "user.password_changed",
            format!("user:{}", user.id),
        )
        .ip(ctx.ip().as_deref()),
    )
    .await?;
    tx.commit().await?;
    // Sign out everywhere else; this session carries on under a new id.
    sessions::end_all_for_user(&state.db, agency.id, user.id).await?;
    promote(&session, agency.id, user.id).await?;
    render(&ctx, FormErrors::default(), true).await
}

#[derive(Template)]
#[template(path = "platform/mfa_enrol.html")]
struct EnrolPage<'a> {
    ctx: &'a Ctx,
    already_enabled: bool,
    required: bool,
    failed: bool,
    secret: String,
    qr_svg: String,
}

async fn enrol_page(
    state: &AppState,
    ctx: &Ctx,
    session: &Session,
    failed: bool,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let user = ctx.require_user()?;
    let stage = session
        .get::<SessionAuth>(AUTH_KEY)
        .await
        .ok()
        .flatten()
        .map(|a| a.stage);
    if user.mfa_enabled {
        return page(EnrolPage {
            ctx,
            already_enabled: true,
            required: false,
            failed,
            secret: String::new(),
            qr_svg: String::new(),
        });
    }
    // The pending secret survives a reload, so a half-finished scan still works.
    let secret = match &user.totp_secret {
        Some(s) => s.clone(),
        None => {
            let s = mfa::new_secret();
            accounts::set_pending_totp(&state.db, agency.id, user.id, &s).await?;
            s
        }
    };
    let issuer = format!("{} (Lantern)", agency.name);
    let url = mfa::otpauth_url(&secret, &issuer, &user.username)
        .ok_or_else(|| anyhow::anyhow!("could not build the otpauth URL"))?;
    let qr_svg = mfa::qr_svg(&url).ok_or_else(|| anyhow::anyhow!("could not draw the QR code"))?;
    page(EnrolPage {
        ctx,
        already_enabled: false,
        required: stage == Some(Stage::Enrol),
        failed,
        secret,
        qr_svg,
    })
}

pub async fn mfa_form(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
) -> AppResult<Response> {
    enrol_page(&state, &ctx, &session, false).await
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
    if user.mfa_enabled {
        return Ok(Redirect::to(&ctx.staff_url("/account")).into_response());
    }
    let step = user
        .totp_secret
        .as_deref()
        .and_then(|s| mfa::check(s, &f.code, now, None));
    let Some(step) = step else {
        return enrol_page(&state, &ctx, &session, true).await;
    };
    let mut tx = state.db.begin().await?;
    accounts::enable_mfa(&mut tx, agency.id, user.id, step).await?;
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(&user.actor(), "mfa.enrolled", format!("user:{}", user.id)).ip(ip.as_deref()),
    )
    .await?;
    tx.commit().await?;
    let stage = session
        .get::<SessionAuth>(AUTH_KEY)
        .await
        .ok()
        .flatten()
        .map(|a| a.stage);
    if stage == Some(Stage::Enrol) {
        complete(&state, &session, agency, user, ip.as_deref(), now, true).await?;
        promote(&session, agency.id, user.id).await?;
        let next: Option<String> = session.remove("next").await.ok().flatten();
        return Ok(Redirect::to(&next.unwrap_or_else(|| ctx.staff_url("/staff"))).into_response());
    }
    Ok(Redirect::to(&ctx.staff_url("/account")).into_response())
}
