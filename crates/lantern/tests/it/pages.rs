//! Pages as a visitor meets them: languages, security headers, error pages, assets, health.

use axum::http::StatusCode;
use lantern::platform::accounts::Role;

use crate::db_test;

db_test!(the_public_home_speaks_english_and_spanish, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let mut tx = app.db.begin().await.unwrap();
    lantern::platform::roster::insert_district(&mut tx, a.id, "D1", "Northside")
        .await
        .unwrap();
    lantern::platform::roster::insert_margin(&mut tx, a.id, "D1", "race", "white", 12_345, "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut c = app.client();

    let en = c.get("/riverton").await;
    en.assert_status(StatusCode::OK);
    assert!(en.body.contains("<html lang=\"en\">"));
    assert!(
        en.body.contains("What we publish")
            && en.body.contains("Northside")
            && en.body.contains("12,345")
    );
    assert!(
        en.body.contains("href=\"/riverton/es\""),
        "switch to Spanish"
    );

    let es = c.get("/riverton/es").await;
    es.assert_status(StatusCode::OK);
    assert!(es.body.contains("<html lang=\"es\">"));
    assert!(es.body.contains("Lo que publicamos"));
    assert!(
        es.body.contains("href=\"/riverton/en\""),
        "switch back to English"
    );
    assert!(
        es.body.contains("href=\"/riverton/es/signin\""),
        "links keep the language"
    );

    // Without a language in the address, the browser's preference decides.
    c.headers
        .push(("accept-language".into(), "es-MX,es;q=0.9,en;q=0.5".into()));
    let negotiated = c.get("/riverton").await;
    assert!(negotiated.body.contains("<html lang=\"es\">"));
    let signin = c.get("/riverton/es/signin").await;
    assert!(signin.body.contains("Iniciar sesión") && signin.body.contains("Nombre de usuario"));
});

db_test!(pages_carry_strict_security_headers, |app| {
    app.agency("riverton", "Riverton PD").await;
    let mut c = app.client();
    let r = c.get("/riverton").await;
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'")
    );
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["referrer-policy"], "no-referrer");
    assert!(
        r.headers.get("strict-transport-security").is_none(),
        "no HSTS over plain http"
    );
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure")
    );
    // No inline script or style anywhere in the page.
    assert!(!r.body.contains("<script>") && !r.body.contains("style=\""));
});

db_test!(
    https_deployments_get_hsts_and_secure_cookies,
    config = |c: &mut lantern::Config| c.public_url = Some("https://lantern.example.gov".into()),
    |app| {
        let a = app.agency("riverton", "Riverton PD").await;
        let (_, pw) = app.user(&a, "ana", Role::Analyst).await;
        let mut c = app.client();
        let r = c.get("/riverton").await;
        assert_eq!(
            r.headers["strict-transport-security"],
            "max-age=63072000; includeSubDomains"
        );
        assert!(r.headers["set-cookie"].to_str().unwrap().contains("Secure"));
        let r = c.sign_in("riverton", "ana", &pw).await;
        let session_cookie = r
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|v| v.starts_with("lantern_session="))
            .unwrap();
        assert!(
            session_cookie.contains("Secure")
                && session_cookie.contains("HttpOnly")
                && session_cookie.contains("SameSite=Lax"),
            "{session_cookie}"
        );
    }
);

db_test!(errors_are_pages_in_the_visitors_language, |app| {
    app.agency("riverton", "Riverton PD").await;
    let mut c = app.client();
    let r = c.get("/riverton/no-such-page").await;
    r.assert_status(StatusCode::NOT_FOUND);
    assert!(r.body.contains("Page not found") && r.body.contains("href=\"/riverton\""));
    let r = c.get("/riverton/es/no-such-page").await;
    assert!(r.body.contains("No se encontró la página") && r.body.contains("<html lang=\"es\">"));
    let r = c.get("/no-such-agency").await;
    r.assert_status(StatusCode::NOT_FOUND);
});

db_test!(staff_pages_show_real_counts, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, pw) = app.user(&a, "chief", Role::Admin).await;
    app.user(&a, "ana", Role::Analyst).await;
    app.user(&a, "bo", Role::Analyst).await;
    let mut c = app.client().signed_in("riverton", "chief", &pw).await;
    let home = c.get("/riverton/staff").await;
    home.assert_status(StatusCode::OK);
    assert!(
        home.body
            .contains("<th scope=\"row\">Analyst</th><td class=\"num\">2</td>"),
        "{}",
        home.body
    );
    assert!(
        home.body
            .contains("<th scope=\"row\">Administrator</th><td class=\"num\">1</td>")
    );
    assert_eq!(
        home.headers["cache-control"], "no-store",
        "staff pages are not cached"
    );
});

db_test!(admins_manage_accounts_with_clear_errors, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (me, pw) = app.user(&a, "chief", Role::Admin).await;
    let mut c = app.client().signed_in("riverton", "chief", &pw).await;
    let r = c
        .post(
            "/riverton/staff/users",
            &[
                ("username", "a b"),
                ("role", "analyst"),
                ("password", "password"),
                ("email", "nope"),
            ],
        )
        .await;
    r.assert_status(StatusCode::OK);
    for message in [
        "Username may contain only",
        "commonly used",
        "E-mail must look like",
    ] {
        assert!(r.body.contains(message), "{message}: {}", r.body);
    }
    assert!(
        r.body.contains("href=\"#username\""),
        "the error summary links to the field"
    );
    let r = c
        .post(
            "/riverton/staff/users",
            &[
                ("username", "Dee.Diaz"),
                ("display_name", "Dee Diaz"),
                ("role", "supervisor"),
                ("password", "river stones at noon"),
            ],
        )
        .await;
    assert!(
        r.body.contains("Account <strong>dee.diaz</strong> created"),
        "{}",
        r.body
    );
    let r = c
        .post(
            "/riverton/staff/users",
            &[
                ("username", "dee.diaz"),
                ("role", "supervisor"),
                ("password", "river stones at noon"),
            ],
        )
        .await;
    assert!(r.body.contains("already taken"), "{}", r.body);
    // An admin cannot lock themselves out.
    let r = c
        .post(
            &format!("/riverton/staff/users/{}", me.id),
            &[("action", "save"), ("role", "analyst"), ("active", "on")],
        )
        .await;
    assert!(
        r.body.contains("cannot remove your own administrator role"),
        "{}",
        r.body
    );
    let mut dee = app
        .client()
        .signed_in("riverton", "dee.diaz", "river stones at noon")
        .await;
    dee.get("/riverton/staff/officers")
        .await
        .assert_status(StatusCode::OK);
});

db_test!(assets_are_cached_and_health_is_reported, |app| {
    let mut c = app.client();
    let css = lantern::web::assets::css_url();
    let r = c.get(&css).await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/css; charset=utf-8");
    assert!(
        r.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(
        c.get("/static/lantern-000000000000.css").await.status,
        StatusCode::NOT_FOUND
    );
    let h = c.get("/healthz").await;
    h.assert_status(StatusCode::OK);
    assert_eq!(h.body, "ok\n");
});
