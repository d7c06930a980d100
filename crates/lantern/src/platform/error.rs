//! One error type for every handler.
//!
//! A handler returns `Result<_, AppError>`. The error becomes a bare response carrying an
//! [`ErrorInfo`] extension; the outer error layer (`web::render_errors`) turns that into an HTML
//! page or, under `/api`, an `application/problem+json` document. Internal errors are logged
//! with a reference number and shown only as that number.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// What the request names does not exist (a record, a year with no data); the message
    /// says what, as the client named it.
    #[error("{0}")]
    NoSuch(String),
    /// No (valid) credentials: sign in, or send an API token.
    #[error("sign-in required")]
    Unauthenticated,
    /// Signed in, but the role does not allow this.
    #[error("not allowed")]
    Forbidden,
    /// Refused for a reason the person can act on (a stale form, say), shown as given.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    BadRequest(String),
    /// Path or query parameters that do not parse, each named as the client sent it.
    #[error("invalid parameters")]
    InvalidParams(Vec<FieldError>),
    /// The path exists but not with this method; carries the methods it takes (`Allow`).
    #[error("method not allowed")]
    MethodNotAllowed(String),
    /// Input that failed validation, field by field.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests")]
    RateLimited,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// One problem with one input field, named as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

/// What the error layer needs to render an error, attached to the bare response.
#[derive(Clone, Debug)]
pub struct ErrorInfo {
    pub status: StatusCode,
    /// Safe to show: never contains internal details.
    pub detail: String,
    /// The translation of `detail` for pages, when it is one of the standard texts.
    pub detail_key: Option<&'static str>,
    pub errors: Vec<FieldError>,
    /// Set for internal errors: the number that ties the page to the log line.
    pub reference: Option<String>,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound | AppError::NoSuch(_) => StatusCode::NOT_FOUND,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::Refused(_) => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) | AppError::InvalidParams(_) => StatusCode::BAD_REQUEST,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> AppError {
        AppError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut reference = None;
        let detail = match &self {
            AppError::NotFound => "The page or record you asked for does not exist.".to_string(),
            AppError::Unauthenticated => "Sign in, or send a valid API token.".to_string(),
            AppError::Forbidden => "Your role does not allow this.".to_string(),
            AppError::BadRequest(m)
            | AppError::Conflict(m)
            | AppError::Refused(m)
            | AppError::NoSuch(m) => m.clone(),
            AppError::Invalid(_) => "Some fields are not valid.".to_string(),
            AppError::InvalidParams(_) => "Some parameters are not valid.".to_string(),
            AppError::MethodNotAllowed(allow) => {
                format!("This address does not take that method; it takes {allow}.")
            }
            AppError::RateLimited => "Too many requests. Wait a minute and try again.".to_string(),
            AppError::Internal(e) => {
                let id = crate::platform::secrets::random_token(6);
                tracing::error!(reference = %id, error = ?e, "internal error");
                reference = Some(id);
                "Something went wrong on our side. It has been logged.".to_string()
            }
        };
        let detail_key = match &self {
            AppError::NotFound => Some("error.not_found_detail"),
            AppError::Unauthenticated => Some("error.unauthorized_detail"),
            AppError::Forbidden => Some("error.forbidden_detail"),
            AppError::Invalid(_) => Some("error.invalid_detail"),
            AppError::InvalidParams(_) => Some("error.bad_params_detail"),
            AppError::MethodNotAllowed(_) => Some("error.method_not_allowed_detail"),
            AppError::RateLimited => Some("error.rate_limited_detail"),
            AppError::Internal(_) => Some("error.internal_detail"),
            AppError::Refused(_)
            | AppError::BadRequest(_)
            | AppError::Conflict(_)
            | AppError::NoSuch(_) => None,
        };
        let allow = match &self {
            AppError::MethodNotAllowed(allow) => HeaderValue::from_str(allow).ok(),
            _ => None,
        };
        let errors = match self {
            AppError::Invalid(errors) | AppError::InvalidParams(errors) => errors,
            _ => Vec::new(),
        };
        let mut response = status.into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        response.extensions_mut().insert(ErrorInfo {
            status,
            detail,
            detail_key,
            errors,
            reference,
        });
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Adds context to internal errors in one call: `store.load().await.context("loading x")?`.
pub trait Context<T> {
    fn context(self, what: &'static str) -> AppResult<T>;
}

impl<T, E: Into<anyhow::Error>> Context<T> for Result<T, E> {
    fn context(self, what: &'static str) -> AppResult<T> {
        self.map_err(|e| AppError::Internal(e.into().context(what)))
    }
}
