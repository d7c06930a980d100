//! The test harness: a fresh database per test (SQLite always, PostgreSQL too when
//! `TEST_DATABASE_URL` is set), the real router driven in-process, a manual clock, and a
//! small browser-like client that keeps cookies and fills in CSRF tokens.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use lantern::platform::accounts::{self, NewUser, Role, User};
use lantern::platform::agencies::{self, Agency, NewAgency};
use lantern::platform::audit::Actor;
use lantern::platform::db::{Backend, Db};
use lantern::platform::policy::Denied;
use lantern::{AppState, Clock, Config};
use tower::ServiceExt;

/// Runs the body once per available database: `db_test!(name, |app| async move { … })`.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for backend in $crate::helpers::backends() {
                let $app = $crate::helpers::TestApp::new(backend).await;
                $body
                $app.cleanup().await;
            }
        }
    };
    ($name:ident, config = $config:expr, |$app:ident| $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for backend in $crate::helpers::backends() {
                let $app = $crate::helpers::TestApp::with_config(backend, $config).await;
                $body
                $app.cleanup().await;
            }
        }
    };
}

pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        b.push(Backend::Postgres);
    }
    b
}

/// A fixed starting time (2026-06-01 12:00 UTC) so tests never depend on the real date.
pub const T0: i64 = 1_780_315_200;

pub struct TestApp {
    pub backend: Backend,
    pub db: Db,
    pub state: AppState,
    pub router: Router,
    pub clock: Clock,
    pub url: String,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        TestApp::with_config(backend, |_| {}).await
    }

    pub async fn with_config(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let (url, postgres, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                (url, None, Some(dir))
            }
            Backend::Postgres => {
                let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
                let name = format!(
                    "lantern_test_{}",
                    lantern::platform::secrets::random_token(9)
                        .to_lowercase()
                        .replace(['-', '_'], "x")
                );
                let admin_db = Db::connect_without_migrating(&admin)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                lantern::on_db!(&admin_db, |pool| sqlx::query(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE {name}"
                )))
                .execute(pool)
                .await
                .map(|_| ()))
                .expect("create test database");
                admin_db.close().await;
                let url = with_database(&admin, &name);
                (url, Some((admin, name)), None)
            }
        };
        let db = Db::connect(&url).await.expect("connect and migrate");
        let mut config = Config::new(url.clone());
        // Tests sign in many times from one address; the rate-limit test lowers this again.
        config.signin_burst = 10_000;
        config.trust_proxy = true;
        tweak(&mut config);
        let clock = Clock::manual(T0);
        let state = lantern::app::state(db.clone(), config, clock.clone())
            .await
            .expect("state");
        let router = lantern::app::router(state.clone());
        TestApp {
            backend,
            db,
            state,
            router,
            clock,
            url,
            postgres,
            _dir: dir,
        }
    }

    pub async fn cleanup(mut self) {
        self.db.close().await;
        if let Some((admin, name)) = self.postgres.take() {
            drop_database(&admin, &name).await;
        }
    }

    pub fn client(&self) -> Client {
        Client {
            app: self.router.clone(),
            state: self.state.clone(),
            cookies: HashMap::new(),
            ip: "203.0.113.7".to_string(),
            headers: Vec::new(),
        }
    }

    /// An agency with MFA not required (tests that need MFA turn it on).
    pub async fn agency(&self, slug: &str, name: &str) -> Agency {
        let a = agencies::create(
            &self.db,
            NewAgency {
                slug: slug.into(),
                name: name.into(),
                timezone: "America/Chicago".into(),
                latitude: Some(41.59),
                longitude: Some(-93.62),
            },
            &Actor::System("test"),
            self.clock.unix(),
        )
        .await
        .expect("create agency");
        agencies::set_mfa_required(&self.db, a.id, false)
            .await
            .unwrap();
        agencies::by_id(&self.db, a.id).await.unwrap().unwrap()
    }

    /// An account with a known strong password; returns it with the password.
    pub async fn user(&self, agency: &Agency, username: &str, role: Role) -> (User, String) {
        let password = format!("{username} walks the quiet harbor");
        let u = accounts::create(
            &self.db,
            agency.id,
            &agency.name,
            NewUser {
                username: username.into(),
                display_name: format!("{username} Tester"),
                email: String::new(),
                role,
                password: password.clone(),
            },
            &Actor::System("test"),
            None,
            self.clock.unix(),
        )
        .await
        .unwrap_or_else(|e| panic!("create user {username}: {e:?}"));
        (u, password)
    }

    /// A survey made from a template and published (districts resolved from the agency).
    pub async fn published_survey(
        &self,
        agency: &Agency,
        template: lantern::surveys::templates::Template,
    ) -> lantern::surveys::store::Survey {
        use lantern::surveys::store;
        let definition = template.definition();
        let survey = store::create(
            &self.db,
            agency.id,
            store::NewSurvey {
                kind: template.kind(),
                name: template.label(),
                definition: &definition,
            },
            &Actor::System("test"),
            None,
            self.clock.unix(),
        )
        .await
        .expect("create survey");
        let mut def = survey.draft();
        let districts = store::district_choices(&self.db, agency.id).await.unwrap();
        lantern::surveys::templates::resolve_demographics(&mut def, &districts);
        store::publish(
            &self.db,
            &survey,
            &def,
            &Actor::System("test"),
            None,
            self.clock.unix(),
        )
        .await
        .expect("publish")
        .expect("a valid template");
        store::get(&self.db, agency.id, survey.id)
            .await
            .unwrap()
            .unwrap()
    }

    /// An officer (active, in no unit); returns the id.
    pub async fn officer(&self, agency: &Agency, badge: &str) -> i64 {
        let mut tx = self.db.begin().await.unwrap();
        let id = lantern::platform::roster::insert_officer(
            &mut tx,
            agency.id,
            &lantern::platform::roster::NewOfficer {
                badge: badge.into(),
                first_name: "Alex".into(),
                last_name: format!("Officer{badge}"),
                rank: "Officer".into(),
                sex: String::new(),
                race: String::new(),
                hire_date: "2020-01-01".into(),
                active: true,
                assignments: vec![],
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }

    /// Runs raw SQL (for tampering tests).
    pub async fn exec(&self, sql: &str) {
        let sql = sql.to_string();
        lantern::on_db!(&self.db, |pool| sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .map(|_| ()))
        .unwrap_or_else(|e| panic!("{e}"));
    }
}

async fn drop_database(admin: &str, name: &str) {
    let admin_db = Db::connect_without_migrating(admin)
        .await
        .expect("connect admin");
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let _ = lantern::on_db!(&admin_db, |pool| {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(pool)
            .await
            .map(|_| ())
    });
    admin_db.close().await;
}

/// A test that panics never reaches `cleanup`: its PostgreSQL database is dropped here.
impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(drop_database(&admin, &name));
            })
            .join();
        }
    }
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The body as sent (for binary files).
    pub raw: Vec<u8>,
    pub denied: bool,
}

impl TestResponse {
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    #[track_caller]
    pub fn assert_status(&self, status: StatusCode) -> &Self {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            &self.body[..self.body.len().min(2000)]
        );
        self
    }
}

/// A browser-like client: keeps cookies, sends the CSRF token with forms.
pub struct Client {
    app: Router,
    state: AppState,
    pub cookies: HashMap<String, String>,
    pub ip: String,
    pub headers: Vec<(String, String)>,
}

impl Client {
    /// Another client sharing this one's cookies (the same browser, a second tab).
    pub fn clone_of(other: &Client) -> Client {
        Client {
            app: other.app.clone(),
            state: other.state.clone(),
            cookies: other.cookies.clone(),
            ip: other.ip.clone(),
            headers: other.headers.clone(),
        }
    }

    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> TestResponse {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("x-forwarded-for", &self.ip);
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            builder = builder.header(header::COOKIE, cookie);
        }
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        let body = match body {
            Some((content_type, bytes)) => {
                builder = builder.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(builder.body(body).unwrap())
            .await
            .unwrap();
        for v in response.headers().get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let removed = value.is_empty() || v.to_ascii_lowercase().contains("max-age=0");
            if removed {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let denied = response.extensions().get::<Denied>().is_some();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        TestResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            raw: bytes.to_vec(),
            denied,
        }
    }

    pub async fn get(&mut self, path: &str) -> TestResponse {
        self.request(Method::GET, path, None).await
    }

    /// The CSRF token this client's forms carry (fetches a page first if it has no cookie yet).
    pub async fn csrf(&mut self) -> String {
        if !self.cookies.contains_key("lantern_csrf") {
            self.get("/").await;
        }
        let seed = self
            .cookies
            .get("lantern_csrf")
            .expect("a CSRF cookie")
            .clone();
        self.state.key.sign("csrf", seed.as_bytes())
    }

    /// Posts a form with this client's CSRF token added.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &token));
        self.post_raw(path, &all).await
    }

    /// Posts a form exactly as given (no CSRF token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.request(
            Method::POST,
            path,
            Some(("application/x-www-form-urlencoded", body.into_bytes())),
        )
        .await
    }

    pub async fn sign_in(&mut self, slug: &str, username: &str, password: &str) -> TestResponse {
        self.post(
            &format!("/{slug}/signin"),
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// Signs in and checks that it worked.
    pub async fn signed_in(mut self, slug: &str, username: &str, password: &str) -> Client {
        let r = self.sign_in(slug, username, password).await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "sign-in of {username} failed: {}",
            r.body
        );
        assert_eq!(
            r.location(),
            Some(format!("/{slug}/staff").as_str()),
            "sign-in of {username} went elsewhere"
        );
        self
    }

    pub fn bearer(mut self, token: &str) -> Client {
        self.headers
            .push(("authorization".into(), format!("Bearer {token}")));
        self
    }
}

/// The fields a browser would send back from a page's form as it stands: hidden inputs,
/// checked radio buttons and boxes, text inputs with a value, and text areas (HTML entities
/// decoded). The honeypot stays empty, as a person leaves it.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in html.split("<input ").skip(1) {
        let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        let kind = between(tag, "type=\"", "\"").unwrap_or("text");
        let Some(name) = between(tag, "name=\"", "\"") else {
            continue;
        };
        let value = between(tag, "value=\"", "\"").unwrap_or_default();
        let send = match kind {
            "hidden" => true,
            "radio" | "checkbox" => tag.contains(" checked"),
            "text" | "date" | "email" | "number" => !value.is_empty() && name != "website",
            _ => false,
        };
        if send {
            out.push((unescape(name), unescape(value)));
        }
    }
    for chunk in html.split("<textarea ").skip(1) {
        let Some(name) = between(chunk, "name=\"", "\"") else {
            continue;
        };
        let text = between(chunk, ">", "</textarea>").unwrap_or_default();
        if !text.is_empty() {
            out.push((unescape(name), unescape(text)));
        }
    }
    out
}

/// Undoes the HTML escaping of askama (enough for attribute values).
pub fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Posts a multipart form (file uploads), as a browser does.
pub fn multipart(fields: &[(&str, &str)], file: (&str, &str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "lantern-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    let (name, file_name, bytes) = file;
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Text between `before` and the next `after` in `html`.
pub fn between<'a>(html: &'a str, before: &str, after: &str) -> Option<&'a str> {
    let start = html.find(before)? + before.len();
    let end = html[start..].find(after)? + start;
    Some(&html[start..end])
}
