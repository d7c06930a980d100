//! The ceiling for the portal's load benchmark (bench/portal_load.sh): a plain axum page of
//! the same size as a portal page that touches no database, on the same runtime.

use axum::Router;
use axum::response::Html;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".into());
    // About the size of the stops page, so both send the same bytes.
    let page: &'static str = Box::leak("<p>ceiling</p>\n".repeat(6000).into_boxed_str());
    let app = Router::new().route("/", get(move || async move { Html(page) }));
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    axum::serve(listener, app).await
}
