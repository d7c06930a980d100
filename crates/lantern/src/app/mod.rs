//! Router assembly and what belongs to no single slice: the slices' routes merged behind the
//! request layers, the server's life (background tasks, shutdown), and the pages that draw on
//! several slices (the deployment's index, the agency's home, the staff home, the API root).
//! This layer sits above the slices; nothing below it imports it.
//!
//! Request path, outermost first: tracing → security headers → error rendering → CSRF
//! (Fetch-Metadata) → the session → our CSRF tokens → the policy ([`policy::enforce`]) →
//! the handler. Before all of that, [`ctx::prepare`] takes the language segment out of the
//! path so one route serves both languages.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{from_fn, from_fn_with_state};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::platform::clock::Clock;
use crate::platform::config::Config;
use crate::platform::db::Db;
use crate::platform::error::AppError;
use crate::platform::sessions::DbSessionStore;
use crate::platform::{csrf, policy};
use crate::state::{AppState, SliceParts};
use crate::web::{assets, ctx, errors};

pub mod api;
pub mod home;
pub mod staff_home;

/// The application state with every slice's running parts started.
pub async fn state(db: Db, config: Config, clock: Clock) -> anyhow::Result<AppState> {
    let mut slices = SliceParts::default();
    slices.insert(crate::surveys::Runtime::start(&db, &config));
    let mut measures = crate::publish::Registry::default();
    measures.add(crate::transparency::measures::StopsTopic);
    measures.add(crate::surveys::measures::SurveysTopic);
    slices.insert(measures);
    let portal_cache = std::sync::Arc::new(crate::portal::cache::PortalCache::default());
    slices.insert(portal_cache.clone());
    slices.on_agency_change(move |slug| portal_cache.forget(slug));
    AppState::with_slices(db, config, clock, slices).await
}

/// The whole application as one router, ready to serve or to test with `oneshot`.
pub fn router(state: AppState) -> Router {
    let sessions = SessionManagerLayer::new(DbSessionStore::new(
        state.db.clone(),
        state.clock.clone(),
        state.config.idle_timeout,
        state.config.absolute_timeout,
    ))
    .with_name("lantern_session")
    .with_http_only(true)
    .with_same_site(SameSite::Lax)
    .with_secure(state.config.is_https())
    // The store ends idle sessions; the cookie itself lives until the browser closes.
    .with_expiry(Expiry::OnSessionEnd)
    // Every request of a signed-in person moves the idle deadline.
    .with_always_save(true);

    let app_routes = Router::new()
        .merge(home::router())
        .merge(staff_home::router())
        .merge(crate::platform::routes::router(&state))
        .merge(crate::surveys::router())
        .merge(api::router())
        .merge(crate::transparency::routes::router())
        .merge(crate::transparency::api::router())
        .merge(crate::portal::router())
        .route_layer(from_fn_with_state(state.clone(), policy::enforce))
        .layer(from_fn_with_state(state.clone(), csrf::protect))
        .layer(sessions);

    // Assets and the health check need no session, token or policy lookup.
    let plain_routes = Router::new()
        .route("/static/{file}", axum::routing::get(assets::serve))
        .route("/healthz", axum::routing::get(home::healthz));

    let routes = Router::new()
        .merge(app_routes)
        .merge(plain_routes)
        .fallback(|| async { AppError::NotFound })
        .layer(tower_http::csrf::CsrfLayer::new())
        .layer(from_fn(errors::render))
        // Outside the session, CSRF and policy layers: a page the portal has kept, or a
        // conditional GET it can answer 304, costs no database read.
        .layer(from_fn_with_state(
            state.clone(),
            crate::portal::cache::serve,
        ));
    let routes = with_security_headers(routes, state.config.is_https())
        .layer(TraceLayer::new_for_http())
        .with_state(state.clone());

    let prepared = ServiceBuilder::new()
        .map_request(ctx::prepare(state.config.trust_proxy))
        .service(routes);
    Router::new().fallback_service(prepared)
}

fn with_security_headers(router: Router<AppState>, https: bool) -> Router<AppState> {
    // No inline script or style anywhere; inline SVG (QR codes, charts) is markup, not script.
    const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                       base-uri 'none'";
    let router = router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(
                "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        // Pages may hold personal data: shared computers must not keep them.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    if https {
        router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        ))
    } else {
        router
    }
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    match crate::transparency::store::fail_interrupted_imports(&state.db, state.clock.unix()).await
    {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            imports = n,
            "stop imports interrupted by the last shutdown marked failed"
        ),
        Err(e) => tracing::warn!(error = %e, "could not check for interrupted stop imports"),
    }
    spawn_housekeeping(&state);
    crate::surveys::delivery::spawn_worker(state.clone());
    tokio::spawn(crate::surveys::cache::warm_up(state.clone()));
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

/// Periodic clean-up: expired sessions, and rate-limit entries of addresses gone quiet.
fn spawn_housekeeping(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) =
                crate::platform::sessions::purge_expired(&state.db, state.clock.unix()).await
            {
                tracing::warn!(error = %e, "could not purge expired sessions");
            }
            state.signin_limiter.limiter().retain_recent();
            state.surveys().housekeeping(state.clock.unix());
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
