//! Static assets, embedded in the binary and served under a name that carries their content
//! hash, so browsers may cache them for a year and still never see a stale copy.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::platform::error::AppError;

const CSS: &str = include_str!("static/lantern.css");

fn css_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let hash = crate::platform::secrets::sha256_hex(CSS.as_bytes());
        format!("lantern-{}.css", &hash[..12])
    })
}

pub fn css_url() -> String {
    format!("/static/{}", css_name())
}

pub async fn serve(Path(file): Path<String>) -> Result<Response, AppError> {
    if file != css_name() {
        return Err(AppError::NotFound);
    }
    let mut response = CSS.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}
