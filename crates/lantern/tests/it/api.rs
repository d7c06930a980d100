//! The JSON API: tokens, problem documents, and the OpenAPI document.

use axum::http::{Method, StatusCode};
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

db_test!(the_api_answers_as_its_document_says, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, secret) = lantern::platform::api_tokens::create(
        &app.db,
        a.id,
        "analyst script",
        Role::Analyst,
        &lantern::platform::audit::Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();
    let mut c = app.client().bearer(&secret);
    // A method the address does not take: 405 with what it takes, not a refusal by role.
    for method in [Method::DELETE, Method::PUT, Method::PATCH] {
        let r = c.request(method.clone(), "/api/v1/agency", None).await;
        r.assert_status(StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers["allow"], "GET, HEAD", "{method}");
        assert_eq!(r.headers["content-type"], "application/problem+json");
    }
    let r = c.request(Method::GET, "/api/v1/stops/imports", None).await;
    r.assert_status(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers["allow"], "POST");
    // Parameters that do not parse are 400, naming the parameter.
    let r = c.get("/api/v1/stops/imports/first").await;
    r.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["errors"][0]["field"], "id");
    let r = c.get("/api/v1/stops/analysis?year=last").await;
    r.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["errors"][0]["field"], "year");
    let r = c.get("/api/v1/stops/analysis?stop_type=bicycle").await;
    r.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["errors"][0]["field"], "stop_type");
    // A year with no stops names nothing: not found, saying which.
    let r = c.get("/api/v1/stops/analysis?year=1999").await;
    r.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(r.json()["detail"], "No stops in 1999.");
    // A file that is not stops is refused at once, naming what is missing.
    let r = c
        .request(
            Method::POST,
            "/api/v1/stops/imports",
            Some(("text/csv", b"name,colour\nx,red\n".to_vec())),
        )
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["field"], "body");
    assert!(
        r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("\"date\"")
    );
});

#[test]
fn every_operation_documents_the_answers_it_can_give() {
    let doc = serde_json::to_value(lantern::app::api::document()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let rule =
                lantern::platform::policy::rule_for(&method.to_uppercase().parse().unwrap(), path)
                    .unwrap();
            if matches!(rule.access, lantern::platform::policy::Access::Api(_)) {
                for code in ["401", "403"] {
                    assert!(responses.contains_key(code), "{method} {path} lacks {code}");
                }
            }
            if op["parameters"].as_array().is_some_and(|p| !p.is_empty()) {
                assert!(responses.contains_key("400"), "{method} {path} lacks 400");
            }
            for (code, r) in responses {
                if code.starts_with('4') {
                    assert!(
                        r["content"]["application/problem+json"].is_object(),
                        "{method} {path} {code} is not a problem document"
                    );
                }
            }
        }
    }
    // Parameters are typed as the server reads them.
    let analysis = &doc["paths"]["/api/v1/stops/analysis"]["get"]["parameters"];
    let param = |name: &str| {
        analysis
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["schema"]
            .clone()
    };
    assert_eq!(param("year")["type"], "integer");
    assert_eq!(
        param("stop_type")["enum"],
        serde_json::json!(["vehicular", "pedestrian"])
    );
    let survey = doc["paths"]["/api/v1/contacts"]["post"]["parameters"][0]["schema"].clone();
    assert_eq!(survey["type"], "integer");
}

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
