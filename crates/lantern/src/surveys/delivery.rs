//! Post-contact delivery: the agency's delivery settings, the two ways out (SMTP e-mail and an
//! SMS gateway's webhook), and the pass that sends waiting invitations, sends one reminder,
//! marks expired links and erases contact details after the retention period.
//!
//! A pass runs every 30 seconds in the server (and at once after an import), or from cron
//! with `lantern surveys deliver`. Before a message goes out its invitation is claimed
//! (`claimed_at`, a ten-minute lease), so two passes, in one process or two, never send the
//! same message twice; a pass that dies mid-way leaves a lease that simply runs out. The link
//! in a message is derived from the invitation (`links::invitation_token`), so a retry or the
//! reminder carries the same link and nothing but its hash is stored.
//!
//! A failure never stops the pass: a permanent one (an address the server refuses, a gateway
//! answering 4xx) marks the invitation failed with the error, for staff to see and retry; a
//! passing one (the server unreachable, 4xx SMTP replies, 5xx from the gateway) leaves it
//! waiting, with the error, for the next pass after the lease.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use serde::Serialize;
use tokio::sync::{Mutex, Notify};
use tokio_rustls::rustls;

use super::links;
use crate::on_db;
use crate::platform::agencies::{self, Agency};
use crate::platform::audit::{self, Actor, Event};
use crate::platform::config::Config;
use crate::platform::db::{Db, redact_url};
use crate::platform::error::FieldError;
use crate::platform::mail::Mailer;
use crate::state::AppState;
use crate::web::i18n::{self, Lang};

const DAY: i64 = 86_400;
/// How long a claim on an invitation holds before another pass may try it again.
const LEASE: i64 = 600;
/// Invitations one query takes; a pass repeats until the backlog is done.
const BATCH: i64 = 200;
/// How often the server's worker runs a pass.
pub const INTERVAL: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Settings

/// An agency's delivery rules, edited by an admin under Settings → Post-contact surveys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Call types never invited: a call type containing one of these (ignoring case) is
    /// excluded, so "Domestic violence - in progress" is caught by "domestic violence".
    pub excluded_call_types: Vec<String>,
    /// Days a link works after its message is sent.
    pub expiry_days: i64,
    /// Days after the first message that one reminder goes to those who have not answered
    /// (0: no reminder).
    pub reminder_days: i64,
    /// Days phone numbers and e-mail addresses are kept after they arrive.
    pub retention_days: i64,
    /// Days within which the same person is not invited again (0: no limit).
    pub dedupe_days: i64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            excluded_call_types: vec!["Domestic violence".into(), "Sexual assault".into()],
            expiry_days: 14,
            reminder_days: 3,
            retention_days: 30,
            dedupe_days: 90,
        }
    }
}

fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl Settings {
    /// Whether contacts of this call type are never invited.
    pub fn excludes(&self, call_type: &str) -> bool {
        let call_type = fold(call_type);
        self.excluded_call_types.iter().any(|x| {
            let x = fold(x);
            !x.is_empty() && call_type.contains(&x)
        })
    }

    /// The excluded call types as the settings form shows them, one per line.
    pub fn excluded_text(&self) -> String {
        self.excluded_call_types.join("\n")
    }

    /// Reads the form's list: one call type per line, blanks and repeats dropped.
    pub fn parse_excluded(text: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for line in text.lines() {
            let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
            if !line.is_empty() && !out.iter().any(|x| fold(x) == fold(&line)) {
                out.push(line);
            }
        }
        out
    }

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.excluded_call_types.len() > 100
            || self
                .excluded_call_types
                .iter()
                .any(|x| x.chars().count() > 120)
        {
            errors.push(FieldError::new(
                "excluded_call_types",
                "List at most 100 call types of at most 120 characters each",
            ));
        }
        if !(1..=90).contains(&self.expiry_days) {
            errors.push(FieldError::new(
                "expiry_days",
                "Links must work for 1 to 90 days",
            ));
        }
        if self.reminder_days < 0
            || (self.reminder_days > 0 && self.reminder_days >= self.expiry_days)
        {
            errors.push(FieldError::new(
                "reminder_days",
                "The reminder must come before the link expires (or enter 0 for no reminder)",
            ));
        }
        if !(1..=365).contains(&self.retention_days) {
            errors.push(FieldError::new(
                "retention_days",
                "Contact details must be erased after 1 to 365 days",
            ));
        } else if self.retention_days < self.expiry_days {
            errors.push(FieldError::new(
                "retention_days",
                "Keep contact details at least as long as links work, or reminders cannot be sent",
            ));
        }
        if !(0..=365).contains(&self.dedupe_days) {
            errors.push(FieldError::new(
                "dedupe_days",
                "The dedupe window must be 0 to 365 days",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The agency's settings, or the defaults while it has saved none.
pub async fn settings(db: &Db, agency_id: i64) -> Result<Settings, sqlx::Error> {
    let row: Option<(String, i64, i64, i64, i64)> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT excluded_call_types, expiry_days, reminder_days, retention_days, dedupe_days \
             FROM delivery_settings WHERE agency_id = $1",
        )
        .bind(agency_id)
        .fetch_optional(pool)
        .await
    })?;
    Ok(match row {
        Some((excluded, expiry_days, reminder_days, retention_days, dedupe_days)) => Settings {
            excluded_call_types: Settings::parse_excluded(&excluded),
            expiry_days,
            reminder_days,
            retention_days,
            dedupe_days,
        },
        None => Settings::default(),
    })
}

/// Saves the settings and records what changed, in one transaction. Returns the changed fields.
pub async fn save_settings(
    db: &Db,
    agency: &Agency,
    new: &Settings,
    actor: &Actor,
    ip: Option<&str>,
    now: i64,
) -> Result<Result<Vec<String>, Vec<FieldError>>, sqlx::Error> {
    if let Err(errors) = new.validate() {
        return Ok(Err(errors));
    }
    let old = settings(db, agency.id).await?;
    let old_json = serde_json::to_value(&old).expect("settings serialise");
    let new_json = serde_json::to_value(new).expect("settings serialise");
    let mut changed = serde_json::Map::new();
    if let (serde_json::Value::Object(o), serde_json::Value::Object(n)) = (&old_json, &new_json) {
        for (k, v) in n {
            if o.get(k) != Some(v) {
                changed.insert(k.clone(), serde_json::json!([o.get(k), v]));
            }
        }
    }
    if changed.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let mut tx = db.begin().await?;
    crate::on_tx!(&mut tx, |c| {
        sqlx::query(
            "INSERT INTO delivery_settings (agency_id, excluded_call_types, expiry_days, reminder_days, retention_days, dedupe_days, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (agency_id) DO UPDATE SET \
             excluded_call_types = excluded.excluded_call_types, expiry_days = excluded.expiry_days, \
             reminder_days = excluded.reminder_days, retention_days = excluded.retention_days, \
             dedupe_days = excluded.dedupe_days, updated_at = excluded.updated_at",
        )
        .bind(agency.id)
        .bind(new.excluded_text())
        .bind(new.expiry_days)
        .bind(new.reminder_days)
        .bind(new.retention_days)
        .bind(new.dedupe_days)
        .bind(now)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    let fields = changed.keys().cloned().collect();
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(
            actor,
            "settings.changed",
            format!("agency:{}:post-contact", agency.slug),
        )
        .detail(serde_json::Value::Object(changed))
        .ip(ip),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(fields))
}

// ---------------------------------------------------------------------------------------------
// Transports

/// What a failed send means for the invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Will not work on a retry as things stand (a refused address, a gateway's 4xx).
    Permanent(String),
    /// May work later (the server unreachable, busy or timing out).
    Transient(String),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Permanent(m) | SendError::Transient(m) => f.write_str(m),
        }
    }
}

struct Sms {
    /// The webhook without its credentials.
    url: url::Url,
    /// `Basic …`, from the credentials the URL carried.
    authorization: Option<String>,
    from: Option<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
    shown: String,
}

/// The configured ways out. A channel without one keeps its invitations waiting.
pub struct Transports {
    mail: Option<Mailer>,
    sms: Option<Sms>,
    /// A configuration that could not be used, shown on the staff page.
    pub problems: Vec<String>,
}

/// `List-Unsubscribe`: mail programs show an unsubscribe button that opens the opt-out page.
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!(
            "no trusted root certificates found on this system: https SMS webhooks will fail"
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn sms_of(config: &Config) -> Result<Option<Sms>, String> {
    let Some(raw) = &config.delivery.sms_webhook_url else {
        return Ok(None);
    };
    let shown = redact_url(raw);
    let mut url = url::Url::parse(raw)
        .map_err(|e| format!("LANTERN_SMS_WEBHOOK_URL {shown} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "LANTERN_SMS_WEBHOOK_URL {shown} must be an http:// or https:// address"
        ));
    }
    let authorization = if url.username().is_empty() && url.password().is_none() {
        None
    } else {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let pair = format!(
            "{}:{}",
            decode(url.username()),
            decode(url.password().unwrap_or(""))
        );
        use base64::Engine as _;
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ))
    };
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let tls = (url.scheme() == "https").then(tls_config);
    Ok(Some(Sms {
        url,
        authorization,
        from: config.delivery.sms_from.clone(),
        tls,
        shown,
    }))
}

impl Transports {
    pub fn from_config(config: &Config) -> Transports {
        let mut problems = Vec::new();
        let mail = Mailer::from_config(config).unwrap_or_else(|e| {
            problems.push(e);
            None
        });
        let sms = sms_of(config).unwrap_or_else(|e| {
            problems.push(e);
            None
        });
        for p in &problems {
            tracing::error!("{p}");
        }
        Transports {
            mail,
            sms,
            problems,
        }
    }

    /// Refuses a configuration that cannot work, before the server starts.
    pub fn check(config: &Config) -> anyhow::Result<()> {
        Mailer::from_config(config).map_err(anyhow::Error::msg)?;
        sms_of(config).map_err(anyhow::Error::msg)?;
        Ok(())
    }

    pub fn has(&self, channel: &str) -> bool {
        match channel {
            "email" => self.mail.is_some(),
            "sms" => self.sms.is_some(),
            _ => false,
        }
    }

    /// Where each channel goes, for the staff page (passwords hidden).
    pub fn describe(&self, channel: &str) -> Option<String> {
        match channel {
            "email" => self
                .mail
                .as_ref()
                .map(|m| format!("{} as {}", m.shown(), m.from())),
            "sms" => self.sms.as_ref().map(|s| s.shown.clone()),
            _ => None,
        }
    }

    async fn send(&self, agency_name: &str, m: &Outgoing) -> Result<(), SendError> {
        match m.channel {
            "email" => {
                let mail = self
                    .mail
                    .as_ref()
                    .ok_or_else(|| SendError::Transient("no mail server is configured".into()))?;
                send_mail(mail, agency_name, m).await
            }
            _ => {
                let sms = self
                    .sms
                    .as_ref()
                    .ok_or_else(|| SendError::Transient("no SMS gateway is configured".into()))?;
                send_sms(sms, m).await
            }
        }
    }
}

async fn send_mail(mail: &Mailer, agency_name: &str, m: &Outgoing) -> Result<(), SendError> {
    let to: Mailbox =
        m.to.parse()
            .map_err(|e| SendError::Permanent(format!("not an e-mail address: {e}")))?;
    let message = Message::builder()
        .from(mail.sender(agency_name))
        .to(to)
        .subject(m.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .header(ListUnsubscribe(m.opt_out.clone()))
        .body(m.body.clone())
        .map_err(|e| SendError::Permanent(format!("the message cannot be built: {e}")))?;
    match mail.send(message).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(SendError::Permanent(format!(
            "the mail server refused it: {e}"
        ))),
        Err(e) => Err(SendError::Transient(format!("mail server: {e}"))),
    }
}

async fn send_sms(sms: &Sms, m: &Outgoing) -> Result<(), SendError> {
    let body = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("To", &m.to);
        if let Some(from) = &sms.from {
            form.append_pair("From", from);
        }
        form.append_pair("Body", &m.body);
        form.finish()
    };
    match tokio::time::timeout(Duration::from_secs(20), post_form(sms, body)).await {
        Err(_) => Err(SendError::Transient(
            "SMS gateway: no answer within 20 s".into(),
        )),
        Ok(Err(e)) => Err(SendError::Transient(format!("SMS gateway: {e}"))),
        Ok(Ok((status, text))) if status.is_success() => {
            let _ = text;
            Ok(())
        }
        Ok(Ok((status, text))) => {
            let excerpt: String = text.chars().take(200).collect();
            let message = format!("SMS gateway answered {status}: {}", excerpt.trim());
            if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
                Err(SendError::Transient(message))
            } else {
                Err(SendError::Permanent(message))
            }
        }
    }
}

/// One form POST over HTTP/1.1, plain or TLS.
async fn post_form(sms: &Sms, body: String) -> anyhow::Result<(hyper::StatusCode, String)> {
    let host = sms.url.host_str().unwrap_or_default().to_string();
    let port = sms.url.port_or_known_default().unwrap_or(80);
    let mut target = sms.url.path().to_string();
    if let Some(q) = sms.url.query() {
        target.push('?');
        target.push_str(q);
    }
    let authority = match sms.url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let mut request = hyper::Request::post(target)
        .header(hyper::header::HOST, authority)
        .header(
            hyper::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(hyper::header::USER_AGENT, "Lantern");
    if let Some(auth) = &sms.authorization {
        request = request.header(hyper::header::AUTHORIZATION, auth);
    }
    let request = request.body(Full::new(bytes::Bytes::from(body)))?;
    let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)).await?;
    match &sms.tls {
        Some(config) => {
            let name =
                rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())?;
            let stream = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await?;
            exchange(TokioIo::new(stream), request).await
        }
        None => exchange(TokioIo::new(tcp), request).await,
    }
}

async fn exchange<IO>(
    io: IO,
    request: hyper::Request<Full<bytes::Bytes>>,
) -> anyhow::Result<(hyper::StatusCode, String)>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    let driver = tokio::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    driver.abort();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

// ---------------------------------------------------------------------------------------------
// Messages

/// One message to send.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub channel: &'static str,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub opt_out: String,
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_ES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// A date as people write it: "June 15, 2026", "15 de junio de 2026".
fn long_date(unix: i64, tz: chrono_tz::Tz, lang: Lang) -> String {
    use chrono::Datelike;
    let Some(t) = chrono::DateTime::from_timestamp(unix, 0) else {
        return String::new();
    };
    let d = t.with_timezone(&tz).date_naive();
    let m = d.month0() as usize;
    match lang {
        Lang::En => format!("{} {}, {}", MONTHS_EN[m], d.day(), d.year()),
        Lang::Es => format!("{} de {} de {}", d.day(), MONTHS_ES[m], d.year()),
    }
}

/// The invitation or the reminder, in the contact's language.
#[allow(clippy::too_many_arguments)]
pub fn compose(
    channel: &'static str,
    to: String,
    lang: Lang,
    reminder: bool,
    agency: &Agency,
    link: &str,
    opt_out: &str,
    expires_at: i64,
) -> Outgoing {
    let expires = long_date(expires_at, agency.tz(), lang);
    let args = [
        ("agency", agency.name.as_str()),
        ("link", link),
        ("opt_out", opt_out),
        ("expires", expires.as_str()),
    ];
    let (subject, body) = match (channel, reminder) {
        ("email", false) => ("delivery.email_subject", "delivery.email_body"),
        ("email", true) => ("delivery.reminder_subject", "delivery.reminder_body"),
        (_, false) => ("delivery.email_subject", "delivery.sms_body"),
        (_, true) => ("delivery.reminder_subject", "delivery.sms_reminder_body"),
    };
    Outgoing {
        channel,
        to,
        subject: i18n::tf(lang, subject, &args),
        body: i18n::tf(lang, body, &args),
        opt_out: opt_out.to_string(),
    }
}

/// The survey link of an invitation and its opt-out link, in the contact's language.
pub fn links_for(base: &str, slug: &str, lang: Lang, token: &str) -> (String, String) {
    let prefix = match lang {
        Lang::En => format!("{base}/{slug}"),
        Lang::Es => format!("{base}/{slug}/es"),
    };
    (
        format!("{prefix}/i/{token}"),
        format!("{prefix}/i/{token}/opt-out"),
    )
}

// ---------------------------------------------------------------------------------------------
// The pass

/// What the server keeps for delivery: the transports, a bell to ring after an import, and a
/// lock so passes in one process take turns.
pub struct Runtime {
    pub transports: Transports,
    wake: Notify,
    busy: Mutex<()>,
}

impl Runtime {
    pub fn new(config: &Config) -> Runtime {
        Runtime {
            transports: Transports::from_config(config),
            wake: Notify::new(),
            busy: Mutex::new(()),
        }
    }

    /// Asks the worker for a pass now (after an import), instead of at its next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pass {
    pub sent: u64,
    pub reminded: u64,
    /// Refused for good: marked failed.
    pub failed: u64,
    /// Could not be sent now: left waiting for a later pass.
    pub retry_later: u64,
    pub expired: u64,
    /// Contacts whose phone and e-mail were erased.
    pub purged: u64,
    /// Why invitations are waiting, when it is the configuration.
    pub waiting: Vec<String>,
}

impl Pass {
    fn add(&mut self, other: Pass) {
        self.sent += other.sent;
        self.reminded += other.reminded;
        self.failed += other.failed;
        self.retry_later += other.retry_later;
        self.expired += other.expired;
        self.purged += other.purged;
        self.waiting.extend(other.waiting);
    }

    pub fn is_quiet(&self) -> bool {
        self.sent + self.reminded + self.failed + self.retry_later + self.expired + self.purged == 0
    }
}

impl fmt::Display for Pass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sent, {} reminded, {} failed, {} to retry, {} expired, {} contacts erased",
            self.sent, self.reminded, self.failed, self.retry_later, self.expired, self.purged
        )
    }
}

/// One pass over every agency (the server's worker).
pub async fn deliver_all(state: &AppState) -> Result<Pass, sqlx::Error> {
    let mut total = Pass::default();
    for agency in agencies::list(&state.db).await? {
        total.add(deliver(state, &agency).await?);
    }
    Ok(total)
}

/// An invitation ready to go out.
#[derive(sqlx::FromRow)]
struct Due {
    id: i64,
    survey_id: i64,
    contact_id: i64,
    email: Option<String>,
    phone: Option<String>,
    language: String,
    expires_at: i64,
}

/// One pass over one agency: expire, send, remind, erase.
pub async fn deliver(state: &AppState, agency: &Agency) -> Result<Pass, sqlx::Error> {
    let runtime = &state.surveys().delivery;
    let _turn = runtime.busy.lock().await;
    let now = state.clock.unix();
    let settings = settings(&state.db, agency.id).await?;
    let mut pass = Pass {
        expired: expire(&state.db, agency.id, now).await?,
        ..Pass::default()
    };
    for channel in ["email", "sms"] {
        if !runtime.transports.has(channel) {
            let waiting = count_waiting(&state.db, agency.id, channel, now).await?;
            if waiting > 0 {
                pass.waiting.push(format!(
                    "{waiting} {} waiting: no {} is configured",
                    if channel == "email" {
                        "e-mail invitations"
                    } else {
                        "text-message invitations"
                    },
                    if channel == "email" {
                        "mail server (LANTERN_SMTP_URL)"
                    } else {
                        "SMS gateway (LANTERN_SMS_WEBHOOK_URL)"
                    },
                ));
            }
            continue;
        }
        send_due(state, agency, &settings, channel, false, &mut pass).await?;
        if settings.reminder_days > 0 {
            send_due(state, agency, &settings, channel, true, &mut pass).await?;
        }
    }
    pass.purged = purge(
        &state.db,
        agency.id,
        now - settings.retention_days * DAY,
        now,
    )
    .await?;
    Ok(pass)
}

/// Sends the first messages (or the reminders) of one channel until none is due, or the
/// channel fails in a way that would fail the rest too.
async fn send_due(
    state: &AppState,
    agency: &Agency,
    settings: &Settings,
    channel: &'static str,
    reminders: bool,
    pass: &mut Pass,
) -> Result<(), sqlx::Error> {
    let base = state.config.base_url();
    let transports = &state.surveys().delivery.transports;
    let mut tried = std::collections::HashSet::new();
    loop {
        let now = state.clock.unix();
        let due = due(&state.db, agency.id, channel, reminders, settings, now).await?;
        let fresh: Vec<Due> = due.into_iter().filter(|d| tried.insert(d.id)).collect();
        if fresh.is_empty() {
            return Ok(());
        }
        for d in fresh {
            if !claim(&state.db, agency.id, d.id, reminders, now).await? {
                continue;
            }
            let lang = Lang::from_code(&d.language).unwrap_or_default();
            let token = links::invitation_token(&state.key, agency.id, d.survey_id, d.contact_id);
            let (link, opt_out) = links_for(&base, &agency.slug, lang, &token);
            let to = match channel {
                "email" => d.email.clone(),
                _ => d.phone.clone(),
            }
            .unwrap_or_default();
            // The link lives its days from the first message; a reminder keeps that date.
            let expires_at = if reminders {
                d.expires_at
            } else {
                now + settings.expiry_days * DAY
            };
            let message = compose(
                channel, to, lang, reminders, agency, &link, &opt_out, expires_at,
            );
            let outcome = transports.send(&agency.name, &message).await;
            let now = state.clock.unix();
            match &outcome {
                Ok(()) if reminders => pass.reminded += 1,
                Ok(()) => pass.sent += 1,
                Err(SendError::Permanent(_)) => pass.failed += 1,
                Err(SendError::Transient(_)) => pass.retry_later += 1,
            }
            record(
                &state.db, agency.id, d.id, reminders, &outcome, expires_at, now,
            )
            .await?;
            if let Err(SendError::Transient(e)) = &outcome {
                // The server is down or busy: the rest would fail the same way. Next pass.
                tracing::warn!(agency = %agency.slug, channel, error = %e, "delivery paused until the next pass");
                return Ok(());
            }
        }
    }
}

async fn due(
    db: &Db,
    agency_id: i64,
    channel: &str,
    reminders: bool,
    settings: &Settings,
    now: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    let condition = if reminders {
        "i.status = 'sent' AND i.reminded_at IS NULL AND i.sent_at <= $5"
    } else {
        "i.status = 'pending'"
    };
    let sql = format!(
        "SELECT i.id, i.survey_id, i.contact_id, c.email, c.phone, c.language, i.expires_at \
         FROM invitations i \
         JOIN contacts c ON c.agency_id = i.agency_id AND c.id = i.contact_id \
         JOIN surveys s ON s.agency_id = i.agency_id AND s.id = i.survey_id \
         WHERE i.agency_id = $1 AND i.channel = $2 AND {condition} AND i.expires_at > $3 \
         AND s.status = 'open' AND (i.claimed_at IS NULL OR i.claimed_at <= $4) \
         AND (c.email IS NOT NULL OR c.phone IS NOT NULL) \
         AND NOT EXISTS (SELECT 1 FROM opt_outs o WHERE o.agency_id = c.agency_id AND o.contact_key = c.contact_key) \
         ORDER BY i.id LIMIT {BATCH}"
    );
    on_db!(db, |pool| {
        let q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(agency_id)
            .bind(channel)
            .bind(now)
            .bind(now - LEASE);
        let q = if reminders {
            q.bind(now - settings.reminder_days * DAY)
        } else {
            q
        };
        q.fetch_all(pool).await
    })
}

/// Takes an invitation for this pass, unless another pass holds it.
async fn claim(
    db: &Db,
    agency_id: i64,
    id: i64,
    reminder: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let status = if reminder { "sent" } else { "pending" };
    let changed = on_db!(db, |pool| {
        sqlx::query(
            "UPDATE invitations SET claimed_at = $3 WHERE agency_id = $1 AND id = $2 AND status = $4 \
             AND (claimed_at IS NULL OR claimed_at <= $5)",
        )
        .bind(agency_id)
        .bind(id)
        .bind(now)
        .bind(status)
        .bind(now - LEASE)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(changed == 1)
}

/// Writes down how a send went.
async fn record(
    db: &Db,
    agency_id: i64,
    id: i64,
    reminder: bool,
    outcome: &Result<(), SendError>,
    expires_at: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    let clip = |e: String| -> Option<String> { Some(e.chars().take(500).collect()) };
    // $1 agency, $2 invitation, $3 error, then $4 the time and $5 the expiry where used.
    let (sql, error, binds): (&str, Option<String>, &[i64]) = match (outcome, reminder) {
        (Ok(()), false) => (
            "UPDATE invitations SET status = 'sent', error = $3, sent_at = $4, expires_at = $5, claimed_at = NULL \
             WHERE agency_id = $1 AND id = $2 AND status = 'pending'",
            None,
            &[now, expires_at],
        ),
        (Ok(()), true) => (
            "UPDATE invitations SET error = $3, reminded_at = $4, claimed_at = NULL WHERE agency_id = $1 AND id = $2",
            None,
            &[now],
        ),
        (Err(SendError::Permanent(e)), false) => (
            "UPDATE invitations SET status = 'failed', error = $3, claimed_at = NULL \
             WHERE agency_id = $1 AND id = $2 AND status = 'pending'",
            clip(e.clone()),
            &[],
        ),
        // A reminder is not worth a failed invitation: the first message went out and its
        // link still works. The reminder is given up and the reason kept.
        (Err(SendError::Permanent(e)), true) => (
            "UPDATE invitations SET error = $3, reminded_at = $4, claimed_at = NULL WHERE agency_id = $1 AND id = $2",
            clip(format!("Reminder not sent: {e}")),
            &[now],
        ),
        // Left waiting; the lease, renewed from now, holds off the next try.
        (Err(SendError::Transient(e)), _) => (
            "UPDATE invitations SET error = $3, claimed_at = $4 WHERE agency_id = $1 AND id = $2",
            clip(format!("Will retry: {e}")),
            &[now],
        ),
    };
    on_db!(db, |pool| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(agency_id)
            .bind(id)
            .bind(error.as_deref());
        for b in binds {
            q = q.bind(*b);
        }
        q.execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

async fn expire(db: &Db, agency_id: i64, now: i64) -> Result<u64, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query(
            "UPDATE invitations SET status = 'expired', claimed_at = NULL \
             WHERE agency_id = $1 AND status IN ('pending', 'sent') AND expires_at <= $2",
        )
        .bind(agency_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })
}

async fn count_waiting(
    db: &Db,
    agency_id: i64,
    channel: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM invitations WHERE agency_id = $1 AND channel = $2 AND status = 'pending' AND expires_at > $3",
        )
        .bind(agency_id)
        .bind(channel)
        .bind(now)
        .fetch_one(pool)
        .await
    })
}

/// Erases phone and e-mail of contacts that arrived before `before`; the incident's call
/// type, district, officer and time stay, so answers can still be analysed by them.
async fn purge(db: &Db, agency_id: i64, before: i64, now: i64) -> Result<u64, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query(
            "UPDATE contacts SET phone = NULL, email = NULL, purged_at = $3 \
             WHERE agency_id = $1 AND purged_at IS NULL AND created_at <= $2",
        )
        .bind(agency_id)
        .bind(before)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })
}

/// Starts the server's delivery worker: a pass every [`INTERVAL`], and one as soon as an
/// import rings. A pass that fails (or panics) is logged and the next one runs as usual.
pub fn spawn_worker(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = state.surveys().delivery.wake.notified() => {}
            }
            let run = {
                let state = state.clone();
                tokio::spawn(async move { deliver_all(&state).await })
            };
            match run.await {
                Ok(Ok(pass)) if !pass.is_quiet() => tracing::info!(%pass, "post-contact delivery"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "post-contact delivery pass failed"),
                Err(e) => tracing::error!(error = %e, "post-contact delivery pass panicked"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_match_inside_call_types_ignoring_case() {
        let s = Settings::default();
        assert!(s.excludes("DOMESTIC VIOLENCE"));
        assert!(s.excludes("Domestic  violence - in progress"));
        assert!(s.excludes("sexual assault"));
        assert!(!s.excludes("Traffic stop"));
        assert!(!s.excludes("Domestic disturbance"));
    }

    #[test]
    fn settings_are_checked() {
        assert!(Settings::default().validate().is_ok());
        let late_reminder = Settings {
            reminder_days: 14,
            ..Settings::default()
        };
        assert_eq!(
            late_reminder.validate().unwrap_err()[0].field,
            "reminder_days"
        );
        let short_retention = Settings {
            retention_days: 7,
            ..Settings::default()
        };
        assert_eq!(
            short_retention.validate().unwrap_err()[0].field,
            "retention_days"
        );
        assert_eq!(
            Settings::parse_excluded("Domestic violence\n\n  domestic   VIOLENCE \nElder abuse\n"),
            ["Domestic violence", "Elder abuse"]
        );
    }

    #[test]
    fn dates_in_both_languages() {
        // 2026-06-15 12:00 UTC.
        let t = 1_781_524_800;
        let tz = chrono_tz::America::Chicago;
        assert_eq!(long_date(t, tz, Lang::En), "June 15, 2026");
        assert_eq!(long_date(t, tz, Lang::Es), "15 de junio de 2026");
    }

    #[test]
    fn spanish_links_open_in_spanish() {
        let (link, opt_out) = links_for("https://x.gov", "riverton", Lang::Es, "T");
        assert_eq!(link, "https://x.gov/riverton/es/i/T");
        assert_eq!(opt_out, "https://x.gov/riverton/es/i/T/opt-out");
    }
}
