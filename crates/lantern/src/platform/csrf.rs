//! CSRF tokens on every state-changing form.
//!
//! Each browser gets a random `lantern_csrf` cookie. The token a form carries is an HMAC of
//! that cookie under the deployment key, so a page on another site can neither read it nor
//! make one up, and a cookie planted from elsewhere is useless without the key. Every
//! POST/PUT/PATCH/DELETE outside `/api` (which uses bearer tokens, never cookies) must present
//! the token: as the `csrf` form field, the `X-CSRF-Token` header, or, for file uploads whose
//! body we do not buffer, the `csrf` query parameter of the form's action.
//!
//! The router also runs tower-http's Fetch-Metadata check, which refuses cross-site requests
//! from modern browsers before they get here.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::cookie::{Cookie, SameSite};

use crate::platform::error::AppError;
use crate::platform::secrets::{equal, random_token};
use crate::state::AppState;

pub const COOKIE: &str = "lantern_csrf";
pub const FIELD: &str = "csrf";
pub const HEADER: &str = "x-csrf-token";
/// Largest form body we buffer to find the token (file uploads use multipart and the query).
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// The token to put in this request's forms.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn form_field(query_or_body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(query_or_body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn expired() -> Response {
    AppError::Refused(
        "This form has expired or did not come from this site. Go back, reload the page and try again.".into(),
    )
    .into_response()
}

pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/api/") || path.starts_with("/static/") || path == "/healthz" {
        return next.run(req).await;
    }
    let seed = cookie_value(req.headers(), COOKIE).filter(|v| v.len() == 43);
    let fresh = seed.is_none();
    let seed = seed.unwrap_or_else(|| random_token(32));
    let token = state.key.sign("csrf", seed.as_bytes());

    let mut req = req;
    if is_unsafe(req.method()) {
        let mut presented = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                req.uri()
                    .query()
                    .and_then(|q| form_field(q.as_bytes(), FIELD))
            });
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if presented.is_none() && is_form {
            let (parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
                Ok(b) => b,
                Err(_) => {
                    return AppError::BadRequest("The form is too large.".into()).into_response();
                }
            };
            presented = form_field(&bytes, FIELD);
            req = Request::from_parts(parts, Body::from(bytes));
        }
        let valid = !fresh && presented.is_some_and(|p| equal(&p, &token));
        if !valid {
            tracing::info!(path = %req.uri().path(), "refused a request without a valid CSRF token");
            return expired();
        }
    }

    req.extensions_mut().insert(CsrfToken(token));
    let mut response = next.run(req).await;
    if fresh {
        let cookie = Cookie::build((COOKIE, seed))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(state.config.is_https())
            .build();
        if let Ok(v) = cookie.to_string().parse() {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cookies_and_fields() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; lantern_csrf=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h, COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie_value(&h, "c"), None);
        assert_eq!(form_field(b"x=1&csrf=a%2Bb", FIELD).as_deref(), Some("a+b"));
        assert_eq!(form_field(b"x=1", FIELD), None);
    }
}
