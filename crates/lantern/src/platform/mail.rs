//! Outgoing e-mail: the deployment's SMTP server (`LANTERN_SMTP_URL`, `LANTERN_MAIL_FROM`),
//! shared by every slice that writes to people (survey invitations, account notices).

use std::time::Duration;

use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncTransport, Tokio1Executor};

use crate::platform::config::Config;
use crate::platform::db::redact_url;

/// A configured SMTP server and the sender address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The server's address with its password hidden, for staff pages and logs.
    shown: String,
}

fn public_host(config: &Config) -> Option<String> {
    config
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_string))
}

impl Mailer {
    /// The mailer the configuration names (`None`: no SMTP server is configured), or why it
    /// cannot be used.
    pub fn from_config(config: &Config) -> Result<Option<Mailer>, String> {
        let Some(smtp_url) = &config.delivery.smtp_url else {
            return Ok(None);
        };
        let shown = redact_url(smtp_url);
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url).map_err(|e| {
            format!("LANTERN_SMTP_URL {shown} cannot be used: {e} (use smtp://HOST:PORT, smtp://USER:PASS@HOST:587?tls=required or smtps://USER:PASS@HOST)")
        })?;
        let host = public_host(config);
        let mut builder = builder.timeout(Some(Duration::from_secs(20)));
        // EHLO names this server by its public host, unless the URL's path names it already.
        let named_in_url = url::Url::parse(smtp_url).is_ok_and(|u| u.path().len() > 1);
        if let (Some(h), false) = (&host, named_in_url) {
            builder = builder.hello_name(ClientId::Domain(h.clone()));
        }
        let from_text = config
            .delivery
            .mail_from
            .clone()
            .unwrap_or_else(|| format!("surveys@{}", host.as_deref().unwrap_or("localhost")));
        let from: Mailbox = from_text.parse().map_err(|e| {
            format!("LANTERN_MAIL_FROM {from_text:?} is not an e-mail address ({e})")
        })?;
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
            shown,
        }))
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The sender, with `name` (the agency's) when the configured address has none, so
    /// people see who writes.
    pub fn sender(&self, name: &str) -> Mailbox {
        match &self.from.name {
            Some(_) => self.from.clone(),
            None => Mailbox::new(Some(name.to_string()), self.from.email.clone()),
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), lettre::transport::smtp::Error> {
        self.transport.send(message).await.map(|_| ())
    }
}
