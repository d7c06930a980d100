//! Shared page helpers below the slices: the request context, layout and error pages,
//! translations, number formatting, form helpers, SVG charts and static assets. Router
//! assembly is in `crate::app`, above the slices.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use crate::platform::error::AppError;

pub mod assets;
pub mod charts;
pub mod ctx;
pub mod errors;
pub mod extract;
pub mod fmt;
pub mod forms;
pub mod i18n;

/// Renders a template as an HTML page.
pub fn page<T: Template>(template: T) -> Result<Response, AppError> {
    Ok(Html(template.render()?).into_response())
}
