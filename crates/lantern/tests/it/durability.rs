//! "Saved" means saved: the server runs as a child process, many clients submit responses at
//! once, the server is killed with SIGKILL part-way, and every response it acknowledged must
//! be in the database exactly once after a restart.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, backends, between, unescape};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(url: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lantern"))
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
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_up(port: u16) {
    for _ in 0..300 {
        if let Ok(r) = http(port, "GET", "/healthz", "", &[]).await
            && r.0 == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

/// A bare HTTP/1.1 request; returns (status, headers and body as text).
async fn http(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    Ok((status, text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_response_survives_a_kill() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let seeded = Command::new(env!("CARGO_BIN_EXE_lantern"))
            .args(["demo", "--no-serve", "--database-url", &app.url])
            .env("LANTERN_LOG", "error")
            .output()
            .unwrap();
        assert!(
            seeded.status.success(),
            "{}",
            String::from_utf8_lossy(&seeded.stderr)
        );
        let code: String = lantern::on_db!(&app.db, |pool| {
            sqlx::query_scalar("SELECT public_code FROM surveys WHERE name LIKE 'Community%'")
                .fetch_one(pool)
                .await
        })
        .unwrap();
        let before: i64 = lantern::on_db!(&app.db, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM responses"
        )
        .fetch_one(pool)
        .await)
        .unwrap();

        let port = free_port();
        let mut child = serve(&app.url, port);
        wait_up(port).await;
        // A browser's first visit: the CSRF cookie and the form's token.
        let (_, page) = http(port, "GET", &format!("/riverton/s/{code}"), "", &[])
            .await
            .unwrap();
        let cookie = between(&page, "set-cookie: ", ";")
            .expect("a CSRF cookie")
            .to_string();
        let token = unescape(between(&page, "name=\"csrf\" value=\"", "\"").expect("a CSRF token"));

        let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for client in 0..16 {
            let (acknowledged, stop, cookie, token, code) = (
                acknowledged.clone(),
                stop.clone(),
                cookie.clone(),
                token.clone(),
                code.clone(),
            );
            clients.push(tokio::spawn(async move {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let marker = format!("marker-{client}-{n}");
                    let body = form_urlencoded::Serializer::new(String::new())
                        .extend_pairs([
                            ("csrf", token.as_str()),
                            ("page", "3"),
                            ("action", "next"),
                            ("q_trust_respect", "7"),
                            ("q_trust_listen", "6"),
                            ("q_comments", marker.as_str()),
                        ])
                        .finish();
                    // A different address per client, as many residents would have.
                    let ip = format!("10.77.{client}.{}", n % 250 + 1);
                    let result = http(
                        port,
                        "POST",
                        &format!("/riverton/s/{code}"),
                        &body,
                        &[
                            ("Content-Type", "application/x-www-form-urlencoded"),
                            ("Cookie", cookie.as_str()),
                            ("X-Forwarded-For", ip.as_str()),
                        ],
                    )
                    .await;
                    match result {
                        Ok((303, _)) => acknowledged.lock().unwrap().push(marker),
                        Ok((status, text)) => panic!("unexpected answer {status}: {text}"),
                        // The server is gone: nothing was promised.
                        Err(_) => break,
                    }
                }
            }));
        }
        // Let a good number through, then pull the plug mid-stream.
        for _ in 0..600 {
            if acknowledged.lock().unwrap().len() >= 300 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().unwrap(); // SIGKILL: no shutdown, no flush.
        child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
        let acknowledged = acknowledged.lock().unwrap().clone();
        assert!(
            acknowledged.len() >= 300,
            "only {} acknowledged before the kill",
            acknowledged.len()
        );

        // Restart on the same database: it comes up, and every acknowledged answer is there once.
        let port = free_port();
        let mut child = serve(&app.url, port);
        wait_up(port).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let stored: Vec<String> = lantern::on_db!(&app.db, |pool| {
            sqlx::query_scalar("SELECT answers FROM responses WHERE answers LIKE '%marker-%'")
                .fetch_all(pool)
                .await
        })
        .unwrap();
        let markers: Vec<String> = stored
            .iter()
            .map(|a| between(a, "\"comments\":\"", "\"").unwrap().to_string())
            .collect();
        let mut unique = markers.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), markers.len(), "a response was stored twice");
        for m in &acknowledged {
            assert!(
                markers.contains(m),
                "{m} was acknowledged but is missing after the kill"
            );
        }
        let after: i64 = lantern::on_db!(&app.db, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM responses"
        )
        .fetch_one(pool)
        .await)
        .unwrap();
        assert_eq!(after - before, markers.len() as i64);
        app.cleanup().await;
    }
}
