//! The JSON API: tokens, problem documents, and the OpenAPI document.

use axum::http::StatusCode;
use lantern::platform::accounts::Role;

use crate::db_test;
use crate::helpers::between;

db_test!(an_admin_creates_a_token_that_works_until_revoked, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, pw) = app.user(&a, "chief", Role::Admin).await;
    let mut admin = app.client().signed_in("riverton", "chief", &pw).await;
    let r = admin
        .post(
            "/riverton/staff/tokens",
            &[("name", "CAD nightly export"), ("role", "analyst")],
        )
        .await;
    r.assert_status(StatusCode::OK);
    let secret = between(&r.body, "<code class=\"secret\">", "</code>")
        .expect("token shown once")
        .to_string();
    assert!(secret.starts_with("lnt_"));
    // Shown once: the list afterwards carries only its first characters.
    let list = admin.get("/riverton/staff/tokens").await;
    assert!(!list.body.contains(&secret));
    assert!(list.body.contains(&secret[..10]));

    let mut cad = app.client().bearer(&secret);
    let info = cad.get("/api/v1/agency").await;
    info.assert_status(StatusCode::OK);
    assert_eq!(info.json()["name"], "Riverton PD");
    assert_eq!(info.json()["timezone"], "America/Chicago");

    let id = lantern::platform::api_tokens::list(&app.db, a.id)
        .await
        .unwrap()[0]
        .id;
    admin
        .post(&format!("/riverton/staff/tokens/{id}/revoke"), &[])
        .await
        .assert_status(StatusCode::OK);
    let r = cad.get("/api/v1/agency").await;
    r.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_eq!(r.json()["status"], 401);
});

db_test!(api_errors_are_problem_documents, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, secret) = lantern::platform::api_tokens::create(
        &app.db,
        a.id,
        "officer app",
        Role::Staff,
        &lantern::platform::audit::Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();
    let mut c = app.client().bearer(&secret);
    let r = c.get("/api/v1/officers").await;
    r.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(r.json()["title"], "Forbidden");
    let r = c.get("/api/v1/nothing-here").await;
    r.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let mut anon = app.client().bearer("lnt_not-a-real-token");
    assert_eq!(
        anon.get("/api/v1/agency").await.status,
        StatusCode::UNAUTHORIZED
    );
});

#[test]
fn the_openapi_document_is_stable() {
    let doc = serde_json::to_value(lantern::app::api::document()).unwrap();
    // Every route of the policy under /api/v1 (but the document itself) is documented.
    for rule in lantern::platform::policy::RULES
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/") && !r.path.ends_with("openapi.json"))
    {
        assert!(
            doc["paths"][rule.path][rule.method.to_lowercase()].is_object(),
            "{} {} is not in the OpenAPI document",
            rule.method,
            rule.path
        );
    }
    insta::assert_json_snapshot!("openapi", doc);
}
