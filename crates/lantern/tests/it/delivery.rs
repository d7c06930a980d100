//! Post-contact delivery end to end: contact events in by CSV upload and the API, invitations
//! out through an SMTP server and an SMS webhook (both small in-test servers), the single-use
//! link answered once, reminders, expiry, opt-out, exclusions, the 90-day rule and the erasure
//! of phone numbers and e-mail addresses.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use lantern::platform::accounts::Role;
use lantern::platform::agencies::Agency;
use lantern::platform::config::Config;
use lantern::surveys::delivery;
use lantern::surveys::store::Survey;
use lantern::surveys::templates::Template;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::db_test;
use crate::helpers::{Client, TestApp, multipart};

/// Runs the body on each database with an SMTP sink and an SMS webhook sink, and the app
/// configured to send through them: `delivery_test!(name, |app, mail, sms| { … })`.
macro_rules! delivery_test {
    ($name:ident, |$app:ident, $mail:ident, $sms:ident| $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for backend in crate::helpers::backends() {
                let $mail = SmtpSink::start().await;
                let $sms = SmsSink::start().await;
                let (smtp, hook) = ($mail.url(), $sms.url());
                let $app = TestApp::with_config(backend, move |c: &mut Config| {
                    c.delivery.smtp_url = Some(smtp);
                    c.delivery.mail_from = Some("surveys@riverton.example.gov".into());
                    c.delivery.sms_webhook_url = Some(hook);
                    c.delivery.sms_from = Some("+15155550100".into());
                })
                .await;
                $body
                $app.cleanup().await;
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// An SMTP server that keeps what it is sent

#[derive(Clone, Debug, Default)]
struct Mail {
    to: Vec<String>,
    data: String,
}

impl Mail {
    fn header(&self, name: &str) -> String {
        self.data
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_default()
            .to_string()
    }

    /// The path of the survey link in the message (`/riverton/i/TOKEN` or `/riverton/es/i/…`).
    fn link(&self) -> String {
        // Undo quoted-printable soft line breaks (non-ASCII bodies are sent that way).
        link_in(&self.data.replace("=\n", ""))
    }
}

fn link_in(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains("/i/") && !w.contains("opt-out") && w.starts_with("http"))
        .map(|w| {
            let path_start = w["http://".len()..].find('/').unwrap() + "http://".len();
            w[path_start..].to_string()
        })
        .unwrap_or_else(|| panic!("no survey link in: {text}"))
}

struct SmtpSink {
    addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let kept = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(smtp_session(stream, kept.clone()));
            }
        });
        SmtpSink { addr, mails }
    }

    fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    fn take(&self) -> Vec<Mail> {
        std::mem::take(&mut *self.mails.lock().unwrap())
    }
}

/// Just enough SMTP: EHLO, MAIL, RCPT (refusing addresses at refused.example), DATA, QUIT;
/// anything else (RSET, NOOP) is answered OK.
async fn smtp_session(stream: tokio::net::TcpStream, mails: Arc<Mutex<Vec<Mail>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 sink ESMTP ready\r\n").await;
    let mut mail = Mail::default();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim_end_matches('\r').to_string();
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink greets you\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            mail = Mail::default();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if upper.contains("@REFUSED.EXAMPLE") {
                b"550 5.1.1 No such mailbox\r\n"
            } else {
                mail.to
                    .push(line[8..].trim().trim_matches(['<', '>']).to_string());
                b"250 OK\r\n"
            }
        } else if upper == "DATA" {
            let _ = write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await;
            let mut data = String::new();
            while let Ok(Some(l)) = lines.next_line().await {
                let l = l.trim_end_matches('\r');
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(l));
                data.push('\n');
            }
            mail.data = data;
            mails.lock().unwrap().push(std::mem::take(&mut mail));
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 Bye\r\n").await;
            break;
        } else {
            b"250 OK\r\n"
        };
        if write.write_all(reply).await.is_err() {
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// An SMS gateway's webhook

#[derive(Clone, Debug)]
struct Text {
    form: HashMap<String, String>,
    authorization: String,
}

struct SmsSink {
    addr: SocketAddr,
    texts: Arc<Mutex<Vec<Text>>>,
    /// The status the gateway answers with.
    status: Arc<AtomicU16>,
}

impl SmsSink {
    async fn start() -> SmsSink {
        use axum::extract::State;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let texts: Arc<Mutex<Vec<Text>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(201));
        type Shared = (Arc<Mutex<Vec<Text>>>, Arc<AtomicU16>);
        async fn receive(
            State((texts, status)): State<Shared>,
            headers: axum::http::HeaderMap,
            axum::Form(form): axum::Form<HashMap<String, String>>,
        ) -> (StatusCode, &'static str) {
            let code = StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap();
            if code.is_success() {
                texts.lock().unwrap().push(Text {
                    form,
                    authorization: headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default(),
                });
            }
            (code, "{\"status\": \"queued\"}")
        }
        let app = axum::Router::new()
            .route("/2010-04-01/Messages", axum::routing::post(receive))
            .with_state((texts.clone(), status.clone()));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SmsSink {
            addr,
            texts,
            status,
        }
    }

    fn url(&self) -> String {
        format!("http://AC123:s%40cret@{}/2010-04-01/Messages", self.addr)
    }

    fn take(&self) -> Vec<Text> {
        std::mem::take(&mut *self.texts.lock().unwrap())
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

struct Setup {
    agency: Agency,
    survey: Survey,
    analyst: Client,
    password: String,
}

impl Setup {
    /// Signs the analyst in again (sessions end while tests move the clock by days).
    async fn again(&mut self, app: &TestApp) {
        self.analyst = app
            .client()
            .signed_in("riverton", "ana", &self.password)
            .await;
    }
}

async fn setup(app: &TestApp) -> Setup {
    let agency = app.agency("riverton", "Riverton Police Department").await;
    let survey = app.published_survey(&agency, Template::PostContact).await;
    let (_, pw) = app.user(&agency, "ana", Role::Analyst).await;
    let analyst = app.client().signed_in("riverton", "ana", &pw).await;
    Setup {
        agency,
        survey,
        analyst,
        password: pw,
    }
}

const HEADER: &str =
    "incident_number,occurred_at,call_type,district,officer,phone,email,language\n";

async fn upload(s: &mut Setup, csv: &str) -> crate::helpers::TestResponse {
    let token = s.analyst.csrf().await;
    let (content_type, body) = multipart(&[], ("file", "cad-export.csv", csv.as_bytes()));
    s.analyst
        .request(
            axum::http::Method::POST,
            &format!(
                "/riverton/staff/surveys/{}/contacts?csrf={token}",
                s.survey.id
            ),
            Some((&content_type, body)),
        )
        .await
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let sql = sql.to_string();
    lantern::on_db!(&app.db, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(
        sql.clone()
    ))
    .fetch_one(pool)
    .await)
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn statuses(app: &TestApp) -> Vec<String> {
    lantern::on_db!(&app.db, |pool| sqlx::query_scalar(
        "SELECT status FROM invitations ORDER BY id"
    )
    .fetch_all(pool)
    .await)
    .unwrap()
}

async fn deliver(app: &TestApp, a: &Agency) -> delivery::Pass {
    delivery::deliver(&app.state, a).await.unwrap()
}

const DAY: i64 = 86_400;

/// Answers the post-contact survey through a link; returns the response to the submission.
async fn answer(app: &TestApp, link: &str) -> crate::helpers::TestResponse {
    let mut resident = app.client();
    let form = resident.get(link).await;
    form.assert_status(StatusCode::OK);
    resident
        .post(
            link,
            &[
                ("page", "1"),
                ("action", "next"),
                ("q_overall", "9"),
                ("q_pc_explained", "5"),
            ],
        )
        .await
}

// ---------------------------------------------------------------------------------------------
// Intake

db_test!(a_csv_with_a_bad_row_is_refused_whole, |app| {
    let mut s = setup(&app).await;
    let csv = format!(
        "{HEADER}P26-1,2026-05-31 14:05,Traffic stop,D1,1187,515-555-0123,,en\n\
         P26-2,31/05/2026,Theft,D2,1187,,ana@example.org,en\n\
         P26-3,2026-05-31 15:00,Theft,D2,1187,,not-an-address,es\n"
    );
    let r = upload(&mut s, &csv).await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Nothing was imported"), "{}", r.body);
    assert!(r.body.contains("line 3, column occurred_at"), "{}", r.body);
    assert!(r.body.contains("line 4, column email"), "{}", r.body);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM contacts").await, 0);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM invitations").await, 0);

    let missing = upload(&mut s, "incident_number,call_type\nP1,Theft\n").await;
    missing.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("the column occurred_at is missing"));
});

db_test!(importing_the_same_file_again_adds_nothing, |app| {
    let mut s = setup(&app).await;
    let csv = format!(
        "{HEADER}P26-1,2026-05-31 14:05,Traffic stop,D1,1187,(515) 555-0123,,en\n\
         P26-2,2026-05-31 16:40,Theft,D2,2290,,Ana@Example.org,es\n"
    );
    let first = upload(&mut s, &csv).await;
    first.assert_status(StatusCode::OK);
    assert!(
        first.body.contains("2 added, 0 already there"),
        "{}",
        first.body
    );
    assert!(first.body.contains("2 invitations made"));
    // The same events with the numbers written differently are the same events.
    let again = csv
        .replace("(515) 555-0123", "515.555.0123")
        .replace("Ana@", "ana@");
    let second = upload(&mut s, &again).await;
    second.assert_status(StatusCode::OK);
    assert!(
        second.body.contains("0 added, 2 already there"),
        "{}",
        second.body
    );
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM contacts").await, 2);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM invitations").await, 2);
    let channels: Vec<(String, String)> = lantern::on_db!(&app.db, |pool| sqlx::query_as(
        "SELECT c.phone, i.channel FROM invitations i JOIN contacts c ON c.id = i.contact_id WHERE c.phone IS NOT NULL"
    )
    .fetch_all(pool)
    .await)
    .unwrap();
    assert_eq!(channels, [("+15155550123".to_string(), "sms".to_string())]);
    // The import is in the audit log, without contact details.
    let audit = scalar(
        &app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'contacts.imported'",
    )
    .await;
    assert_eq!(audit, 2);
    let details: Vec<String> = lantern::on_db!(&app.db, |pool| sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'contacts.imported'"
    )
    .fetch_all(pool)
    .await)
    .unwrap();
    assert!(
        details
            .iter()
            .all(|d| !d.contains("555") && !d.contains("example.org"))
    );
});

db_test!(sensitive_call_types_are_never_invited, |app| {
    let mut s = setup(&app).await;
    let csv = format!(
        "{HEADER}P26-1,2026-05-31 14:05,DOMESTIC VIOLENCE - IN PROGRESS,D1,1187,515-555-0101,,en\n\
         P26-2,2026-05-31 14:10,Sexual Assault,D1,1187,,sa@example.org,en\n\
         P26-3,2026-05-31 14:20,Elder abuse,D1,1187,515-555-0103,,en\n\
         P26-4,2026-05-31 14:30,Traffic stop,D1,1187,515-555-0104,,en\n"
    );
    let r = upload(&mut s, &csv).await;
    r.assert_status(StatusCode::OK);
    assert!(
        r.body.contains("2 not invited: excluded call type"),
        "{}",
        r.body
    );
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM invitations").await, 2);
    // Excluded contacts keep their incident data and never their contact details.
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM contacts WHERE excluded_reason = 'call_type' AND phone IS NULL AND email IS NULL AND call_type <> ''"
        )
        .await,
        2
    );

    // An admin adds a call type; the next import follows it.
    let (_, pw) = app.user(&s.agency, "chief", Role::Admin).await;
    let mut admin = app.client().signed_in("riverton", "chief", &pw).await;
    let saved = admin
        .post(
            "/riverton/staff/settings/post-contact",
            &[
                (
                    "excluded_call_types",
                    "Domestic violence\nSexual assault\nelder ABUSE",
                ),
                ("expiry_days", "14"),
                ("reminder_days", "3"),
                ("retention_days", "30"),
                ("dedupe_days", "90"),
            ],
        )
        .await;
    saved.assert_status(StatusCode::OK);
    assert!(
        saved.body.contains("Saved: excluded_call_types"),
        "{}",
        saved.body
    );
    let r = upload(
        &mut s,
        &format!("{HEADER}P26-5,2026-05-31 15:20,Elder abuse,D1,1187,515-555-0105,,en\n"),
    )
    .await;
    assert!(
        r.body.contains("1 not invited: excluded call type"),
        "{}",
        r.body
    );
    // Settings are checked.
    let bad = admin
        .post(
            "/riverton/staff/settings/post-contact",
            &[
                ("excluded_call_types", ""),
                ("expiry_days", "14"),
                ("reminder_days", "20"),
                ("retention_days", "30"),
                ("dedupe_days", "90"),
            ],
        )
        .await;
    bad.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body
            .contains("The reminder must come before the link expires")
    );
    // Analysts may not change them.
    assert!(
        s.analyst
            .get("/riverton/staff/settings/post-contact")
            .await
            .denied
    );
});

db_test!(nobody_is_invited_twice_within_ninety_days, |app| {
    let mut s = setup(&app).await;
    let row = |incident: &str, email: &str| {
        format!("{HEADER}{incident},2026-05-31 14:05,Theft,D1,1187,,{email},en\n")
    };
    upload(&mut s, &row("P26-1", "ana@example.org"))
        .await
        .assert_status(StatusCode::OK);
    app.clock.advance(30 * DAY);
    s.again(&app).await;
    let second = upload(&mut s, &row("P26-2", " ANA@example.org")).await;
    assert!(
        second
            .body
            .contains("1 not invited: invited within the last 90 days"),
        "{}",
        second.body
    );
    // Two contacts of one person in one file: only the earlier is invited.
    let both = format!(
        "{HEADER}P26-3,2026-06-30 10:00,Theft,D1,1187,515-555-0199,,en\n\
         P26-4,2026-06-30 09:00,Theft,D1,1187,515-555-0199,,en\n"
    );
    let r = upload(&mut s, &both).await;
    assert!(r.body.contains("1 invitations made"), "{}", r.body);
    let invited: String = lantern::on_db!(&app.db, |pool| sqlx::query_scalar(
        "SELECT c.incident_number FROM invitations i JOIN contacts c ON c.id = i.contact_id WHERE c.incident_number IN ('P26-3', 'P26-4')"
    )
    .fetch_one(pool)
    .await)
    .unwrap();
    assert_eq!(invited, "P26-4");
    // Ninety days after the first invitation, the first person may be asked again.
    app.clock.advance(61 * DAY);
    s.again(&app).await;
    let later = upload(&mut s, &row("P26-5", "ana@example.org")).await;
    assert!(later.body.contains("1 invitations made"), "{}", later.body);
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM contacts WHERE excluded_reason = 'dedupe'"
        )
        .await,
        2
    );
});

db_test!(the_api_takes_contact_events_and_names_bad_fields, |app| {
    let s = setup(&app).await;
    let (_, secret) = lantern::platform::api_tokens::create(
        &app.db,
        s.agency.id,
        "CAD",
        Role::Analyst,
        &lantern::platform::audit::Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();
    let mut cad = app.client().bearer(&secret);
    let post = |body: &str| (String::from("application/json"), body.as_bytes().to_vec());
    let bad = r#"[
        {"incident_number": "P26-1", "occurred_at": "2026-05-31T14:05:00-05:00", "call_type": "Theft", "phone": "515-555-0123"},
        {"incident_number": "P26-2", "occurred_at": "last tuesday", "call_type": "Theft", "email": "ana@example.org"}
    ]"#;
    let (ct, body) = post(bad);
    let r = cad
        .request(
            axum::http::Method::POST,
            "/api/v1/contacts",
            Some((&ct, body)),
        )
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let problem = r.json();
    assert_eq!(problem["errors"][0]["field"], "[1].occurred_at");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("last tuesday")
    );
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM contacts").await, 0);

    let (ct, body) = post("{not json");
    let r = cad
        .request(
            axum::http::Method::POST,
            "/api/v1/contacts",
            Some((&ct, body)),
        )
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["field"], "body");

    let good = bad.replace("last tuesday", "2026-05-31 16:00");
    let (ct, body) = post(&good);
    let path = format!("/api/v1/contacts?survey={}", s.survey.id);
    let r = cad
        .request(axum::http::Method::POST, &path, Some((&ct, body.clone())))
        .await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.json()["invited"], 2);
    let again = cad
        .request(
            axum::http::Method::POST,
            "/api/v1/contacts",
            Some((&ct, body.clone())),
        )
        .await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.json()["already_present"], 2);
    assert_eq!(again.json()["added"], 0);

    // A survey that is not post-contact is not found, by its number.
    let other = app
        .published_survey(&s.agency, Template::CommunityTrust)
        .await;
    let r = cad
        .request(
            axum::http::Method::POST,
            &format!("/api/v1/contacts?survey={}", other.id),
            Some((&ct, body.clone())),
        )
        .await;
    r.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(
        r.json()["detail"],
        format!("No post-contact survey {}.", other.id)
    );
    // A survey id that is not a number is named as the parameter at fault.
    let r = cad
        .request(
            axum::http::Method::POST,
            "/api/v1/contacts?survey=first",
            Some((&ct, body.clone())),
        )
        .await;
    r.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["errors"][0]["field"], "survey");

    // Staff tokens may not send contacts.
    let (_, staff_secret) = lantern::platform::api_tokens::create(
        &app.db,
        s.agency.id,
        "officer app",
        Role::Staff,
        &lantern::platform::audit::Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();
    let r = app
        .client()
        .bearer(&staff_secret)
        .request(
            axum::http::Method::POST,
            "/api/v1/contacts",
            Some((&ct, body)),
        )
        .await;
    r.assert_status(StatusCode::FORBIDDEN);
});

// ---------------------------------------------------------------------------------------------
// Sending

db_test!(
    without_a_mail_server_invitations_wait_and_staff_see_why,
    |app| {
        let mut s = setup(&app).await;
        upload(
            &mut s,
            &format!("{HEADER}P26-1,2026-05-31 14:05,Theft,D1,1187,,ana@example.org,en\n"),
        )
        .await
        .assert_status(StatusCode::OK);
        let pass = deliver(&app, &s.agency).await;
        assert_eq!(pass.sent, 0);
        assert!(
            pass.waiting[0].contains("LANTERN_SMTP_URL"),
            "{:?}",
            pass.waiting
        );
        assert_eq!(statuses(&app).await, ["pending"]);
        let page = s
            .analyst
            .get(&format!("/riverton/staff/surveys/{}/contacts", s.survey.id))
            .await;
        page.assert_status(StatusCode::OK);
        assert!(
            page.body
                .contains("e-mail invitations wait until a mail server is set")
        );
        // Contact details are never shown in full.
        assert!(!page.body.contains("ana@example.org"));
        assert!(page.body.contains("a•••@example.org"));
        // The survey's page links here; supervisors see neither the link nor the page.
        let overview = s
            .analyst
            .get(&format!("/riverton/staff/surveys/{}", s.survey.id))
            .await;
        assert!(overview.body.contains("Contacts and invitations"));
        let (_, pw) = app.user(&s.agency, "sam", Role::Supervisor).await;
        let mut supervisor = app.client().signed_in("riverton", "sam", &pw).await;
        let overview = supervisor
            .get(&format!("/riverton/staff/surveys/{}", s.survey.id))
            .await;
        assert!(!overview.body.contains("Contacts and invitations"));
        assert!(
            supervisor
                .get(&format!("/riverton/staff/surveys/{}/contacts", s.survey.id))
                .await
                .denied
        );
    }
);

delivery_test!(an_emailed_link_answers_the_survey_once, |app, mail, sms| {
    let mut s = setup(&app).await;
    upload(
        &mut s,
        &format!(
            "{HEADER}P26-1,2026-05-31 14:05,Traffic stop,D3,1187,,ana@example.org,en\n\
             P26-2,2026-05-31 15:05,Theft,D2,2290,,luis@example.org,es\n"
        ),
    )
    .await
    .assert_status(StatusCode::OK);
    let pass = deliver(&app, &s.agency).await;
    assert_eq!((pass.sent, pass.failed), (2, 0), "{pass:?}");
    let mails = mail.take();
    assert_eq!(mails.len(), 2);
    let english = mails.iter().find(|m| m.to == ["ana@example.org"]).unwrap();
    assert!(
        english
            .header("From")
            .contains("Riverton Police Department"),
        "{}",
        english.data
    );
    assert!(
        english.header("Subject").contains("how did we do?"),
        "{}",
        english.data
    );
    assert!(
        english.header("List-Unsubscribe").contains("/opt-out"),
        "{}",
        english.data
    );
    assert!(english.data.contains("The link works once"));
    let spanish = mails.iter().find(|m| m.to == ["luis@example.org"]).unwrap();
    assert!(
        spanish.link().starts_with("/riverton/es/i/"),
        "{}",
        spanish.data
    );
    assert!(sms.take().is_empty());
    // The message carries the link; the database only its hash.
    let link = english.link();
    let token = link.rsplit('/').next().unwrap().to_string();
    assert_eq!(token.len(), 43);
    let hash = lantern::platform::secrets::sha256_hex(token.as_bytes());
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT COUNT(*) FROM invitations WHERE token_hash = '{hash}'")
        )
        .await,
        1
    );
    assert_eq!(statuses(&app).await, ["sent", "sent"]);
    // A second pass sends nothing again.
    assert_eq!(deliver(&app, &s.agency).await.sent, 0);
    assert!(mail.take().is_empty());

    let first = answer(&app, &link).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert!(first.location().unwrap().ends_with("/thanks"));
    let mut again = app.client();
    let second = again.get(&link).await;
    second.assert_status(StatusCode::GONE);
    let resubmit = again
        .post(
            &link,
            &[("page", "1"), ("action", "next"), ("q_overall", "2")],
        )
        .await;
    resubmit.assert_status(StatusCode::GONE);
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM responses WHERE contact_id IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(statuses(&app).await, ["responded", "sent"]);
    let page = s
        .analyst
        .get(&format!("/riverton/staff/surveys/{}/contacts", s.survey.id))
        .await;
    assert!(page.body.contains("answered 2026-"), "{}", page.body);
});

delivery_test!(text_messages_go_to_the_webhook, |app, mail, sms| {
    let mut s = setup(&app).await;
    upload(
        &mut s,
        &format!("{HEADER}P26-1,2026-05-31 14:05,Traffic stop,D3,1187,515-555-0123,,es\n"),
    )
    .await
    .assert_status(StatusCode::OK);
    // The gateway refuses the first time: the invitation fails, with the reason for staff.
    sms.answer(400);
    let pass = deliver(&app, &s.agency).await;
    assert_eq!(pass.failed, 1, "{pass:?}");
    assert_eq!(statuses(&app).await, ["failed"]);
    let page = s
        .analyst
        .get(&format!("/riverton/staff/surveys/{}/contacts", s.survey.id))
        .await;
    assert!(
        page.body.contains("SMS gateway answered 400"),
        "{}",
        page.body
    );
    // Fixed: staff put it back in the queue and it goes out.
    sms.answer(201);
    let retried = s
        .analyst
        .post(
            &format!("/riverton/staff/surveys/{}/contacts/retry", s.survey.id),
            &[],
        )
        .await;
    retried.assert_status(StatusCode::OK);
    assert_eq!(statuses(&app).await, ["pending"]);
    let sent = s
        .analyst
        .post(
            &format!("/riverton/staff/surveys/{}/contacts/deliver", s.survey.id),
            &[],
        )
        .await;
    assert!(sent.body.contains("1 sent"), "{}", sent.body);
    let texts = sms.take();
    assert_eq!(texts.len(), 1);
    let text = &texts[0];
    assert_eq!(text.form["To"], "+15155550123");
    assert_eq!(text.form["From"], "+15155550100");
    assert!(
        text.form["Body"].contains("Encuesta de 2 minutos"),
        "{:?}",
        text.form
    );
    // Basic auth from the URL, percent-decoded: AC123:s@cret.
    assert_eq!(text.authorization, "Basic QUMxMjM6c0BjcmV0");
    assert!(mail.take().is_empty());
    let link = link_in(&text.form["Body"]);
    assert!(link.starts_with("/riverton/es/i/"));
    assert_eq!(answer(&app, &link).await.status, StatusCode::SEE_OTHER);
    assert_eq!(statuses(&app).await, ["responded"]);
});

delivery_test!(a_refused_address_fails_alone, |app, mail, sms| {
    let mut s = setup(&app).await;
    upload(
        &mut s,
        &format!(
            "{HEADER}P26-1,2026-05-31 14:05,Theft,D1,1187,,nobody@refused.example,en\n\
             P26-2,2026-05-31 14:06,Theft,D1,1187,,ana@example.org,en\n"
        ),
    )
    .await
    .assert_status(StatusCode::OK);
    let pass = deliver(&app, &s.agency).await;
    assert_eq!((pass.sent, pass.failed), (1, 1), "{pass:?}");
    assert_eq!(statuses(&app).await, ["failed", "sent"]);
    let error: String = lantern::on_db!(&app.db, |pool| sqlx::query_scalar(
        "SELECT error FROM invitations WHERE status = 'failed'"
    )
    .fetch_one(pool)
    .await)
    .unwrap();
    assert!(error.contains("refused"), "{error}");
    assert_eq!(mail.take().len(), 1);
    assert!(sms.take().is_empty());
});

delivery_test!(
    one_reminder_and_only_to_those_who_have_not_answered,
    |app, mail, sms| {
        let mut s = setup(&app).await;
        upload(
            &mut s,
            &format!(
                "{HEADER}P26-1,2026-05-31 14:05,Theft,D1,1187,,ana@example.org,en\n\
             P26-2,2026-05-31 14:06,Theft,D1,1187,,bo@example.org,en\n"
            ),
        )
        .await
        .assert_status(StatusCode::OK);
        deliver(&app, &s.agency).await;
        let first = mail.take();
        let bo_link = first
            .iter()
            .find(|m| m.to == ["bo@example.org"])
            .unwrap()
            .link();
        app.clock.advance(2 * DAY);
        assert_eq!(answer(&app, &bo_link).await.status, StatusCode::SEE_OTHER);
        assert_eq!(deliver(&app, &s.agency).await.reminded, 0, "not due yet");
        app.clock.advance(DAY);
        let pass = deliver(&app, &s.agency).await;
        assert_eq!(pass.reminded, 1, "{pass:?}");
        let reminders = mail.take();
        assert_eq!(reminders.len(), 1);
        assert_eq!(reminders[0].to, ["ana@example.org"]);
        assert!(
            reminders[0].header("Subject").starts_with("Reminder"),
            "{}",
            reminders[0].data
        );
        // The reminder carries the same link as the first message.
        let ana_link = first
            .iter()
            .find(|m| m.to == ["ana@example.org"])
            .unwrap()
            .link();
        assert_eq!(reminders[0].link(), ana_link);
        app.clock.advance(3 * DAY);
        assert_eq!(
            deliver(&app, &s.agency).await.reminded,
            0,
            "only one reminder"
        );
        assert!(mail.take().is_empty());
        assert!(sms.take().is_empty());
        s.again(&app).await;
        let page = s
            .analyst
            .get(&format!(
                "/riverton/staff/surveys/{}/contacts?status=reminded",
                s.survey.id
            ))
            .await;
        assert!(page.body.contains("Reminded, not answered"));
        assert!(page.body.contains("P26-1") && !page.body.contains("P26-2"));
    }
);

delivery_test!(links_expire_after_their_days, |app, mail, sms| {
    let mut s = setup(&app).await;
    upload(
        &mut s,
        &format!("{HEADER}P26-1,2026-05-31 14:05,Theft,D1,1187,,ana@example.org,en\n"),
    )
    .await
    .assert_status(StatusCode::OK);
    deliver(&app, &s.agency).await;
    let link = mail.take()[0].link();
    app.clock.advance(14 * DAY - 60);
    assert_eq!(app.client().get(&link).await.status, StatusCode::OK);
    app.clock.advance(120);
    let pass = deliver(&app, &s.agency).await;
    assert_eq!(pass.expired, 1);
    assert_eq!(statuses(&app).await, ["expired"]);
    let r = app.client().get(&link).await;
    r.assert_status(StatusCode::GONE);
    assert!(r.body.contains("This link has expired"));
    assert!(sms.take().is_empty());
});

delivery_test!(
    opting_out_stops_every_message_to_that_person,
    |app, mail, sms| {
        let mut s = setup(&app).await;
        upload(
            &mut s,
            &format!("{HEADER}P26-1,2026-05-31 14:05,Theft,D1,1187,,ana@example.org,es\n"),
        )
        .await
        .assert_status(StatusCode::OK);
        deliver(&app, &s.agency).await;
        let link = mail.take()[0].link();
        let opt_out = format!("{link}/opt-out");
        let mut resident = app.client();
        let form = resident.get(&opt_out).await;
        form.assert_status(StatusCode::OK);
        assert!(
            form.body.contains("Dejar de recibir mensajes de encuestas"),
            "{}",
            form.body
        );
        assert!(form.body.contains("<form method=\"post\""));
        let done = resident.post(&opt_out, &[]).await;
        done.assert_status(StatusCode::OK);
        assert!(done.body.contains("No recibirá más mensajes de encuestas"));
        assert_eq!(statuses(&app).await, ["opted_out"]);
        // Contact details are erased at once; the incident data stays.
        assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM contacts WHERE email IS NULL AND purged_at IS NOT NULL AND call_type = 'Theft'"
        )
        .await,
        1
    );
        // No reminder, and the survey link says why.
        app.clock.advance(4 * DAY);
        assert_eq!(deliver(&app, &s.agency).await.reminded, 0);
        let r = app.client().get(&link).await;
        r.assert_status(StatusCode::GONE);
        // A later contact with the same person is not invited, even after the 90 days.
        app.clock.advance(100 * DAY);
        s.again(&app).await;
        let later = upload(
            &mut s,
            &format!("{HEADER}P26-9,2026-09-10 10:00,Theft,D1,1187,,ANA@example.org,en\n"),
        )
        .await;
        assert!(
            later.body.contains("1 not invited: opted out earlier"),
            "{}",
            later.body
        );
        deliver(&app, &s.agency).await;
        assert!(mail.take().is_empty());
        assert!(sms.take().is_empty());
        // Opting out twice is harmless, and an unknown token is not found.
        let twice = app.client().get(&opt_out).await;
        assert!(twice.body.contains("No recibirá"));
        assert_eq!(
            app.client()
                .get("/riverton/i/nonsense/opt-out")
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
);

delivery_test!(
    contact_details_are_erased_after_the_retention_period,
    |app, mail, sms| {
        let mut s = setup(&app).await;
        upload(
        &mut s,
        &format!(
            "{HEADER}P26-1,2026-05-31 14:05,Traffic stop,D3,1187,515-555-0123,ana@example.org,en\n"
        ),
    )
    .await
    .assert_status(StatusCode::OK);
        deliver(&app, &s.agency).await;
        let link = mail.take()[0].link();
        assert_eq!(answer(&app, &link).await.status, StatusCode::SEE_OTHER);
        app.clock.advance(30 * DAY - 60);
        assert_eq!(deliver(&app, &s.agency).await.purged, 0);
        app.clock.advance(120);
        assert_eq!(deliver(&app, &s.agency).await.purged, 1);
        let row: (
            Option<String>,
            Option<String>,
            String,
            String,
            String,
            String,
        ) = lantern::on_db!(&app.db, |pool| {
            sqlx::query_as(
            "SELECT phone, email, incident_number, call_type, district, officer_badge FROM contacts"
        )
        .fetch_one(pool)
        .await
        })
        .unwrap();
        assert_eq!(
            row,
            (
                None,
                None,
                "P26-1".into(),
                "Traffic stop".into(),
                "D3".into(),
                "1187".into()
            )
        );
        // The answer is still analysed by the contact's call type and district.
        s.again(&app).await;
        let csv = s
            .analyst
            .get(&format!(
                "/riverton/staff/surveys/{}/export.csv",
                s.survey.id
            ))
            .await
            .body;
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let record = reader.records().next().unwrap().unwrap();
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        assert_eq!(
            (&record[at("call_type")], &record[at("contact_district")]),
            ("Traffic stop", "D3")
        );
        let page = s
            .analyst
            .get(&format!("/riverton/staff/surveys/{}/contacts", s.survey.id))
            .await;
        assert!(page.body.contains("erased"));
        assert!(sms.take().is_empty());
    }
);

delivery_test!(
    two_senders_never_send_one_invitation_twice,
    |app, mail, sms| {
        let mut s = setup(&app).await;
        let mut csv = HEADER.to_string();
        for i in 0..12 {
            csv.push_str(&format!(
                "P26-{i},2026-05-31 14:{i:02},Theft,D1,1187,,person{i}@example.org,en\n"
            ));
        }
        upload(&mut s, &csv).await.assert_status(StatusCode::OK);
        // A second server process on the same database (the cron command, say).
        let other =
            lantern::app::state(app.db.clone(), app.state.config.clone(), app.clock.clone())
                .await
                .unwrap();
        let (a, b) = tokio::join!(
            delivery::deliver(&app.state, &s.agency),
            delivery::deliver(&other, &s.agency)
        );
        assert_eq!(a.unwrap().sent + b.unwrap().sent, 12);
        let mails = mail.take();
        assert_eq!(mails.len(), 12);
        let mut to: Vec<String> = mails.iter().map(|m| m.to[0].clone()).collect();
        to.sort();
        to.dedup();
        assert_eq!(to.len(), 12);
        assert!(sms.take().is_empty());
    }
);

db_test!(
    the_demo_has_post_contact_answers_linked_to_contact_events,
    |app| {
        let (agency, _) = lantern::demo::ensure(&app.db, 1, crate::helpers::T0)
            .await
            .unwrap();
        let survey: i64 = lantern::on_db!(&app.db, |pool| sqlx::query_scalar(
            "SELECT id FROM surveys WHERE kind = 'post_contact'"
        )
        .fetch_one(pool)
        .await)
        .unwrap();
        assert_eq!(
            scalar(
                &app,
                &format!("SELECT COUNT(*) FROM contacts WHERE survey_id = {survey}")
            )
            .await,
            lantern::demo::contacts::CONTACTS as i64
        );
        // Sensitive calls are there, never invited, without contact details.
        let excluded = scalar(
        &app,
        "SELECT COUNT(*) FROM contacts WHERE excluded_reason = 'call_type' AND phone IS NULL AND email IS NULL",
    )
    .await;
        assert!(excluded > 100, "{excluded}");
        assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM invitations i JOIN contacts c ON c.id = i.contact_id WHERE c.excluded_reason IS NOT NULL"
        )
        .await,
        0
    );
        // Contact details only within the retention period; nothing waits to be sent.
        assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT COUNT(*) FROM contacts WHERE (phone IS NOT NULL OR email IS NOT NULL) AND created_at <= {}",
                crate::helpers::T0 - 30 * DAY
            )
        )
        .await,
        0
    );
        assert_eq!(
            scalar(
                &app,
                "SELECT COUNT(*) FROM invitations WHERE status = 'pending'"
            )
            .await,
            0
        );
        // With the demo's own delivery settings a pass has nothing to send or remind.
        let pass = deliver(&app, &agency).await;
        assert_eq!((pass.sent, pass.reminded), (0, 0), "{pass:?}");
        // Answers are linked to their contact event, and break down by call type with the
        // generated effect: traffic stops below welfare checks.
        let rows: Vec<(String, String)> = lantern::on_db!(&app.db, |pool| sqlx::query_as(
        "SELECT c.call_type, r.answers FROM responses r JOIN contacts c ON c.agency_id = r.agency_id AND c.id = r.contact_id \
         WHERE r.survey_id = $1"
    )
    .bind(survey)
    .fetch_all(pool)
    .await)
    .unwrap();
        assert!(rows.len() > 300, "{} answers", rows.len());
        let mean = |call_type: &str| {
            let scores: Vec<f64> = rows
                .iter()
                .filter(|(c, _)| c == call_type)
                .filter_map(|(_, a)| {
                    serde_json::from_str::<serde_json::Value>(a).unwrap()["overall"].as_f64()
                })
                .collect();
            scores.iter().sum::<f64>() / scores.len() as f64
        };
        assert!(mean("Traffic stop") + 1.0 < mean("Welfare check"));
        let (_, pw) = app.user(&agency, "ana2", Role::Analyst).await;
        let mut analyst = app.client().signed_in("riverton", "ana2", &pw).await;
        let by_call_type = analyst
            .get(&format!(
                "/riverton/staff/surveys/{survey}/results?by=call_type"
            ))
            .await;
        by_call_type.assert_status(StatusCode::OK);
        assert!(by_call_type.body.contains("Welfare check"));
        let contacts = analyst
            .get(&format!("/riverton/staff/surveys/{survey}/contacts"))
            .await;
        contacts.assert_status(StatusCode::OK);
        assert!(contacts.body.contains("Excluded call type"));
    }
);

db_test!(the_deliver_command_runs_one_pass_for_cron, |app| {
    app.agency("riverton", "Riverton PD").await;
    let run = |extra: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lantern"));
        cmd.args([
            "surveys",
            "deliver",
            "--agency",
            "riverton",
            "--database-url",
            &app.url,
        ])
        .env_remove("LANTERN_SMTP_URL")
        .env_remove("LANTERN_SMS_WEBHOOK_URL")
        .env("LANTERN_LOG", "off");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let ok = run(&[]);
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("0 sent, 0 reminded"));
    // A mail server URL that cannot work is one clear line, before anything runs.
    let bad = run(&[("LANTERN_SMTP_URL", "mailto:someone")]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: LANTERN_SMTP_URL"), "{stderr}");
});

// ---------------------------------------------------------------------------------------------
// Account notices through the same mail server

delivery_test!(
    a_locked_account_s_owner_is_told_by_e_mail,
    |app, mail, _sms| {
        let a = app.agency("riverton", "Riverton PD").await;
        let (u, _) = app.user(&a, "jqpublic", Role::Analyst).await;
        app.exec(&format!(
            "UPDATE users SET email = 'jq@riverton.example.gov' WHERE agency_id = {} AND id = {}",
            a.id, u.id
        ))
        .await;
        let (other, _) = app.user(&a, "nomail", Role::Analyst).await;
        let _ = other;
        let mut c = app.client();
        for _ in 0..4 {
            c.sign_in("riverton", "jqpublic", "wrong password here")
                .await;
            c.sign_in("riverton", "nomail", "wrong password here").await;
        }
        assert!(mail.take().is_empty(), "nothing is sent before the lock");
        let r = c
            .sign_in("riverton", "jqpublic", "wrong password here")
            .await;
        assert!(
            !r.body.contains("This account is locked"),
            "the page says nothing of it"
        );
        c.sign_in("riverton", "nomail", "wrong password here").await;

        let mut got = Vec::new();
        for _ in 0..100 {
            got.extend(mail.take());
            if !got.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            got.len(),
            1,
            "one notice, to the account with an address: {got:?}"
        );
        let m = &got[0];
        assert_eq!(m.to, vec!["jq@riverton.example.gov".to_string()]);
        assert!(
            m.header("Subject").contains("account was locked"),
            "{}",
            m.data
        );
        let body = m.data.replace("=\n", "");
        assert!(
            body.contains("jqpublic") && body.contains("5 times in a row"),
            "{body}"
        );
        assert!(
            !body.contains("wrong password here"),
            "never the password tried"
        );
    }
);
