//! Runtime configuration: flags and `LANTERN_*` environment variables (parsed in `cli`),
//! gathered here so the web layer reads one struct.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Config {
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// The address people use to reach Lantern, e.g. `https://lantern.example.gov`. When it is
    /// https, cookies are marked Secure and responses carry HSTS.
    pub public_url: Option<String>,
    /// Take the client address from `X-Forwarded-For` (only behind a reverse proxy that sets it).
    pub trust_proxy: bool,
    /// Sign-in attempts allowed per client address in a burst, and how fast the allowance refills.
    pub signin_burst: u32,
    pub signin_refill: Duration,
    /// Survey submissions allowed per client address: a burst, then this many a minute.
    pub submit_burst: u32,
    pub submit_per_minute: u32,
    /// Sessions end after this long without a request (CJIS: 30 minutes).
    pub idle_timeout: Duration,
    /// Sessions end after this long whatever the activity.
    pub absolute_timeout: Duration,
}

impl Config {
    pub fn new(database_url: impl Into<String>) -> Config {
        Config {
            database_url: database_url.into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            trust_proxy: false,
            signin_burst: 10,
            signin_refill: Duration::from_secs(6),
            // Generous: a community event's visitors may share one address.
            submit_burst: 60,
            submit_per_minute: 30,
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 60 * 60),
        }
    }

    /// Served over TLS (as far as browsers see it): Secure cookies and HSTS.
    pub fn is_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// The base URL to print and to put in links that leave the browser (QR codes, e-mails).
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.bind),
        }
    }
}
