//! Turns error responses into what the client reads: an HTML page in the visitor's language,
//! or `application/problem+json` (RFC 9457) under `/api`.

use askama::Template;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::platform::error::{ErrorInfo, FieldError};
use crate::web::ctx::{Ctx, RequestMeta};
use crate::web::forms::FormErrors;

#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorPage<'a> {
    ctx: &'a Ctx,
    heading: &'static str,
    detail: String,
    errors: FormErrors,
    reference: Option<String>,
    home: String,
}

fn heading_key(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "error.not_found",
        StatusCode::FORBIDDEN => "error.forbidden",
        StatusCode::UNAUTHORIZED => "error.unauthorized",
        StatusCode::TOO_MANY_REQUESTS => "error.rate_limited",
        s if s.is_server_error() => "error.internal",
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "error.bad_request",
        _ => "error.title",
    }
}

pub async fn render(req: Request, next: Next) -> Response {
    let meta = req
        .extensions()
        .get::<RequestMeta>()
        .cloned()
        .unwrap_or_default();
    let api = req.uri().path().starts_with("/api/");
    // Monitors read the health check's own short answer.
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let info = response.extensions().get::<ErrorInfo>().cloned();
    // Handlers that render their own error page (a form with its messages) keep it.
    if info.is_none() && (content_type.starts_with("text/html") || content_type.contains("json")) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let info = match info {
        // A handler may set another status on an error (415 for a wrong media type, say):
        // the document says what the client got.
        Some(i) => ErrorInfo { status, ..i },
        None => {
            // A rejection from axum or a layer: its text describes the input, never internals.
            let text = if status.is_server_error() {
                String::new()
            } else {
                match axum::body::to_bytes(body, 64 * 1024).await {
                    Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
                    Err(_) => String::new(),
                }
            };
            ErrorInfo {
                status,
                detail: text,
                detail_key: None,
                errors: Vec::new(),
                reference: None,
            }
        }
    };
    let mut out = if api {
        problem(&info)
    } else {
        html(&info, meta)
    };
    *out.status_mut() = status;
    for name in [header::WWW_AUTHENTICATE, header::RETRY_AFTER, header::ALLOW] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out.extensions_mut().extend(parts.extensions);
    out
}

/// An error under `/api`, as RFC 9457 describes it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Field-by-field problems with the input, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// Ties an internal error to the server's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

fn problem(info: &ErrorInfo) -> Response {
    let body = serde_json::to_vec(&Problem {
        kind: "about:blank".into(),
        title: info.status.canonical_reason().unwrap_or("Error").into(),
        status: info.status.as_u16(),
        detail: info.detail.clone(),
        errors: (!info.errors.is_empty()).then(|| info.errors.clone()),
        reference: info.reference.clone(),
    })
    .unwrap_or_default();
    let mut response = Body::from(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn html(info: &ErrorInfo, meta: RequestMeta) -> Response {
    let ctx = Ctx {
        agency: None,
        principal: None,
        meta,
        csrf: String::new(),
    };
    let heading = ctx.t(heading_key(info.status));
    let detail = match info.detail_key {
        Some(key) => ctx.t(key).to_string(),
        None => info.detail.clone(),
    };
    // The agency's home when the path names one, else the site's.
    let home = match ctx.meta.original_path.split('/').nth(1) {
        Some(first) if !first.is_empty() && !matches!(first, "api" | "static" | "en" | "es") => {
            format!("/{first}")
        }
        _ => "/".to_string(),
    };
    let page = ErrorPage {
        ctx: &ctx,
        heading,
        detail,
        errors: FormErrors(info.errors.clone()),
        reference: info.reference.clone(),
        home,
    };
    match page.render() {
        Ok(body) => Html(body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not render the error page");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response()
        }
    }
}
