//! The public portal's answers, kept in memory and validated by ETag.
//!
//! A public page changes only when the agency publishes or when its data changes. Each
//! agency's *version* (the newest publication and every topic's data version, with the
//! settings that change what pages say) is read at most once every [`VERSION_TTL`]. A page
//! rendered for the current version is kept with the ETag of its content: it is sent from
//! memory, and a conditional GET that names its tag is answered 304, neither touching the
//! database while the version is fresh. Publishing in this process forgets the agency's version at
//! once; another process (or an import) is seen within the TTL.
//!
//! Only anonymous GETs are cached (a signed-in person's pages carry their menu), only 200
//! answers, and never a cookie: the stored answer has its `Set-Cookie` headers removed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::platform::agencies;
use crate::platform::error::AppError;
use crate::publish::store;
use crate::state::AppState;
use crate::web::ctx::RequestMeta;

/// How long an agency's version is trusted before it is read again.
pub const VERSION_TTL: Duration = Duration::from_secs(5);
/// How long a rendered page is kept even when the version has not moved (agency settings,
/// district names and population figures change without a new version).
pub const PAGE_TTL: Duration = Duration::from_secs(300);
/// At most this many pages are kept; beyond it the oldest are dropped.
pub const MAX_PAGES: usize = 4096;
/// Pages above this size (a large download) are not kept.
pub const MAX_PAGE_BYTES: usize = 4 << 20;

struct Page {
    /// The version it was rendered for.
    version: String,
    etag: HeaderValue,
    headers: HeaderMap,
    body: Bytes,
    stored: Instant,
}

#[derive(Default)]
pub struct PortalCache {
    /// By agency slug: (version, when it was read).
    versions: Mutex<HashMap<String, (String, Instant)>>,
    /// By agency slug, language and address.
    pages: Mutex<HashMap<String, Arc<Page>>>,
}

impl AppState {
    pub fn portal_cache(&self) -> &PortalCache {
        self.part::<Arc<PortalCache>>()
    }
}

impl PortalCache {
    /// Forgets an agency's version and pages (when it publishes or changes its settings:
    /// `AppState::agency_changed`).
    pub fn forget(&self, slug: &str) {
        lock(&self.versions).remove(slug);
        lock(&self.pages).retain(|k, _| !k.starts_with(&format!("{slug} ")));
    }

    /// The agency's version: read from the database at most once per [`VERSION_TTL`].
    async fn version(&self, state: &AppState, slug: &str) -> Result<Option<String>, AppError> {
        if let Some((v, at)) = lock(&self.versions).get(slug)
            && at.elapsed() < VERSION_TTL
        {
            return Ok(Some(v.clone()));
        }
        let Some(agency) = agencies::by_slug(&state.db, slug).await? else {
            return Ok(None);
        };
        let publication = store::latest(&state.db, agency.id).await?;
        // The publication by its content too, not only its number: what it shows is what
        // the pages show.
        let published = publication.map_or_else(String::new, |p| {
            format!("{}/{}/{}", p.id, p.measures.join(","), p.years.join(","))
        });
        let mut v = format!("p{published}-t{}", agency.small_cell_threshold);
        for topic in state.measures().all() {
            v.push('-');
            v.push_str(&topic.version(state, &agency).await?);
        }
        lock(&self.versions).insert(slug.to_string(), (v.clone(), Instant::now()));
        Ok(Some(v))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The portal's public addresses: `/{agency}/data/…`, methodology, open data, the catalogue.
fn cacheable_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    let (slug, tail) = rest.split_once('/')?;
    let portal =
        tail.starts_with("data/") || matches!(tail, "methodology" | "open-data" | "data.json");
    portal.then_some(slug)
}

fn anonymous(req: &Request) -> bool {
    let cookies = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("lantern_session="));
    !cookies && !req.headers().contains_key(header::AUTHORIZATION)
}

/// The middleware: answers from memory where it can, else renders and keeps the answer.
pub async fn serve(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let slug = match cacheable_path(req.uri().path()) {
        Some(slug) if (method == Method::GET || method == Method::HEAD) && anonymous(&req) => {
            slug.to_string()
        }
        _ => return next.run(req).await,
    };
    let cache = state.portal_cache();
    let version = match cache.version(&state, &slug).await {
        Ok(Some(v)) => v,
        // An unknown agency, or a database error: the handlers answer as they would.
        _ => return next.run(req).await,
    };
    let lang = req
        .extensions()
        .get::<RequestMeta>()
        .map_or("en", |m| m.lang.code());
    let key = format!(
        "{slug} {lang} {}?{}",
        req.uri().path(),
        req.uri().query().unwrap_or("")
    );
    let stored = lock(&cache.pages)
        .get(&key)
        .filter(|p| p.version == version && p.stored.elapsed() < PAGE_TTL)
        .cloned();
    if let Some(page) = stored {
        let matches = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == page.etag.as_bytes());
        if matches {
            return not_modified(&page.etag);
        }
        return replay(&page, method == Method::HEAD);
    }
    let response = next.run(req).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // A streamed or large answer (a file of records) goes out as it is, not kept.
    let small = axum::body::HttpBody::size_hint(&body)
        .exact()
        .is_some_and(|n| n <= MAX_PAGE_BYTES as u64);
    if !small {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PAGE_BYTES).await else {
        return AppError::Internal(anyhow::anyhow!("a portal answer could not be read"))
            .into_response();
    };
    // The tag is the content's own, so a client's copy is current exactly when it matches.
    let etag = etag(&bytes);
    parts.headers.insert(header::ETAG, etag.clone());
    parts.headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    let mut kept = parts.headers.clone();
    kept.remove(header::SET_COOKIE);
    let page = Arc::new(Page {
        version,
        etag,
        headers: kept,
        body: bytes.clone(),
        stored: Instant::now(),
    });
    {
        let mut pages = lock(&cache.pages);
        if pages.len() >= MAX_PAGES {
            // Drop the oldest quarter: cheap, and rare at this size.
            let mut ages: Vec<(Instant, String)> =
                pages.iter().map(|(k, p)| (p.stored, k.clone())).collect();
            ages.sort();
            for (_, k) in ages.into_iter().take(MAX_PAGES / 4) {
                pages.remove(&k);
            }
        }
        pages.insert(key, page);
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn etag(body: &[u8]) -> HeaderValue {
    let hash = crate::platform::secrets::sha256_hex(body);
    HeaderValue::from_str(&format!("\"{}\"", &hash[..32])).expect("hex is a valid header value")
}

fn not_modified(etag: &HeaderValue) -> Response {
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    r.headers_mut().insert(header::ETAG, etag.clone());
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    r
}

fn replay(page: &Page, head: bool) -> Response {
    let body = if head {
        Body::empty()
    } else {
        Body::from(page.body.clone())
    };
    let mut r = Response::new(body);
    *r.headers_mut() = page.headers.clone();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_portal_addresses_are_cached() {
        assert_eq!(cacheable_path("/riverton/data/stops"), Some("riverton"));
        assert_eq!(
            cacheable_path("/riverton/data/stops/search_rate.csv"),
            Some("riverton")
        );
        assert_eq!(cacheable_path("/riverton/methodology"), Some("riverton"));
        assert_eq!(cacheable_path("/riverton/data.json"), Some("riverton"));
        assert_eq!(cacheable_path("/riverton/signin"), None);
        assert_eq!(cacheable_path("/riverton/staff/publish"), None);
        assert_eq!(cacheable_path("/riverton"), None);
        assert_eq!(cacheable_path("/api/v1/agency"), None);
    }
}
