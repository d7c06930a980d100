//! Survey benchmarks against the real server (release build), run with
//! `cargo bench -p lantern --bench surveys -- [submit|export|results|all]`:
//!
//! - submit: durable submissions over HTTP. A closed loop of keep-alive connections sends as
//!   fast as acknowledgements come back (throughput), then an open loop sends at a fixed rate
//!   (1,000 a second by default) and measures each latency from its scheduled time, so a
//!   stall is not hidden by the generator waiting for it (coordinated omission).
//! - export: CSV export of a survey with 1,000,000 responses: time, bytes, peak memory of the
//!   server process.
//! - results: the results page of that survey, first after start-up (waiting for the fold of
//!   all responses the server starts in the background) and warm.
//!
//! The generator is a plain HTTP/1.1 client over TCP, in this file, so nothing else needs
//! installing. Results are printed; record them in bench/RESULTS.md.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lantern::Db;
use lantern::surveys::model::{Answer, Answers};
use lantern::surveys::writer::{self, Link, NewResponse};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    async fn start(url: &str) -> Server {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_lantern"))
            .args([
                "serve",
                "--database-url",
                url,
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--trust-proxy",
            ])
            .env("LANTERN_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server");
        let s = Server { child, port };
        for _ in 0..600 {
            if let Ok(mut c) = Conn::open(port).await
                && c.send("GET", "/healthz", "", &[])
                    .await
                    .map(|(st, _)| st)
                    .ok()
                    == Some(200)
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not start");
    }

    /// Peak resident memory of the server process, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    async fn open(port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port)).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(s),
        })
    }

    /// Sends a request and reads the whole response; returns (status, body length).
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> std::io::Result<(u16, usize)> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(k);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        req.push_str(body);
        self.reader.get_mut().write_all(req.as_bytes()).await?;
        let mut line = String::new();
        self.reader.read_line(&mut line).await?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().ok();
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut total = 0usize;
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim(), 16).map_err(std::io::Error::other)?;
                let mut chunk = vec![0u8; size + 2];
                self.reader.read_exact(&mut chunk).await?;
                total += size;
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = length {
            let mut body = vec![0u8; n];
            self.reader.read_exact(&mut body).await?;
            total = n;
        }
        Ok((status, total))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn demo_db(dir: &std::path::Path) -> (String, Db) {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["demo", "--no-serve", "--database-url", &url])
        .env("LANTERN_LOG", "error")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = Db::connect(&url).await.unwrap();
    (url, db)
}

async fn community(db: &Db) -> (i64, i64, i64, String) {
    lantern::on_db!(db, |pool| {
        sqlx::query_as("SELECT agency_id, id, current_version, public_code FROM surveys WHERE name LIKE 'Community%'").fetch_one(pool).await
    })
    .unwrap()
}

/// A browser's CSRF cookie and form token, from one visit to the form.
async fn csrf(port: u16, code: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(
        format!("GET /riverton/s/{code} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    let cookie = text
        .split("set-cookie: ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (cookie, token)
}

fn body(token: &str, n: u64) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", token),
            ("page", "3"),
            ("action", "next"),
            ("q_trust_respect", &(n % 11).to_string()),
            ("q_trust_listen", "6"),
            ("q_pj_voice", "4"),
            ("q_priority", "traffic"),
            ("q_comments", &format!("load test response {n}")),
        ])
        .finish()
}

async fn submit_bench(connections: usize, seconds: u64, rate: u64) {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = demo_db(dir.path()).await;
    let (_, survey, _, code) = community(&db).await;
    let before = writer::count(&db, 1, survey).await.unwrap();
    let server = Server::start(&url).await;
    let (cookie, token) = csrf(server.port, &code).await;
    let path = format!("/riverton/s/{code}");
    let seq = Arc::new(AtomicU64::new(0));
    let acknowledged = Arc::new(AtomicU64::new(0));

    // Closed loop: as fast as acknowledgements return.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (cookie, token, path, seq, acknowledged) = (
            cookie.clone(),
            token.clone(),
            path.clone(),
            seq.clone(),
            acknowledged.clone(),
        );
        let port = server.port;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(port).await.unwrap();
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let ip = format!("10.{}.{}.{}", n / 65_536 % 256, n / 256 % 256, n % 256);
                let t = Instant::now();
                let (status, _) = conn
                    .send(
                        "POST",
                        &path,
                        &body(&token, n),
                        &[
                            ("Content-Type", "application/x-www-form-urlencoded"),
                            ("Cookie", &cookie),
                            ("X-Forwarded-For", &ip),
                        ],
                    )
                    .await
                    .unwrap();
                assert_eq!(status, 303, "submission refused");
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    latencies.sort_by(f64::total_cmp);
    let done = acknowledged.load(Ordering::Relaxed);
    println!(
        "closed loop, {connections} connections, {seconds} s: {done} acknowledged, {:.0} responses/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        done as f64 / seconds as f64,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0)
    );

    // Open loop at a fixed rate: each request has a scheduled time; latency counts from it.
    let total = rate * seconds;
    let start = Instant::now() + Duration::from_millis(100);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(8) {
        let (cookie, token, path, seq, next, acknowledged) = (
            cookie.clone(),
            token.clone(),
            path.clone(),
            seq.clone(),
            next.clone(),
            acknowledged.clone(),
        );
        let port = server.port;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(port).await.unwrap();
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let scheduled = start + Duration::from_secs_f64(i as f64 / rate as f64);
                tokio::time::sleep_until(scheduled.into()).await;
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let ip = format!("10.{}.{}.{}", n / 65_536 % 256, n / 256 % 256, n % 256);
                let (status, _) = conn
                    .send(
                        "POST",
                        &path,
                        &body(&token, n),
                        &[
                            ("Content-Type", "application/x-www-form-urlencoded"),
                            ("Cookie", &cookie),
                            ("X-Forwarded-For", &ip),
                        ],
                    )
                    .await
                    .unwrap();
                assert_eq!(status, 303);
                latencies.push(scheduled.elapsed().as_secs_f64() * 1000.0);
                acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "open loop at {rate}/s for {seconds} s: {} sent; latency from schedule p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0)
    );
    let stored = writer::count(&db, 1, survey).await.unwrap() - before;
    println!(
        "stored {stored} of {} acknowledged",
        acknowledged.load(Ordering::Relaxed)
    );
    assert_eq!(stored as u64, acknowledged.load(Ordering::Relaxed));
}

/// Fills the community survey to `n` responses (bulk, as an import would).
async fn fill(db: &Db, n: usize) {
    let (agency, survey, version, _) = community(db).await;
    let have = writer::count(db, agency, survey).await.unwrap() as usize;
    let mut rng = fastrand::Rng::with_seed(99);
    let t = Instant::now();
    let mut batch = Vec::with_capacity(20_000);
    for i in have..n {
        let mut a = Answers::new();
        a.insert(
            "trust_respect".into(),
            Answer::Number(rng.u8(0..=10) as f64),
        );
        a.insert("trust_listen".into(), Answer::Number(rng.u8(0..=10) as f64));
        a.insert("safety_night".into(), Answer::Number(rng.u8(0..=10) as f64));
        for k in ["pj_voice", "pj_neutral", "pj_respect", "pj_trustworthy"] {
            a.insert(k.into(), Answer::One(rng.u8(1..=5).to_string()));
        }
        a.insert(
            "contact_12m".into(),
            Answer::One(if rng.bool() { "yes" } else { "no" }.into()),
        );
        a.insert(
            "priority".into(),
            Answer::One(
                [
                    "violence",
                    "property",
                    "traffic",
                    "drugs",
                    "youth",
                    "mental_health",
                ][rng.usize(..6)]
                .into(),
            ),
        );
        a.insert(
            "age_group".into(),
            Answer::One(
                ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"][rng.usize(..6)].into(),
            ),
        );
        a.insert(
            "gender".into(),
            Answer::One(["female", "male"][rng.usize(..2)].into()),
        );
        a.insert(
            "race".into(),
            Answer::One(
                [
                    "white",
                    "black",
                    "hispanic",
                    "asian/pacific islander",
                    "other",
                ][rng.usize(..5)]
                .into(),
            ),
        );
        a.insert(
            "district".into(),
            Answer::One(format!("D{}", rng.u8(1..=6))),
        );
        if i % 4 == 0 {
            a.insert(
                "comments".into(),
                Answer::One(
                    [
                        "Response times are too slow",
                        "More patrols at night",
                        "Great community events",
                        "Speeding on our street",
                    ][rng.usize(..4)]
                    .into(),
                ),
            );
        }
        batch.push(NewResponse {
            agency_id: agency,
            survey_id: survey,
            version_id: version,
            submitted_at: 1_750_000_000 + i as i64 * 30,
            channel: "web".into(),
            language: "en".into(),
            status: "ok",
            flag_reason: None,
            contact_id: None,
            officer_id: None,
            source_hash: None,
            answers: serde_json::to_string(&a).unwrap(),
            link: Link::Open,
        });
        if batch.len() == batch.capacity() {
            writer::insert_all(db, &batch).await.unwrap();
            batch.clear();
        }
    }
    writer::insert_all(db, &batch).await.unwrap();
    println!(
        "filled to {n} responses in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

async fn signed_in_cookie(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"GET /riverton/signin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    let csrf_cookie = text
        .split("set-cookie: ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", token.as_str()),
            ("username", "analyst"),
            ("password", "riverton-analyst-lantern"),
        ])
        .finish();
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(
        format!(
            "POST /riverton/signin HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {csrf_cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    let session = text
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: lantern_session=")
        })
        .expect("signed in")
        .split(": ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    format!("{csrf_cookie}; {session}")
}

async fn big_survey_bench(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = demo_db(dir.path()).await;
    fill(&db, n).await;
    let (_, survey, _, _) = community(&db).await;
    let launched = Instant::now();
    let server = Server::start(&url).await;
    let cookie = signed_in_cookie(server.port).await;
    let mut conn = Conn::open(server.port).await.unwrap();
    // The server folds every published survey's responses in the background when it starts;
    // the first results page waits for that fold to finish.
    let (status, _) = conn
        .send(
            "GET",
            &format!("/riverton/staff/surveys/{survey}/results"),
            "",
            &[("Cookie", &cookie)],
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    println!(
        "results page, first after start-up (folds all {n} responses): {:.1} s from launch",
        launched.elapsed().as_secs_f64()
    );
    let rss_idle = server.peak_rss_mib();
    let t = Instant::now();
    let (status, bytes) = conn
        .send(
            "GET",
            &format!("/riverton/staff/surveys/{survey}/export.csv"),
            "",
            &[("Cookie", &cookie)],
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    println!(
        "CSV export of {n} responses: {:.2} s, {:.0} MB, server peak memory {:.0} MiB (before: {:.0} MiB)",
        t.elapsed().as_secs_f64(),
        bytes as f64 / 1e6,
        server.peak_rss_mib(),
        rss_idle
    );
    let mut times = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        let (status, _) = conn
            .send(
                "GET",
                &format!("/riverton/staff/surveys/{survey}/results"),
                "",
                &[("Cookie", &cookie)],
            )
            .await
            .unwrap();
        assert_eq!(status, 200);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "results page, warm: p50 {:.1} ms, max {:.1} ms over {} requests; server peak memory {:.0} MiB",
        percentile(&times, 0.5),
        times.last().unwrap(),
        times.len(),
        server.peak_rss_mib()
    );
    let t = Instant::now();
    let (status, _) = conn
        .send(
            "GET",
            &format!("/riverton/staff/surveys/{survey}/results?by=q:district"),
            "",
            &[("Cookie", &cookie)],
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    println!(
        "results page broken down by district, warm: {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let what = args.first().map(String::as_str).unwrap_or("all");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if matches!(what, "submit" | "all") {
            submit_bench(64, 10, 1_000).await;
        }
        if matches!(what, "export" | "results" | "all") {
            big_survey_bench(1_000_000).await;
        }
    });
}
