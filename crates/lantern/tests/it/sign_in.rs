//! Signing in: lockout, idle and absolute timeouts, MFA enrolment and challenge, rate limit,
//! CSRF, session fixation, and what the audit chain records of each.

use axum::http::StatusCode;
use lantern::platform::accounts::Role;
use lantern::platform::audit::{self, Filter};
use lantern::platform::{agencies, mfa};

use crate::db_test;
use crate::helpers::{T0, TestApp, between};

async fn actions(app: &TestApp, agency_id: i64) -> Vec<String> {
    let mut rows = audit::list(&app.db, agency_id, &Filter::default(), 1000)
        .await
        .unwrap();
    rows.reverse();
    rows.into_iter().map(|e| e.action).collect()
}

/// The sign-in page's answer with the parts that differ by request taken out (the username
/// typed is echoed back, and the form carries a fresh CSRF token).
fn answer(body: &str, username: &str) -> String {
    let body = body.replace(username, "USERNAME");
    let mut out = String::new();
    for line in body.lines() {
        if !line.contains("csrf") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

db_test!(wrong_passwords_lock_the_account_for_ten_minutes, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (u, password) = app.user(&a, "ana", Role::Analyst).await;
    let mut c = app.client();

    for attempt in 1..=4 {
        let r = c.sign_in("riverton", "ana", "wrong password here").await;
        r.assert_status(StatusCode::OK);
        assert!(
            r.body.contains("The username or password is not right"),
            "attempt {attempt}: {}",
            r.body
        );
    }
    let r = c.sign_in("riverton", "ana", "wrong password here").await;
    r.assert_status(StatusCode::OK);
    let user = lantern::platform::accounts::find_by_username(&app.db, a.id, "ana")
        .await
        .unwrap()
        .unwrap();
    assert!(user.is_locked(app.clock.unix()), "the fifth failure locks");

    // While locked, even the right password does not get in.
    let r = c.sign_in("riverton", "ana", &password).await;
    r.assert_status(StatusCode::OK);
    assert!(!c.get("/riverton/staff").await.status.is_success());

    app.clock.advance(9 * 60);
    let r = c.sign_in("riverton", "ana", &password).await;
    assert!(
        !c.get("/riverton/staff").await.status.is_success(),
        "still locked after 9 minutes: {}",
        r.body
    );

    app.clock.advance(61);
    let r = c.sign_in("riverton", "ana", &password).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "unlocked after 10 minutes: {}",
        r.body
    );
    // The owner is told at once, on the page they land on, and only once: five wrong passwords
    // and the two tries while it was locked.
    let home = c.get("/riverton/staff").await;
    home.assert_status(StatusCode::OK);
    assert!(
        home.body
            .contains("there were 7 failed attempts to sign in to your account, and it was locked for 10 minutes"),
        "{}",
        home.body
    );
    assert!(
        !c.get("/riverton/staff")
            .await
            .body
            .contains("failed attempts"),
        "the warning is shown once"
    );
    let _ = u;

    let log = actions(&app, a.id).await;
    let failures = log.iter().filter(|a| *a == "signin.failure").count();
    assert_eq!(failures, 5);
    assert_eq!(log.iter().filter(|a| *a == "account.locked").count(), 1);
    assert_eq!(log.iter().filter(|a| *a == "signin.locked").count(), 2);
    assert_eq!(log.last().map(String::as_str), Some("signin.success"));
});

db_test!(
    a_locked_account_answers_as_an_unknown_username_does,
    |app| {
        let a = app.agency("riverton", "Riverton PD").await;
        let (_, password) = app.user(&a, "jqpublic", Role::Analyst).await;
        let mut c = app.client();
        let unknown = answer(
            &c.sign_in("riverton", "jqnobody", "wrong password here")
                .await
                .body,
            "jqnobody",
        );
        let wrong = answer(
            &c.sign_in("riverton", "jqpublic", "wrong password here")
                .await
                .body,
            "jqpublic",
        );
        assert_eq!(
            wrong, unknown,
            "a wrong password says what an unknown name says"
        );
        for _ in 0..3 {
            c.sign_in("riverton", "jqpublic", "wrong password here")
                .await;
        }
        // The failure that locks, and attempts while locked (right password or wrong), say the same.
        let locking = c
            .sign_in("riverton", "jqpublic", "wrong password here")
            .await;
        assert_eq!(answer(&locking.body, "jqpublic"), unknown);
        let right_while_locked = c.sign_in("riverton", "jqpublic", &password).await;
        assert_eq!(answer(&right_while_locked.body, "jqpublic"), unknown);
        assert!(!unknown.contains("This account is locked"), "{unknown}");
        let es_unknown = c
            .post(
                "/riverton/es/signin",
                &[
                    ("username", "jqnobody"),
                    ("password", "wrong password here"),
                ],
            )
            .await;
        let es_locked = c
            .post(
                "/riverton/es/signin",
                &[
                    ("username", "jqpublic"),
                    ("password", "wrong password here"),
                ],
            )
            .await;
        assert_eq!(
            answer(&es_locked.body, "jqpublic"),
            answer(&es_unknown.body, "jqnobody"),
            "in Spanish too"
        );
    }
);

db_test!(a_success_resets_the_failure_count, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, password) = app.user(&a, "ana", Role::Analyst).await;
    let mut c = app.client();
    for _ in 0..4 {
        c.sign_in("riverton", "ana", "not the password at all")
            .await;
    }
    assert_eq!(
        c.sign_in("riverton", "ana", &password).await.status,
        StatusCode::SEE_OTHER
    );
    let mut c = app.client();
    for _ in 0..4 {
        c.sign_in("riverton", "ana", "not the password at all")
            .await;
    }
    // Eight failures in all, but never five in a row.
    assert_eq!(
        c.sign_in("riverton", "ana", &password).await.status,
        StatusCode::SEE_OTHER
    );
});

db_test!(unknown_users_and_wrong_passwords_look_the_same, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    app.user(&a, "ana", Role::Analyst).await;
    let mut c = app.client();
    let unknown = c.sign_in("riverton", "nobody", "whatever password").await;
    let wrong = c.sign_in("riverton", "ana", "whatever password").await;
    assert_eq!(unknown.status, wrong.status);
    assert!(
        unknown
            .body
            .contains("The username or password is not right")
    );
    assert!(wrong.body.contains("The username or password is not right"));
    let log = audit::list(
        &app.db,
        a.id,
        &Filter {
            action: "signin.failure".into(),
            ..Filter::default()
        },
        10,
    )
    .await
    .unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().any(|e| e.target == "username:nobody"));
    assert!(
        log.iter().all(|e| e.ip.as_deref() == Some("203.0.113.7")),
        "the client address is recorded"
    );
});

db_test!(sessions_end_after_thirty_idle_minutes, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, password) = app.user(&a, "ana", Role::Analyst).await;
    let mut c = app.client().signed_in("riverton", "ana", &password).await;

    // Activity keeps the session alive well past 30 minutes in total…
    for _ in 0..3 {
        app.clock.advance(29 * 60);
        c.get("/riverton/staff").await.assert_status(StatusCode::OK);
    }
    // …but 30 minutes without a request end it.
    app.clock.advance(30 * 60 + 1);
    let r = c.get("/riverton/staff").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = r.location().unwrap().to_string();
    assert!(
        to.starts_with("/riverton/signin?next=%2Friverton%2Fstaff"),
        "{to}"
    );
    assert!(to.contains("expired=1"), "the sign-in page says why: {to}");
    let page = c.get(&to).await;
    assert!(
        page.body.contains("signed out after 30 minutes"),
        "{}",
        page.body
    );
});

db_test!(
    sessions_end_after_twelve_hours_whatever_the_activity,
    |app| {
        let a = app.agency("riverton", "Riverton PD").await;
        let (_, password) = app.user(&a, "ana", Role::Analyst).await;
        let mut c = app.client().signed_in("riverton", "ana", &password).await;
        for _ in 0..(12 * 3 - 1) {
            app.clock.advance(20 * 60);
            c.get("/riverton/staff").await.assert_status(StatusCode::OK);
        }
        app.clock.advance(20 * 60);
        assert_eq!(c.get("/riverton/staff").await.status, StatusCode::SEE_OTHER);
    }
);

db_test!(signing_in_issues_a_new_session_id, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, password) = app.user(&a, "ana", Role::Analyst).await;
    let mut c = app.client();
    // Plant a session before signing in (as an attacker would try to).
    c.cookies
        .insert("lantern_session".into(), "AAAAAAAAAAAAAAAAAAAAAA".into());
    let mut c = c.signed_in("riverton", "ana", &password).await;
    let id = c.cookies.get("lantern_session").cloned().unwrap();
    assert_ne!(id, "AAAAAAAAAAAAAAAAAAAAAA");
    // Signing out ends the session on the server, not only in the browser.
    let stolen = id.clone();
    c.post("/riverton/signout", &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let mut thief = app.client();
    thief.cookies.insert("lantern_session".into(), stolen);
    assert_eq!(
        thief.get("/riverton/staff").await.status,
        StatusCode::SEE_OTHER
    );
});

db_test!(deactivated_accounts_lose_their_session_at_once, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (admin, admin_pw) = app.user(&a, "chief", Role::Admin).await;
    let (ana, pw) = app.user(&a, "ana", Role::Analyst).await;
    let mut ana_c = app.client().signed_in("riverton", "ana", &pw).await;
    ana_c
        .get("/riverton/staff")
        .await
        .assert_status(StatusCode::OK);
    let mut admin_c = app.client().signed_in("riverton", "chief", &admin_pw).await;
    admin_c
        .post(
            &format!("/riverton/staff/users/{}", ana.id),
            &[("action", "save"), ("role", "analyst")],
        )
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        ana_c.get("/riverton/staff").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        ana_c.sign_in("riverton", "ana", &pw).await.status,
        StatusCode::OK,
        "cannot sign in again"
    );
    let _ = admin;
});

db_test!(mfa_enrolment_then_challenge, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    agencies::set_mfa_required(&app.db, a.id, true)
        .await
        .unwrap();
    let (_, password) = app.user(&a, "chief", Role::Admin).await;
    let mut c = app.client();

    // An admin must enrol before reaching any staff page.
    let r = c.sign_in("riverton", "chief", &password).await;
    assert_eq!(r.location(), Some("/riverton/account/mfa"));
    assert_eq!(
        c.get("/riverton/staff").await.location(),
        Some("/riverton/account/mfa")
    );
    let page = c.get("/riverton/account/mfa").await;
    page.assert_status(StatusCode::OK);
    assert!(page.body.contains("<svg"), "QR code shown");
    let secret = between(&page.body, "<code class=\"secret\">", "</code>")
        .unwrap()
        .to_string();

    let wrong = c.post("/riverton/account/mfa", &[("code", "000000")]).await;
    assert!(wrong.body.contains("not right"), "{}", wrong.body);
    let code = mfa::code_at(&secret, app.clock.unix()).unwrap();
    let r = c.post("/riverton/account/mfa", &[("code", &code)]).await;
    assert_eq!(r.location(), Some("/riverton/staff"));
    c.get("/riverton/staff").await.assert_status(StatusCode::OK);
    c.post("/riverton/signout", &[]).await;

    // From now on the password alone is not enough.
    app.clock.advance(60);
    let r = c.sign_in("riverton", "chief", &password).await;
    assert_eq!(r.location(), Some("/riverton/signin/mfa"));
    assert_eq!(
        c.get("/riverton/staff").await.location(),
        Some("/riverton/signin/mfa")
    );
    let r = c.post("/riverton/signin/mfa", &[("code", "123456")]).await;
    assert!(r.body.contains("not right"), "{}", r.body);
    let code = mfa::code_at(&secret, app.clock.unix()).unwrap();
    let r = c.post("/riverton/signin/mfa", &[("code", &code)]).await;
    assert_eq!(r.location(), Some("/riverton/staff"));
    c.get("/riverton/staff").await.assert_status(StatusCode::OK);

    // The same code cannot be used a second time, even within its 30 seconds.
    let mut other = app.client();
    other.sign_in("riverton", "chief", &password).await;
    let r = other.post("/riverton/signin/mfa", &[("code", &code)]).await;
    assert!(
        r.body.contains("not right"),
        "replayed code refused: {}",
        r.body
    );

    let log = actions(&app, a.id).await;
    for expected in ["mfa.enrolled", "mfa.success", "mfa.failure"] {
        assert!(
            log.iter().any(|a| a == expected),
            "{expected} recorded: {log:?}"
        );
    }
    let _ = T0;
});

db_test!(wrong_mfa_codes_count_toward_lockout, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (u, password) = app.user(&a, "chief", Role::Admin).await;
    let secret = mfa::new_secret();
    lantern::platform::accounts::set_pending_totp(&app.db, a.id, u.id, &secret)
        .await
        .unwrap();
    let mut tx = app.db.begin().await.unwrap();
    lantern::platform::accounts::enable_mfa(&mut tx, a.id, u.id, 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut c = app.client();
    for _ in 0..4 {
        assert_eq!(
            c.sign_in("riverton", "chief", &password).await.location(),
            Some("/riverton/signin/mfa")
        );
        c.post("/riverton/signin/mfa", &[("code", "000000")]).await;
    }
    c.sign_in("riverton", "chief", &password).await;
    let r = c.post("/riverton/signin/mfa", &[("code", "000000")]).await;
    assert!(r.body.contains("locked for 10 minutes"), "{}", r.body);
    let code = mfa::code_at(&secret, app.clock.unix()).unwrap();
    let r = c.sign_in("riverton", "chief", &password).await;
    assert!(
        r.body.contains("The username or password is not right"),
        "the password step refuses too, saying no more than for any failure: {}",
        r.body
    );
    assert_ne!(
        c.post("/riverton/signin/mfa", &[("code", &code)])
            .await
            .location(),
        Some("/riverton/staff")
    );
});

db_test!(
    sign_in_is_rate_limited_per_address,
    config = |c: &mut lantern::Config| c.signin_burst = 3,
    |app| {
        app.agency("riverton", "Riverton PD").await;
        let mut c = app.client();
        for _ in 0..3 {
            c.sign_in("riverton", "someone", "some password")
                .await
                .assert_status(StatusCode::OK);
        }
        let r = c.sign_in("riverton", "someone", "some password").await;
        r.assert_status(StatusCode::TOO_MANY_REQUESTS);
        assert!(r.body.contains("Too many"), "{}", r.body);
        // Another address is not affected.
        let mut other = app.client();
        other.ip = "198.51.100.9".into();
        other
            .sign_in("riverton", "someone", "some password")
            .await
            .assert_status(StatusCode::OK);
    }
);

db_test!(forms_without_a_valid_csrf_token_are_refused, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, password) = app.user(&a, "ana", Role::Analyst).await;
    let mut c = app.client();
    // No token at all.
    c.get("/riverton/signin").await;
    let r = c
        .post_raw(
            "/riverton/signin",
            &[("username", "ana"), ("password", &password)],
        )
        .await;
    r.assert_status(StatusCode::FORBIDDEN);
    assert!(r.body.contains("form has expired"), "{}", r.body);
    // A token made for another browser's cookie.
    let mut other = app.client();
    let foreign = other.csrf().await;
    let r = c
        .post_raw(
            "/riverton/signin",
            &[
                ("username", "ana"),
                ("password", &password),
                ("csrf", &foreign),
            ],
        )
        .await;
    r.assert_status(StatusCode::FORBIDDEN);
    // The right token works, as a field or as a header.
    let mut c = c.signed_in("riverton", "ana", &password).await;
    let token = c.csrf().await;
    c.headers.push(("x-csrf-token".into(), token));
    let r = c.post_raw("/riverton/signout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Cross-site requests from browsers are refused before the token is even looked at.
    let mut c = app.client();
    c.headers
        .push(("sec-fetch-site".into(), "cross-site".into()));
    assert_eq!(
        c.sign_in("riverton", "ana", &password).await.status,
        StatusCode::FORBIDDEN
    );
});

db_test!(next_leads_back_to_the_page_asked_for, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, password) = app.user(&a, "chief", Role::Admin).await;
    let mut c = app.client();
    let r = c.get("/riverton/staff/settings").await;
    let to = r.location().unwrap().to_string();
    let next = between(&format!("{to}&"), "next=", "&")
        .unwrap()
        .replace("%2F", "/");
    let r = c
        .post(
            "/riverton/signin",
            &[
                ("username", "chief"),
                ("password", &password),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/riverton/staff/settings"));
    let mut c = app.client();
    let r = c
        .post(
            "/riverton/signin",
            &[
                ("username", "chief"),
                ("password", &password),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/riverton/staff"));
});

db_test!(changing_the_password_signs_out_other_sessions, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, password) = app.user(&a, "ana", Role::Analyst).await;
    let mut laptop = app.client().signed_in("riverton", "ana", &password).await;
    let mut phone = app.client().signed_in("riverton", "ana", &password).await;
    let r = laptop
        .post(
            "/riverton/account/password",
            &[
                ("current", &password),
                ("new", "password"),
                ("confirm", "password"),
            ],
        )
        .await;
    assert!(
        r.body.contains("commonly used"),
        "weak password refused: {}",
        r.body
    );
    let r = laptop
        .post(
            "/riverton/account/password",
            &[
                ("current", &password),
                ("new", "lantern glows at dusk"),
                ("confirm", "lantern glows at dusk"),
            ],
        )
        .await;
    assert!(
        r.body.contains("Your password has been changed"),
        "{}",
        r.body
    );
    laptop
        .get("/riverton/staff")
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        phone.get("/riverton/staff").await.status,
        StatusCode::SEE_OTHER
    );
    let mut again = app.client();
    assert_eq!(
        again.sign_in("riverton", "ana", &password).await.status,
        StatusCode::OK,
        "old password refused"
    );
    assert_eq!(
        again
            .sign_in("riverton", "ana", "lantern glows at dusk")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
});
