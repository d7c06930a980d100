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
    /// Where post-contact invitations are sent from: e-mail, text messages, or neither (they
    /// then wait, and the staff page says why).
    pub delivery: DeliveryConfig,
}

/// Outgoing messages of post-contact surveys.
#[derive(Clone, Debug, Default)]
pub struct DeliveryConfig {
    /// `smtp://host:port` (plain, a relay on the same network), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host` (TLS from the start).
    pub smtp_url: Option<String>,
    /// The sender of invitation e-mails, e.g. `surveys@riverton.example.gov` or
    /// `Riverton Police <surveys@riverton.example.gov>`.
    pub mail_from: Option<String>,
    /// An SMS gateway's webhook: a form POST of `To` and `Body` (and `From` when set), with
    /// basic-auth credentials in the URL when the gateway wants them.
    pub sms_webhook_url: Option<String>,
    /// The sending number or sender id, passed as `From`.
    pub sms_from: Option<String>,
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
            delivery: DeliveryConfig::default(),
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
