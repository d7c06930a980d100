//! The audit chain catches an edited, inserted or deleted row and names where the chain breaks,
//! both through the library and through `lantern audit verify`.

use axum::http::StatusCode;
use lantern::platform::accounts::Role;
use lantern::platform::audit::{self, Actor, Event};
use lantern::platform::db::Backend;

use crate::db_test;
use crate::helpers::TestApp;

/// An agency whose chain has `n` rows in all (the agency's creation is row 1).
async fn chain(app: &TestApp, n: i64) -> i64 {
    let a = app.agency("riverton", "Riverton PD").await;
    for i in 2..=n {
        audit::record(
            &app.db,
            a.id,
            app.clock.unix() + i,
            &Event::new(&Actor::System("test"), "test.event", format!("thing:{i}"))
                .detail(serde_json::json!({"i": i})),
        )
        .await
        .unwrap();
    }
    a.id
}

/// Tampering needs the append-only guard out of the way first, as it would for an attacker.
async fn drop_guards(app: &TestApp) {
    match app.backend {
        Backend::Sqlite => {
            app.exec("DROP TRIGGER audit_log_no_update").await;
            app.exec("DROP TRIGGER audit_log_no_delete").await;
        }
        Backend::Postgres => {
            app.exec("DROP TRIGGER audit_log_no_update ON audit_log")
                .await
        }
    }
}

/// Runs `lantern audit verify` on the test database; returns (exit code, stdout).
fn cli_verify(app: &TestApp) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["audit", "verify", "--database-url", &app.url])
        .env_remove("LANTERN_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

db_test!(an_intact_chain_verifies, |app| {
    let agency = chain(&app, 10).await;
    let v = audit::verify(&app.db, agency).await.unwrap();
    assert!(v.is_intact(), "{:?}", v.first_break);
    assert_eq!(v.rows, 10);
    assert_eq!(v.head_seq, 10);
    let (code, out) = cli_verify(&app);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("riverton: intact, 10 rows"), "{out}");
});

db_test!(the_log_cannot_be_changed_through_ordinary_sql, |app| {
    let agency = chain(&app, 3).await;
    let sql = format!("UPDATE audit_log SET detail = 'x' WHERE agency_id = {agency} AND seq = 2");
    let result = lantern::on_db!(&app.db, |pool| sqlx::query(sqlx::AssertSqlSafe(
        sql.clone()
    ))
    .execute(pool)
    .await
    .map(|_| ()));
    assert!(result.unwrap_err().to_string().contains("append-only"));
    let sql = format!("DELETE FROM audit_log WHERE agency_id = {agency}");
    let result = lantern::on_db!(&app.db, |pool| sqlx::query(sqlx::AssertSqlSafe(
        sql.clone()
    ))
    .execute(pool)
    .await
    .map(|_| ()));
    assert!(result.unwrap_err().to_string().contains("append-only"));
});

db_test!(an_edited_row_is_named, |app| {
    let agency = chain(&app, 10).await;
    drop_guards(&app).await;
    app.exec(&format!(
        "UPDATE audit_log SET detail = '{{\"i\":99}}' WHERE agency_id = {agency} AND seq = 4"
    ))
    .await;
    let b = audit::verify(&app.db, agency)
        .await
        .unwrap()
        .first_break
        .expect("broken");
    assert_eq!(b.seq, 4);
    assert!(b.reason.contains("edited"), "{}", b.reason);
    let (code, out) = cli_verify(&app);
    assert_ne!(code, 0);
    assert!(out.contains("BROKEN at row 4"), "{out}");
});

db_test!(an_edit_with_a_recomputed_hash_breaks_the_next_link, |app| {
    let agency = chain(&app, 10).await;
    drop_guards(&app).await;
    // The attacker rewrites row 4 and gives it a hash that matches its new content.
    let mut rows = audit::list(&app.db, agency, &audit::Filter::default(), 100)
        .await
        .unwrap();
    rows.reverse();
    let mut forged = rows[3].clone();
    forged.actor = "nobody".into();
    let new_hash = forged.expected_hash();
    app.exec(&format!("UPDATE audit_log SET actor = 'nobody', hash = '{new_hash}' WHERE agency_id = {agency} AND seq = 4")).await;
    let b = audit::verify(&app.db, agency)
        .await
        .unwrap()
        .first_break
        .expect("broken");
    assert_eq!(b.seq, 5);
    assert!(
        b.reason.contains("row 5 does not link to row 4"),
        "{}",
        b.reason
    );
});

db_test!(an_inserted_row_is_named, |app| {
    let agency = chain(&app, 10).await;
    drop_guards(&app).await;
    // Make room after row 5 and slip in a row that links to row 5 correctly.
    let mut rows = audit::list(&app.db, agency, &audit::Filter::default(), 100)
        .await
        .unwrap();
    rows.reverse();
    for seq in (6..=10).rev() {
        app.exec(&format!(
            "UPDATE audit_log SET seq = seq + 1 WHERE agency_id = {agency} AND seq = {seq}"
        ))
        .await;
    }
    let mut forged = rows[4].clone();
    forged.seq = 6;
    forged.prev_hash = rows[4].hash.clone();
    forged.action = "user.created".into();
    let hash = forged.expected_hash();
    app.exec(&format!(
        "INSERT INTO audit_log (agency_id, seq, at, actor_id, actor, action, target, detail, ip, prev_hash, hash) \
         VALUES ({agency}, 6, {}, NULL, '{}', 'user.created', '{}', '{}', NULL, '{}', '{hash}')",
        forged.at, forged.actor, forged.target, forged.detail, forged.prev_hash
    ))
    .await;
    let b = audit::verify(&app.db, agency)
        .await
        .unwrap()
        .first_break
        .expect("broken");
    // The forged row itself checks out; the old row 6, now numbered 7, no longer links.
    assert_eq!(b.seq, 7);
    assert!(
        b.reason.contains("row 7 does not link to row 6"),
        "{}",
        b.reason
    );
    let (code, out) = cli_verify(&app);
    assert_ne!(code, 0);
    assert!(out.contains("BROKEN at row 7"), "{out}");
});

db_test!(a_row_appended_behind_the_chains_back_is_named, |app| {
    let agency = chain(&app, 5).await;
    let mut rows = audit::list(&app.db, agency, &audit::Filter::default(), 100)
        .await
        .unwrap();
    rows.reverse();
    let mut forged = rows[4].clone();
    forged.seq = 6;
    forged.prev_hash = rows[4].hash.clone();
    let hash = forged.expected_hash();
    app.exec(&format!(
        "INSERT INTO audit_log (agency_id, seq, at, actor_id, actor, action, target, detail, ip, prev_hash, hash) \
         VALUES ({agency}, 6, {}, NULL, '{}', '{}', '{}', '{}', NULL, '{}', '{hash}')",
        forged.at, forged.actor, forged.action, forged.target, forged.detail, forged.prev_hash
    ))
    .await;
    let b = audit::verify(&app.db, agency)
        .await
        .unwrap()
        .first_break
        .expect("broken");
    assert_eq!(b.seq, 6);
    assert!(b.reason.contains("inserted"), "{}", b.reason);
});

db_test!(a_deleted_row_is_named, |app| {
    let agency = chain(&app, 10).await;
    drop_guards(&app).await;
    app.exec(&format!(
        "DELETE FROM audit_log WHERE agency_id = {agency} AND seq = 6"
    ))
    .await;
    let b = audit::verify(&app.db, agency)
        .await
        .unwrap()
        .first_break
        .expect("broken");
    assert_eq!(b.seq, 6);
    assert!(b.reason.contains("row 6 is missing"), "{}", b.reason);
    let (code, out) = cli_verify(&app);
    assert_ne!(code, 0);
    assert!(out.contains("BROKEN at row 6"), "{out}");
});

db_test!(deleted_newest_rows_are_named, |app| {
    let agency = chain(&app, 10).await;
    drop_guards(&app).await;
    app.exec(&format!(
        "DELETE FROM audit_log WHERE agency_id = {agency} AND seq >= 9"
    ))
    .await;
    let b = audit::verify(&app.db, agency)
        .await
        .unwrap()
        .first_break
        .expect("broken");
    assert_eq!(b.seq, 9);
    assert!(b.reason.contains("deleted"), "{}", b.reason);
});

db_test!(reading_the_audit_log_is_itself_audited, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, pw) = app.user(&a, "chief", Role::Admin).await;
    let mut c = app.client().signed_in("riverton", "chief", &pw).await;
    let r = c.get("/riverton/staff/audit?action=signin").await;
    r.assert_status(StatusCode::OK);
    assert!(r.body.contains("signin.success"));
    let viewed = audit::list(
        &app.db,
        a.id,
        &audit::Filter {
            action: "audit.viewed".into(),
            ..Default::default()
        },
        10,
    )
    .await
    .unwrap();
    assert_eq!(viewed.len(), 1);
    assert_eq!(viewed[0].actor, "chief");
    assert!(
        viewed[0].detail.contains("\"action\":\"signin\""),
        "{}",
        viewed[0].detail
    );
    // The chain check from the page.
    let r = c.get("/riverton/staff/audit?verify=1").await;
    assert!(r.body.contains("The chain is intact"), "{}", r.body);
});

db_test!(restricted_records_and_changes_are_audited, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, pw) = app.user(&a, "chief", Role::Admin).await;
    let (ana, _) = app.user(&a, "ana", Role::Analyst).await;
    let mut tx = app.db.begin().await.unwrap();
    let officer = lantern::platform::roster::insert_officer(
        &mut tx,
        a.id,
        &lantern::platform::roster::NewOfficer {
            badge: "9".into(),
            first_name: "Pat".into(),
            last_name: "Lee".into(),
            rank: "Officer".into(),
            sex: String::new(),
            race: String::new(),
            hire_date: "2021-01-01".into(),
            active: true,
            assignments: vec![],
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut c = app.client().signed_in("riverton", "chief", &pw).await;
    c.get(&format!("/riverton/staff/officers/{officer}"))
        .await
        .assert_status(StatusCode::OK);
    c.post(
        &format!("/riverton/staff/users/{}", ana.id),
        &[("action", "save"), ("role", "supervisor"), ("active", "on")],
    )
    .await
    .assert_status(StatusCode::OK);
    c.post(
        "/riverton/staff/settings",
        &[
            ("name", "Riverton PD"),
            ("timezone", "America/Chicago"),
            ("small_cell_threshold", "11"),
            ("anonymity_threshold", "5"),
        ],
    )
    .await
    .assert_status(StatusCode::OK);
    c.post(
        "/riverton/staff/tokens",
        &[("name", "CAD"), ("role", "analyst")],
    )
    .await
    .assert_status(StatusCode::OK);

    let mut rows = audit::list(&app.db, a.id, &audit::Filter::default(), 100)
        .await
        .unwrap();
    rows.reverse();
    let find = |action: &str| {
        rows.iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("{action} missing"))
    };
    assert_eq!(
        find("personnel.viewed").target,
        format!("officer:{officer}")
    );
    let role = find("user.role_changed");
    assert_eq!(role.target, format!("user:{}", ana.id));
    assert!(
        role.detail.contains("\"from\":\"analyst\"")
            && role.detail.contains("\"to\":\"supervisor\""),
        "{}",
        role.detail
    );
    let settings = find("settings.changed");
    assert!(
        settings.detail.contains("small_cell_threshold"),
        "{}",
        settings.detail
    );
    assert!(
        !settings.detail.contains("\"name\""),
        "only changed fields: {}",
        settings.detail
    );
    // mfa_required was off and the form left it off: not a change.
    assert!(
        !settings.detail.contains("mfa_required"),
        "{}",
        settings.detail
    );
    assert!(find("token.created").detail.contains("CAD"));
    assert!(audit::verify(&app.db, a.id).await.unwrap().is_intact());
});

/// Runs `lantern audit head` on the test database; returns its one line for the agency.
fn cli_head(app: &TestApp) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args([
            "audit",
            "head",
            "--agency",
            "riverton",
            "--database-url",
            &app.url,
        ])
        .env_remove("LANTERN_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Runs `lantern audit verify --head HEAD`; returns (exit code, stdout).
fn cli_verify_head(app: &TestApp, head: &str) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args([
            "audit",
            "verify",
            "--head",
            head,
            "--database-url",
            &app.url,
        ])
        .env_remove("LANTERN_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Points the chain's recorded head at row `seq`, as someone rewriting the database would.
async fn rewrite_head(app: &TestApp, agency: i64, seq: i64) {
    app.exec(&format!(
        "UPDATE audit_heads SET seq = {seq}, hash = (SELECT hash FROM audit_log WHERE agency_id = {agency} AND seq = {seq}) WHERE agency_id = {agency}"
    ))
    .await;
}

db_test!(
    a_cut_tail_with_a_rewritten_head_fails_only_against_a_kept_head,
    |app| {
        let agency = chain(&app, 10).await;
        let kept = cli_head(&app);
        let head = lantern::platform::audit_head::SignedHead::parse(&kept).unwrap();
        assert_eq!((head.agency.as_str(), head.seq), ("riverton", 10));
        assert!(head.signature_is_valid());
        let (code, out) = cli_verify_head(&app, &kept);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("holds the kept head (row 10)"), "{out}");

        drop_guards(&app).await;
        app.exec(&format!(
            "DELETE FROM audit_log WHERE agency_id = {agency} AND seq >= 9"
        ))
        .await;
        rewrite_head(&app, agency, 8).await;
        // The chain's own check is fooled: that is what the kept head is for.
        assert!(audit::verify(&app.db, agency).await.unwrap().is_intact());
        assert_eq!(cli_verify(&app).0, 0);

        let (code, out) = cli_verify_head(&app, &kept);
        assert_eq!(code, 3, "{out}");
        assert!(
            out.contains("BROKEN against the kept head")
                && out.contains("rows after 8 were deleted"),
            "{out}"
        );
        // A head kept in a file works the same way.
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &kept).unwrap();
        assert_eq!(cli_verify_head(&app, file.path().to_str().unwrap()).0, 3);
    }
);

db_test!(
    a_rewritten_and_rehashed_tail_fails_against_a_kept_head,
    |app| {
        let agency = chain(&app, 10).await;
        let kept = cli_head(&app);
        drop_guards(&app).await;
        // Replace row 10 with a row of other content, correctly linked and hashed, and move the head.
        let rows = audit::list(&app.db, agency, &audit::Filter::default(), 100)
            .await
            .unwrap();
        let mut forged = rows.iter().find(|r| r.seq == 10).unwrap().clone();
        forged.target = "thing:forged".into();
        forged.hash = forged.expected_hash();
        app.exec(&format!(
            "DELETE FROM audit_log WHERE agency_id = {agency} AND seq = 10"
        ))
        .await;
        app.exec(&format!(
        "INSERT INTO audit_log (agency_id, seq, at, actor_id, actor, action, target, detail, ip, prev_hash, hash) \
         VALUES ({agency}, 10, {}, NULL, '{}', '{}', '{}', '{}', NULL, '{}', '{}')",
        forged.at, forged.actor, forged.action, forged.target, forged.detail, forged.prev_hash, forged.hash
    ))
    .await;
        rewrite_head(&app, agency, 10).await;
        assert!(audit::verify(&app.db, agency).await.unwrap().is_intact());

        let (code, out) = cli_verify_head(&app, &kept);
        assert_eq!(code, 3, "{out}");
        assert!(out.contains("rewritten and re-hashed"), "{out}");

        // An altered head is refused as such, before the chain is read.
        let altered = kept.replace("\"seq\":10", "\"seq\":9");
        let (code, out) = cli_verify_head(&app, &altered);
        assert_eq!(code, 3, "{out}");
        assert!(out.contains("signature does not match"), "{out}");
        let (code, _) = cli_verify_head(&app, "{not a head");
        assert_eq!(code, 1);
    }
);

db_test!(the_daily_heads_are_public_and_verify, |app| {
    let agency = chain(&app, 6).await;
    let mut c = app.client();
    let r = c.get("/riverton/audit-heads").await;
    r.assert_status(StatusCode::OK);
    assert!(
        r.body.contains("Nothing has been written"),
        "no day has ended yet"
    );

    app.clock.advance(2 * 24 * 3600);
    audit::record(
        &app.db,
        agency,
        app.clock.unix(),
        &Event::new(&Actor::System("test"), "test.event", "thing:later"),
    )
    .await
    .unwrap();
    let r = c.get("/riverton/audit-heads.json").await;
    r.assert_status(StatusCode::OK);
    let days: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(days.len(), 2, "{}", r.body);
    for day in &days {
        let head = lantern::platform::audit_head::SignedHead::parse(&day.to_string()).unwrap();
        assert!(head.signature_is_valid(), "{day}");
        // The day's last row is row 6: the seventh was written today.
        assert_eq!(head.seq, 6, "{day}");
        let (code, out) = cli_verify_head(&app, &day.to_string());
        assert_eq!(code, 0, "{out}");
    }
    let es = c.get("/riverton/es/audit-heads").await;
    es.assert_status(StatusCode::OK);
    assert!(es.body.contains("huellas diarias"), "{}", es.body);
    assert!(
        es.body
            .contains(&days[0]["hash"].as_str().unwrap().to_string())
    );
});
