//! The command line: bad configuration gives one clear line, not a panic; the everyday
//! commands work end to end.

use std::process::Command;

use lantern::platform::db::Backend;

use crate::db_test;
use crate::helpers::TestApp;

fn lantern(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(args)
        .env_remove("LANTERN_DATABASE_URL")
        .env_remove("LANTERN_BIND")
        .env("LANTERN_LOG", "off")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn assert_one_clear_line(stderr: &str, must_contain: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line, got: {stderr:?}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        lines[0].contains(must_contain),
        "{stderr:?} should mention {must_contain:?}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

#[test]
fn an_unsupported_database_url_is_one_clear_line() {
    let (code, _, err) = lantern(&[
        "migrate",
        "--database-url",
        "mysql://root@localhost/lantern",
    ]);
    assert_ne!(code, 0);
    assert_one_clear_line(&err, "not supported: use sqlite://PATH");
}

#[test]
fn an_unreachable_database_is_one_clear_line() {
    let (code, _, err) = lantern(&[
        "migrate",
        "--database-url",
        "postgres://lantern:secret@127.0.0.1:1/lantern",
    ]);
    assert_ne!(code, 0);
    assert_one_clear_line(
        &err,
        "cannot open the database at postgres://lantern:***@127.0.0.1:1/lantern",
    );
    assert!(
        !err.contains("secret"),
        "the password is never shown: {err}"
    );
}

#[test]
fn a_sqlite_file_in_a_missing_folder_is_one_clear_line() {
    let (code, _, err) = lantern(&[
        "migrate",
        "--database-url",
        "sqlite:///no/such/folder/lantern.db",
    ]);
    assert_ne!(code, 0);
    assert_one_clear_line(
        &err,
        "cannot open the database at sqlite:///no/such/folder/lantern.db",
    );
}

#[test]
fn a_malformed_postgres_url_is_one_clear_line() {
    let (code, _, err) = lantern(&["migrate", "--database-url", "postgres://[::1"]);
    assert_ne!(code, 0);
    assert_one_clear_line(&err, "malformed");
}

#[test]
fn a_port_in_use_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let (code, _, err) = lantern(&["serve", "--database-url", &url, "--bind", &addr]);
    assert_ne!(code, 0);
    assert_one_clear_line(&err, "already in use");
}

#[test]
fn a_bad_bind_address_is_one_clear_line() {
    let (code, _, err) = lantern(&["serve", "--bind", "localhost:eighty"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("invalid value 'localhost:eighty' for '--bind"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

#[test]
fn agencies_and_users_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let (code, out, err) = lantern(&[
        "agency",
        "add",
        "--database-url",
        &url,
        "--slug",
        "fairview",
        "--name",
        "Fairview PD",
        "--timezone",
        "America/Denver",
        "--latitude",
        "39.7",
        "--longitude",
        "-104.9",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("added agency Fairview PD (fairview)"), "{out}");
    let (code, _, err) = lantern(&[
        "agency",
        "add",
        "--database-url",
        &url,
        "--slug",
        "api",
        "--name",
        "X",
        "--timezone",
        "Mars/Base",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("reserved") && err.contains("Mars/Base"),
        "every problem is named: {err}"
    );
    let (code, out, err) = lantern(&[
        "user",
        "add",
        "--database-url",
        &url,
        "--agency",
        "fairview",
        "--username",
        "Chief",
        "--role",
        "admin",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("added chief (Administrator)") && out.contains("password: "),
        "{out}"
    );
    let (code, _, err) = lantern(&[
        "user",
        "add",
        "--database-url",
        &url,
        "--agency",
        "fairview",
        "--username",
        "x",
        "--role",
        "chief",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown role \"chief\""), "{err}");
    // An API token for a script: the secret alone on stdout, recorded in the audit chain.
    let (code, out, err) = lantern(&[
        "token",
        "create",
        "--database-url",
        &url,
        "--agency",
        "fairview",
        "--name",
        "nightly CAD export",
        "--role",
        "analyst",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.trim().starts_with("lnt_") && out.trim().lines().count() == 1,
        "{out}"
    );
    assert!(err.contains("shown once"), "{err}");
    let (code, _, err) = lantern(&[
        "token",
        "create",
        "--database-url",
        &url,
        "--agency",
        "nowhere",
        "--name",
        "x",
        "--role",
        "analyst",
    ]);
    assert_ne!(code, 0);
    assert_one_clear_line(&err, "no agency with slug \"nowhere\"");
    let (code, out, _) = lantern(&["audit", "verify", "--database-url", &url]);
    assert_eq!(code, 0);
    assert!(out.contains("fairview: intact, 3 rows"), "{out}");
}

db_test!(
    backup_copies_a_live_sqlite_database_and_explains_postgres,
    |app| {
        app.agency("riverton", "Riverton PD").await;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("backup.db");
        let target_s = target.display().to_string();
        let (code, out, err) = lantern(&["backup", &target_s, "--database-url", &app.url]);
        match app.backend {
            Backend::Sqlite => {
                assert_eq!(code, 0, "{err}");
                assert!(out.contains("wrote"), "{out}");
                // The copy is a working database with the same data.
                let copy = TestAppCopy::open(&format!("sqlite://{target_s}")).await;
                assert_eq!(copy.agencies().await, vec!["riverton".to_string()]);
                // A backup never overwrites.
                let (code, _, err) = lantern(&["backup", &target_s, "--database-url", &app.url]);
                assert_ne!(code, 0);
                assert_one_clear_line(&err, "already exists");
            }
            Backend::Postgres => {
                assert_ne!(code, 0);
                assert_one_clear_line(&err, "pg_dump");
            }
        }
        let _: &TestApp = &app;
    }
);

struct TestAppCopy(lantern::Db);

impl TestAppCopy {
    async fn open(url: &str) -> TestAppCopy {
        TestAppCopy(lantern::Db::connect_without_migrating(url).await.unwrap())
    }
    async fn agencies(&self) -> Vec<String> {
        lantern::platform::agencies::list(&self.0)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.slug)
            .collect()
    }
}
