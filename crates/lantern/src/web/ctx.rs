//! What a handler and its template know about the request: the agency, who is asking, the
//! language, the CSRF token. Built by the pre-routing step ([`prepare`]) and the policy
//! middleware, read by handlers as the [`Ctx`] extractor.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Uri, header};

use crate::platform::accounts::{Role, User};
use crate::platform::agencies::Agency;
use crate::platform::api_tokens::ApiToken;
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::policy::{Permission, allows};
use crate::web::i18n::{self, Lang};

/// Facts about the request found before routing.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub lang: Lang,
    /// The URL named the language (`/riverton/es/…`); links then keep naming it.
    pub lang_in_url: bool,
    /// The path as the browser sent it, language segment included.
    pub original_path: String,
    /// The query string as the browser sent it (without `?`), kept by the language switch.
    pub original_query: String,
    /// The client's address (from the proxy header only when configured to trust it).
    pub ip: Option<IpAddr>,
    /// The raw Cookie header, for the few cookies read outside sessions and CSRF.
    pub cookies: String,
}

impl RequestMeta {
    /// The value of one cookie.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

/// Who is asking.
#[derive(Clone, Debug)]
pub enum Principal {
    User(Arc<User>),
    Token(Arc<ApiToken>),
}

#[derive(Clone, Debug)]
pub struct Ctx {
    pub agency: Option<Arc<Agency>>,
    pub principal: Option<Principal>,
    pub meta: RequestMeta,
    pub csrf: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Ctx, AppError> {
        parts.extensions.get::<Ctx>().cloned().ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("no Ctx: the policy middleware did not run"))
        })
    }
}

impl Ctx {
    /// The agency of an agency route (every route under `/{agency}` and `/api` has one).
    pub fn agency(&self) -> Result<&Agency, AppError> {
        self.agency.as_deref().ok_or(AppError::NotFound)
    }

    pub fn user(&self) -> Option<&User> {
        match &self.principal {
            Some(Principal::User(u)) => Some(u),
            _ => None,
        }
    }

    /// The signed-in person, for handlers behind `Staff` rules.
    pub fn require_user(&self) -> Result<&User, AppError> {
        self.user().ok_or(AppError::Unauthenticated)
    }

    pub fn role(&self) -> Option<Role> {
        match &self.principal {
            Some(Principal::User(u)) => Some(u.role()),
            Some(Principal::Token(t)) => Some(t.role()),
            None => None,
        }
    }

    pub fn can(&self, permission: Permission) -> bool {
        self.role().is_some_and(|r| allows(r, permission))
    }

    pub fn actor(&self) -> Actor {
        match &self.principal {
            Some(Principal::User(u)) => u.actor(),
            Some(Principal::Token(t)) => t.actor(),
            None => Actor::Anonymous,
        }
    }

    pub fn ip(&self) -> Option<String> {
        self.meta.ip.map(|ip| ip.to_string())
    }

    pub fn lang(&self) -> Lang {
        self.meta.lang
    }

    pub fn t(&self, key: &str) -> &'static str {
        i18n::t(self.meta.lang, key)
    }

    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        i18n::tf(self.meta.lang, key, args)
    }

    pub fn slug(&self) -> &str {
        self.agency
            .as_deref()
            .map(|a| a.slug.as_str())
            .unwrap_or("")
    }

    /// A link inside the agency, keeping the language segment when the URL had one:
    /// `url("/signin")` → `/riverton/es/signin`.
    pub fn url(&self, path: &str) -> String {
        let lang = if self.meta.lang_in_url {
            format!("/{}", self.meta.lang.code())
        } else {
            String::new()
        };
        match self.agency.as_deref() {
            Some(a) if path.is_empty() || path == "/" => format!("/{}{}", a.slug, lang),
            Some(a) => format!("/{}{}{}", a.slug, lang, path),
            None => format!("{lang}{path}"),
        }
    }

    /// A staff link (staff pages are in English, so no language segment).
    pub fn staff_url(&self, path: &str) -> String {
        format!("/{}{}", self.slug(), path)
    }

    /// This page in the other language, with the same query string (a survey link's channel
    /// tag, a page's filters).
    pub fn switch_url(&self) -> String {
        let path = self.switch_path();
        if self.meta.original_query.is_empty() {
            path
        } else {
            format!("{path}?{}", self.meta.original_query)
        }
    }

    fn switch_path(&self) -> String {
        let path = &self.meta.original_path;
        let other = self.meta.lang.other().code();
        let (first, rest) = split_first(path);
        match first {
            None => format!("/{other}"),
            Some(seg) if Lang::from_code(seg).is_some() => format!("/{other}{rest}"),
            Some(seg) => {
                let (second, tail) = split_first(rest);
                match second {
                    Some(s) if Lang::from_code(s).is_some() => format!("/{seg}/{other}{tail}"),
                    _ => format!("/{seg}/{other}{rest}"),
                }
            }
        }
    }

    pub fn other_lang(&self) -> Lang {
        self.meta.lang.other()
    }

    pub fn css_url(&self) -> String {
        crate::web::assets::css_url()
    }

    /// The staff menu: only what this person's role may open.
    pub fn staff_nav(&self) -> Vec<NavLink> {
        let items: [(&str, &str, Option<Permission>); 11] = [
            ("/staff", "Staff home", Some(Permission::StaffArea)),
            (
                "/staff/surveys",
                "Surveys",
                Some(Permission::ViewSurveyResults),
            ),
            ("/staff/officers", "Officers", Some(Permission::ViewRoster)),
            ("/staff/stops", "Stops", Some(Permission::ViewStops)),
            ("/staff/publish", "Publish", Some(Permission::Publish)),
            ("/staff/users", "Accounts", Some(Permission::ManageUsers)),
            (
                "/staff/tokens",
                "API tokens",
                Some(Permission::ManageApiTokens),
            ),
            ("/staff/audit", "Audit log", Some(Permission::ViewAudit)),
            (
                "/staff/settings",
                "Settings",
                Some(Permission::ManageSettings),
            ),
            (
                "/account/surveys",
                "My surveys",
                Some(Permission::StaffArea),
            ),
            ("/account", "My account", Some(Permission::StaffArea)),
        ];
        let current = &self.meta.original_path;
        let matches = |href: &str, path: &str| {
            *current == href || (path != "/staff" && current.starts_with(&format!("{href}/")))
        };
        // The most specific matching entry is the current one ("My surveys" over "My account").
        let best = items
            .iter()
            .filter(|(path, _, p)| {
                p.is_none_or(|p| self.can(p)) && matches(&self.staff_url(path), path)
            })
            .map(|(path, _, _)| path.len())
            .max();
        let mut links: Vec<NavLink> = items
            .into_iter()
            .filter(|(_, _, p)| p.is_none_or(|p| self.can(p)))
            .map(|(path, label, _)| {
                let href = self.staff_url(path);
                NavLink {
                    current: matches(&href, path) && Some(path.len()) == best,
                    href,
                    label,
                }
            })
            .collect();
        links.push(NavLink {
            href: self.url(""),
            label: "Public site",
            current: false,
        });
        links
    }
}

/// One entry of a navigation menu.
#[derive(Clone, Debug)]
pub struct NavLink {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// Splits `/a/b/c` into `Some("a")` and `/b/c`.
fn split_first(path: &str) -> (Option<&str>, &str) {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    if trimmed.is_empty() {
        return (None, "");
    }
    match trimmed.find('/') {
        Some(i) => (Some(&trimmed[..i]), &trimmed[i..]),
        None => (Some(trimmed), ""),
    }
}

/// The step before routing: takes the language segment out of the path (so one route serves
/// both languages), drops a trailing slash, and records the client address.
pub fn prepare(trust_proxy: bool) -> impl Fn(Request) -> Request + Clone {
    move |mut req: Request| {
        let original_path = req.uri().path().to_string();
        let original_query = req.uri().query().unwrap_or("").to_string();
        let header_lang = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (path, url_lang) = strip_lang(&original_path);
        let mut path = path;
        if path.len() > 1 && path.ends_with('/') {
            path.pop();
        }
        if path != original_path {
            let new_uri = match req.uri().query() {
                Some(q) => format!("{path}?{q}"),
                None => path.clone(),
            };
            if let Ok(uri) = new_uri.parse::<Uri>() {
                *req.uri_mut() = uri;
            }
        }
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = if trust_proxy {
            req.headers()
                .get("x-forwarded-for")
                .and_then(first_forwarded)
        } else {
            None
        };
        let cookies = req
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("; ");
        let meta = RequestMeta {
            lang: url_lang.unwrap_or_else(|| Lang::negotiate(header_lang.as_deref())),
            lang_in_url: url_lang.is_some(),
            original_path,
            original_query,
            ip: forwarded.or(peer),
            cookies,
        };
        req.extensions_mut().insert(meta);
        req
    }
}

fn first_forwarded(v: &HeaderValue) -> Option<IpAddr> {
    v.to_str().ok()?.split(',').next()?.trim().parse().ok()
}

/// `/riverton/es/signin` → (`/riverton/signin`, Es); `/es` → (`/`, Es); others unchanged.
fn strip_lang(path: &str) -> (String, Option<Lang>) {
    let (first, rest) = split_first(path);
    match first {
        Some(seg) if Lang::from_code(seg).is_some() => {
            let rest = if rest.is_empty() { "/" } else { rest };
            (rest.to_string(), Lang::from_code(seg))
        }
        Some(seg) if seg != "api" && seg != "static" => {
            let (second, tail) = split_first(rest);
            match second.and_then(Lang::from_code) {
                Some(lang) => (format!("/{seg}{tail}"), Some(lang)),
                None => (path.to_string(), None),
            }
        }
        _ => (path.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_segments() {
        assert_eq!(
            strip_lang("/riverton/es/signin"),
            ("/riverton/signin".into(), Some(Lang::Es))
        );
        assert_eq!(
            strip_lang("/riverton/en"),
            ("/riverton".into(), Some(Lang::En))
        );
        assert_eq!(
            strip_lang("/riverton/signin"),
            ("/riverton/signin".into(), None)
        );
        assert_eq!(strip_lang("/es"), ("/".into(), Some(Lang::Es)));
        assert_eq!(strip_lang("/"), ("/".into(), None));
        assert_eq!(
            strip_lang("/api/v1/agency"),
            ("/api/v1/agency".into(), None)
        );
    }

    fn ctx(path: &str, lang: Lang, in_url: bool) -> Ctx {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        Ctx {
            agency: None,
            principal: None,
            meta: RequestMeta {
                lang,
                lang_in_url: in_url,
                original_path: path.into(),
                original_query: query.into(),
                ip: None,
                cookies: String::new(),
            },
            csrf: String::new(),
        }
    }

    #[test]
    fn switch_links() {
        assert_eq!(
            ctx("/riverton", Lang::En, false).switch_url(),
            "/riverton/es"
        );
        assert_eq!(
            ctx("/riverton/signin", Lang::En, false).switch_url(),
            "/riverton/es/signin"
        );
        assert_eq!(
            ctx("/riverton/es/signin", Lang::Es, true).switch_url(),
            "/riverton/en/signin"
        );
        assert_eq!(ctx("/", Lang::En, false).switch_url(), "/es");
        assert_eq!(ctx("/es", Lang::Es, true).switch_url(), "/en");
    }

    #[test]
    fn switch_links_keep_the_query() {
        assert_eq!(
            ctx("/riverton/s/abc123?src=qr", Lang::En, false).switch_url(),
            "/riverton/es/s/abc123?src=qr"
        );
        assert_eq!(
            ctx("/riverton/es/s/abc123?src=qr&x=1", Lang::Es, true).switch_url(),
            "/riverton/en/s/abc123?src=qr&x=1"
        );
    }
}
