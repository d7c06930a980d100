//! Authorization in one place.
//!
//! [`RULES`] lists every route of the application with who may use it; [`enforce`] runs on every
//! matched route, finds its rule by method and path pattern, resolves the agency, the signed-in
//! person or the API token, and either lets the request through with a [`Ctx`] or refuses it.
//! A route without a rule is refused for everyone (and logged), and the route × role test in
//! `tests/` walks this table, so a new route cannot ship without a decision about who sees it.

use std::sync::Arc;

use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::platform::accounts::{self, Role};
use crate::platform::agencies;
use crate::platform::api_tokens;
use crate::platform::error::AppError;
use crate::platform::sessions::{AUTH_KEY, SessionAuth, Stage};
use crate::state::AppState;
use crate::web::ctx::{Ctx, Principal, RequestMeta};

/// What a role may do. Routes name one permission; roles map to sets of them below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// The staff home and one's own account: every role.
    StaffArea,
    ManageUsers,
    ManageSettings,
    ManageApiTokens,
    /// Browse the audit log (itself audited).
    ViewAudit,
    /// The list of officers and units.
    ViewRoster,
    /// One officer's personnel record: restricted, every read audited.
    ViewPersonnel,
    /// Agency facts through the API.
    ReadAgency,
    /// Create, edit, publish and close surveys; review flagged responses; invite staff.
    ManageSurveys,
    /// Read survey results (officer and unit breakdowns included).
    ViewSurveyResults,
    /// Download individual responses.
    ExportSurveyData,
    /// Stop data analyses, import reports and their downloads.
    ViewStops,
    /// Import stop records and population benchmarks.
    ImportStops,
    /// Choose what the public portal shows, preview it and publish it.
    Publish,
}

/// The role × permission matrix.
pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        StaffArea | ReadAgency => true,
        ManageUsers | ManageSettings | ManageApiTokens | ViewAudit => role == Admin,
        ViewRoster => matches!(
            role,
            Admin | Analyst | Supervisor | Investigator | Oversight
        ),
        ViewPersonnel => matches!(role, Admin | Supervisor | Investigator),
        ManageSurveys | ExportSurveyData => matches!(role, Admin | Analyst),
        ViewSurveyResults => matches!(role, Admin | Analyst | Supervisor | Oversight),
        ViewStops => matches!(role, Admin | Analyst | Supervisor | Oversight),
        ImportStops | Publish => matches!(role, Admin | Analyst),
    }
}

/// Who may reach a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// A session whose password was accepted and whose TOTP code is due.
    MfaChallenge,
    /// A session that must enrol in MFA, or a fully signed-in one (enrolment is voluntary then).
    Enrolment,
    /// Any session of this agency, whatever its stage (signing out).
    AnySession,
    /// A fully signed-in person whose role has the permission.
    Staff(Permission),
    /// An API token of the agency whose role has the permission.
    Api(Permission),
}

#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub method: &'static str,
    /// The route pattern exactly as the router registers it.
    pub path: &'static str,
    pub access: Access,
}

const fn rule(method: &'static str, path: &'static str, access: Access) -> Rule {
    Rule {
        method,
        path,
        access,
    }
}

use Access::*;
use Permission::*;

/// Every route of the application.
pub const RULES: &[Rule] = &[
    // Deployment-level pages and assets.
    rule("GET", "/", Public),
    rule("GET", "/healthz", Public),
    rule("GET", "/static/{file}", Public),
    // The agency's public pages.
    rule("GET", "/{agency}", Public),
    // The audit chain's daily heads, published so copies can be kept outside the database.
    rule("GET", "/{agency}/audit-heads", Public),
    rule("GET", "/{agency}/audit-heads.json", Public),
    // The public portal: what the agency has published, its method and its open data.
    rule("GET", "/{agency}/data/{topic}", Public),
    rule("GET", "/{agency}/data/{topic}/{file}", Public),
    rule("GET", "/{agency}/methodology", Public),
    rule("GET", "/{agency}/open-data", Public),
    rule("GET", "/{agency}/about-data", Public),
    rule("GET", "/{agency}/report", Public),
    rule("GET", "/{agency}/report/{year}", Public),
    rule("GET", "/{agency}/data.json", Public),
    rule("GET", "/{agency}/staff/publish", Staff(Publish)),
    rule("POST", "/{agency}/staff/publish", Staff(Publish)),
    rule(
        "GET",
        "/{agency}/staff/publish/preview/{topic}",
        Staff(Publish),
    ),
    // Signing in and out.
    rule("GET", "/{agency}/signin", Public),
    rule("POST", "/{agency}/signin", Public),
    rule("GET", "/{agency}/signin/mfa", MfaChallenge),
    rule("POST", "/{agency}/signin/mfa", MfaChallenge),
    rule("POST", "/{agency}/signout", AnySession),
    // One's own account.
    rule("GET", "/{agency}/account", Staff(StaffArea)),
    rule("POST", "/{agency}/account/password", Staff(StaffArea)),
    rule("GET", "/{agency}/account/mfa", Enrolment),
    rule("POST", "/{agency}/account/mfa", Enrolment),
    // Staff pages.
    rule("GET", "/{agency}/staff", Staff(StaffArea)),
    rule("GET", "/{agency}/staff/users", Staff(ManageUsers)),
    rule("POST", "/{agency}/staff/users", Staff(ManageUsers)),
    rule("GET", "/{agency}/staff/users/{id}", Staff(ManageUsers)),
    rule("POST", "/{agency}/staff/users/{id}", Staff(ManageUsers)),
    rule("GET", "/{agency}/staff/settings", Staff(ManageSettings)),
    rule("POST", "/{agency}/staff/settings", Staff(ManageSettings)),
    rule("GET", "/{agency}/staff/tokens", Staff(ManageApiTokens)),
    rule("POST", "/{agency}/staff/tokens", Staff(ManageApiTokens)),
    rule(
        "POST",
        "/{agency}/staff/tokens/{id}/revoke",
        Staff(ManageApiTokens),
    ),
    rule("GET", "/{agency}/staff/audit", Staff(ViewAudit)),
    rule("GET", "/{agency}/staff/officers", Staff(ViewRoster)),
    rule("GET", "/{agency}/staff/officers/{id}", Staff(ViewPersonnel)),
    // Surveys: answering (public), staff pages, and staff members' own anonymous surveys.
    rule("GET", "/{agency}/s/{code}", Public),
    rule("POST", "/{agency}/s/{code}", Public),
    rule("GET", "/{agency}/s/{code}/thanks", Public),
    rule("GET", "/{agency}/s/{code}/qr.svg", Public),
    rule("GET", "/{agency}/s/{code}/qr.png", Public),
    rule("GET", "/{agency}/s/{code}/flyer", Public),
    rule("GET", "/{agency}/s/{code}/results", Public),
    rule("GET", "/{agency}/i/{token}", Public),
    rule("POST", "/{agency}/i/{token}", Public),
    rule("GET", "/{agency}/i/{token}/opt-out", Public),
    rule("POST", "/{agency}/i/{token}/opt-out", Public),
    rule("GET", "/{agency}/account/surveys", Staff(StaffArea)),
    rule("GET", "/{agency}/account/surveys/{id}", Staff(StaffArea)),
    rule("POST", "/{agency}/account/surveys/{id}", Staff(StaffArea)),
    rule("GET", "/{agency}/staff/surveys", Staff(ViewSurveyResults)),
    rule("POST", "/{agency}/staff/surveys", Staff(ManageSurveys)),
    rule(
        "POST",
        "/{agency}/staff/surveys/import",
        Staff(ManageSurveys),
    ),
    rule(
        "GET",
        "/{agency}/staff/surveys/{id}",
        Staff(ViewSurveyResults),
    ),
    rule(
        "POST",
        "/{agency}/staff/surveys/{id}/publish",
        Staff(ManageSurveys),
    ),
    rule(
        "POST",
        "/{agency}/staff/surveys/{id}/status",
        Staff(ManageSurveys),
    ),
    rule(
        "POST",
        "/{agency}/staff/surveys/{id}/options",
        Staff(ManageSurveys),
    ),
    rule(
        "GET",
        "/{agency}/staff/surveys/{id}/results",
        Staff(ViewSurveyResults),
    ),
    rule(
        "GET",
        "/{agency}/staff/surveys/{id}/export.csv",
        Staff(ExportSurveyData),
    ),
    rule(
        "GET",
        "/{agency}/staff/surveys/{id}/flagged",
        Staff(ManageSurveys),
    ),
    rule(
        "POST",
        "/{agency}/staff/surveys/{id}/flagged",
        Staff(ManageSurveys),
    ),
    rule(
        "GET",
        "/{agency}/staff/surveys/{id}/cards",
        Staff(ManageSurveys),
    ),
    rule(
        "GET",
        "/{agency}/staff/surveys/{id}/edit",
        Staff(ManageSurveys),
    ),
    rule(
        "POST",
        "/{agency}/staff/surveys/{id}/edit",
        Staff(ManageSurveys),
    ),
    rule(
        "GET",
        "/{agency}/staff/surveys/{id}/preview",
        Staff(ManageSurveys),
    ),
    rule(
        "POST",
        "/{agency}/staff/surveys/{id}/staff-invitations",
        Staff(ManageSurveys),
    ),
    // Post-contact invitations: contact events (with phone and e-mail) are for survey managers.
    rule(
        "GET",
        "/{agency}/staff/surveys/{id}/contacts",
        Staff(ManageSurveys),
    ),
    rule(
        "POST",
        "/{agency}/staff/surveys/{id}/contacts",
        Staff(ManageSurveys),
    ),
    rule(
        "POST",
        "/{agency}/staff/surveys/{id}/contacts/deliver",
        Staff(ManageSurveys),
    ),
    rule(
        "POST",
        "/{agency}/staff/surveys/{id}/contacts/retry",
        Staff(ManageSurveys),
    ),
    rule(
        "GET",
        "/{agency}/staff/settings/post-contact",
        Staff(ManageSettings),
    ),
    rule(
        "POST",
        "/{agency}/staff/settings/post-contact",
        Staff(ManageSettings),
    ),
    // Transparency: stop data.
    rule("GET", "/{agency}/staff/stops", Staff(ViewStops)),
    rule("POST", "/{agency}/staff/stops/imports", Staff(ImportStops)),
    rule(
        "GET",
        "/{agency}/staff/stops/imports/{id}",
        Staff(ViewStops),
    ),
    rule("GET", "/{agency}/staff/stops/analysis", Staff(ViewStops)),
    rule("GET", "/{agency}/staff/stops/darkness", Staff(ViewStops)),
    rule(
        "GET",
        "/{agency}/staff/stops/export/{file}",
        Staff(ViewStops),
    ),
    // The JSON API.
    rule("GET", "/api/v1/openapi.json", Public),
    rule("GET", "/api/v1/agency", Api(ReadAgency)),
    rule("GET", "/api/v1/officers", Api(ViewRoster)),
    rule("GET", "/api/v1/surveys", Api(ViewSurveyResults)),
    rule(
        "GET",
        "/api/v1/surveys/{id}/results",
        Api(ViewSurveyResults),
    ),
    rule(
        "GET",
        "/api/v1/surveys/{id}/responses",
        Api(ExportSurveyData),
    ),
    rule("GET", "/api/v1/stops/analysis", Api(ViewStops)),
    rule("GET", "/api/v1/stops/darkness", Api(ViewStops)),
    rule("POST", "/api/v1/stops/imports", Api(ImportStops)),
    rule("GET", "/api/v1/stops/imports/{id}", Api(ViewStops)),
    rule("POST", "/api/v1/contacts", Api(ManageSurveys)),
];

/// The rule for a request; HEAD is answered like GET.
pub fn rule_for(method: &Method, path: &str) -> Option<&'static Rule> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    RULES.iter().find(|r| r.method == method && r.path == path)
}

/// The methods a route pattern takes, for `Allow`; GET brings HEAD.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = RULES
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method)
        .collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods
}

/// Marks a response as a refusal by the policy (tests read it; clients never see it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denied;

fn denied(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(Denied);
    response
}

/// Sends a person without the right session to the page that gets them one. `expired` says a
/// session cookie came with the request but no live session: the sign-in page explains.
fn to_sign_in(
    method: &Method,
    agency_slug: &str,
    meta: &RequestMeta,
    stage: Option<Stage>,
    expired: bool,
) -> Response {
    let target = match stage {
        Some(Stage::Mfa) => format!("/{agency_slug}/signin/mfa"),
        Some(Stage::Enrol) => format!("/{agency_slug}/account/mfa"),
        _ if method == Method::GET => {
            let next: String =
                form_urlencoded::byte_serialize(meta.original_path.as_bytes()).collect();
            let expired = if expired { "&expired=1" } else { "" };
            format!("/{agency_slug}/signin?next={next}{expired}")
        }
        _ => return denied(AppError::Unauthenticated),
    };
    denied(Redirect::to(&target))
}

/// The middleware that applies [`RULES`]; see the module comment.
pub async fn enforce(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    params: RawPathParams,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(matched) = matched else {
        return next.run(req).await;
    };
    let Some(rule) = rule_for(req.method(), matched.as_str()) else {
        // The path is known, but not with this method (DELETE on a page, say): a client's
        // mistake, answered 405 with what the path takes.
        let allow = allowed_methods(matched.as_str());
        if !allow.is_empty() {
            return AppError::MethodNotAllowed(allow.join(", ")).into_response();
        }
        tracing::error!(method = %req.method(), path = matched.as_str(), "route has no authorization rule");
        return denied(AppError::Forbidden);
    };
    let meta = req
        .extensions()
        .get::<RequestMeta>()
        .cloned()
        .unwrap_or_default();

    let agency = match params.iter().find(|(name, _)| *name == "agency") {
        Some((_, slug)) => match agencies::by_slug(&state.db, slug).await {
            Ok(Some(a)) => Some(Arc::new(a)),
            Ok(None) => return AppError::NotFound.into_response(),
            Err(e) => return AppError::from(e).into_response(),
        },
        None => None,
    };

    // A session counts only for the agency it was opened in.
    let auth = match session.get::<SessionAuth>(AUTH_KEY).await {
        Ok(auth) => auth.filter(|a| agency.as_ref().is_some_and(|ag| ag.id == a.agency_id)),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable session");
            None
        }
    };
    let user = match auth {
        Some(a) => match accounts::get(&state.db, a.agency_id, a.user_id).await {
            Ok(Some(u)) if u.active => Some(Arc::new(u)),
            Ok(_) => {
                // Deactivated or removed since signing in: the session ends now.
                let _ = session.flush().await;
                None
            }
            Err(e) => return AppError::from(e).into_response(),
        },
        None => None,
    };
    let stage = auth.filter(|_| user.is_some()).map(|a| a.stage);
    let slug = agency.as_ref().map(|a| a.slug.clone()).unwrap_or_default();
    let expired = user.is_none()
        && req
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains("lantern_session=")));

    let principal = match rule.access {
        Public => match (stage, &user) {
            (Some(Stage::Full), Some(u)) => Some(Principal::User(u.clone())),
            _ => None,
        },
        MfaChallenge => match (stage, &user) {
            (Some(Stage::Mfa), Some(u)) => Some(Principal::User(u.clone())),
            _ => return to_sign_in(req.method(), &slug, &meta, None, expired),
        },
        Enrolment => match (stage, &user) {
            (Some(Stage::Enrol | Stage::Full), Some(u)) => Some(Principal::User(u.clone())),
            _ => return to_sign_in(req.method(), &slug, &meta, stage, expired),
        },
        AnySession => match &user {
            Some(u) => Some(Principal::User(u.clone())),
            None => return to_sign_in(req.method(), &slug, &meta, None, expired),
        },
        Staff(permission) => match (stage, &user) {
            (Some(Stage::Full), Some(u)) if allows(u.role(), permission) => {
                Some(Principal::User(u.clone()))
            }
            (Some(Stage::Full), Some(_)) => return denied(AppError::Forbidden),
            _ => return to_sign_in(req.method(), &slug, &meta, stage, expired),
        },
        Api(permission) => {
            let presented = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            let token = match presented {
                Some(p) => match api_tokens::authenticate(&state.db, p, state.clock.unix()).await {
                    Ok(t) => t,
                    Err(e) => return AppError::from(e).into_response(),
                },
                None => None,
            };
            let Some(token) = token else {
                let mut response = denied(AppError::Unauthenticated);
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            };
            if agency.as_ref().is_some_and(|a| a.id != token.agency_id)
                || !allows(token.role(), permission)
            {
                return denied(AppError::Forbidden);
            }
            Some(Principal::Token(Arc::new(token)))
        }
    };

    // API requests act for the token's agency.
    let agency = match (&agency, &principal) {
        (None, Some(Principal::Token(t))) => match agencies::by_id(&state.db, t.agency_id).await {
            Ok(a) => a.map(Arc::new),
            Err(e) => return AppError::from(e).into_response(),
        },
        _ => agency,
    };

    let csrf = req
        .extensions()
        .get::<crate::platform::csrf::CsrfToken>()
        .map(|t| t.0.clone())
        .unwrap_or_default();
    req.extensions_mut().insert(Ctx {
        agency,
        principal,
        meta,
        csrf,
    });
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_unique() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "duplicate rule {} {}",
                    a.method,
                    a.path
                );
            }
        }
    }

    #[test]
    fn admin_has_every_permission_and_staff_only_the_basics() {
        let all = [
            StaffArea,
            ManageUsers,
            ManageSettings,
            ManageApiTokens,
            ViewAudit,
            ViewRoster,
            ViewPersonnel,
            ReadAgency,
            ManageSurveys,
            ViewSurveyResults,
            ExportSurveyData,
            ViewStops,
            ImportStops,
        ];
        assert!(all.iter().all(|p| allows(Role::Admin, *p)));
        let staff: Vec<Permission> = all
            .into_iter()
            .filter(|p| allows(Role::Staff, *p))
            .collect();
        assert_eq!(staff, [StaffArea, ReadAgency]);
    }

    #[test]
    fn head_follows_get() {
        assert!(rule_for(&Method::HEAD, "/healthz").is_some());
        assert!(rule_for(&Method::DELETE, "/healthz").is_none());
        assert_eq!(allowed_methods("/healthz"), ["GET", "HEAD"]);
        assert_eq!(allowed_methods("/{agency}/signin"), ["GET", "POST", "HEAD"]);
        assert!(allowed_methods("/nowhere").is_empty());
    }
}
