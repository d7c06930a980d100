//! Two agencies on one deployment: nothing of one may show through a page or API call of the
//! other.

use axum::http::StatusCode;
use lantern::platform::accounts::Role;
use lantern::platform::api_tokens;
use lantern::platform::audit::Actor;
use lantern::platform::policy::RULES;
use lantern::platform::roster::{self, NewOfficer};

use crate::db_test;
use crate::helpers::TestApp;

struct Seeded {
    officer: i64,
    token: String,
    token_id: i64,
    user_id: i64,
}

/// An agency with a district, an officer, an admin and a token, all with names unique to it.
async fn seed(app: &TestApp, slug: &str, marker: &str) -> Seeded {
    let a = app.agency(slug, &format!("{marker} Police")).await;
    let (admin, _) = app.user(&a, &format!("{slug}-chief"), Role::Admin).await;
    let mut tx = app.db.begin().await.unwrap();
    roster::insert_district(&mut tx, a.id, "D1", &format!("{marker} District"))
        .await
        .unwrap();
    roster::insert_margin(&mut tx, a.id, "D1", "race", "white", 1234, "test")
        .await
        .unwrap();
    let unit = roster::insert_unit(&mut tx, a.id, &format!("{marker} Patrol"), "patrol", None)
        .await
        .unwrap();
    let officer = roster::insert_officer(
        &mut tx,
        a.id,
        &NewOfficer {
            badge: "7".into(),
            first_name: format!("{marker}first"),
            last_name: format!("{marker}last"),
            rank: "Officer".into(),
            sex: "female".into(),
            race: "white".into(),
            hire_date: "2019-04-01".into(),
            active: true,
            assignments: vec![(unit, "2019-04-01".into(), None)],
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (t, token) = api_tokens::create(
        &app.db,
        a.id,
        &format!("{marker} token"),
        Role::Admin,
        &Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();
    Seeded {
        officer,
        token,
        token_id: t.id,
        user_id: admin.id,
    }
}

db_test!(no_page_or_api_call_of_one_agency_shows_the_other, |app| {
    let alpha = seed(&app, "alpha", "Alphaville").await;
    let beta = seed(&app, "beta", "Betatown").await;
    let pw_of = |slug: &str| format!("{slug}-chief walks the quiet harbor");

    // Every GET route of alpha (the deployment's own index lists all agencies, by design),
    // as alpha's admin, never mentions beta's names.
    let mut a_admin = app
        .client()
        .signed_in("alpha", "alpha-chief", &pw_of("alpha"))
        .await;
    let css = lantern::web::assets::css_url();
    for rule in RULES.iter().filter(|r| r.method == "GET" && r.path != "/") {
        let path = rule
            .path
            .replace("{agency}", "alpha")
            .replace("/static/{file}", &css)
            .replace(
                "{id}",
                &if rule.path.contains("officers") {
                    alpha.officer
                } else {
                    alpha.user_id
                }
                .to_string(),
            );
        let mut client = if rule.path.starts_with("/api/") {
            app.client().bearer(&alpha.token)
        } else {
            crate::helpers::Client::clone_of(&a_admin)
        };
        let r = client.get(&path).await;
        assert!(
            !r.body.contains("Betatown") && !r.body.contains("beta-chief"),
            "{path} leaks the other agency: {}",
            r.body
        );
        if path == "/alpha/staff/audit" {
            assert!(
                r.body.contains("alpha-chief"),
                "alpha's own audit rows are shown"
            );
        }
    }

    // Beta's records cannot be opened through alpha's addresses.
    a_admin
        .get(&format!("/alpha/staff/officers/{}", beta.officer))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    a_admin
        .get(&format!("/alpha/staff/users/{}", beta.user_id))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    a_admin
        .post(
            &format!("/alpha/staff/tokens/{}/revoke", beta.token_id),
            &[],
        )
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let mut b_api = app.client().bearer(&beta.token);
    b_api
        .get("/api/v1/agency")
        .await
        .assert_status(StatusCode::OK);

    // Alpha's session is worth nothing at beta's pages.
    for path in [
        "/beta/staff",
        "/beta/staff/users",
        "/beta/staff/audit",
        "/beta/account",
    ] {
        let r = a_admin.get(path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert!(r.location().unwrap().starts_with("/beta/signin"), "{path}");
    }
    // Alpha's credentials do not sign in at beta.
    let mut c = app.client();
    assert_eq!(
        c.sign_in("beta", "alpha-chief", &pw_of("alpha"))
            .await
            .status,
        StatusCode::OK
    );

    // Tokens act only for their own agency.
    let mut a_api = app.client().bearer(&alpha.token);
    let info = a_api.get("/api/v1/agency").await.json();
    assert_eq!(info["slug"], "alpha");
    assert_eq!(info["districts"][0]["name"], "Alphaville District");
    let officers = a_api.get("/api/v1/officers").await.json();
    assert_eq!(officers.as_array().unwrap().len(), 1);
    assert_eq!(officers[0]["last_name"], "Alphavillelast");
});

db_test!(the_root_leads_to_the_only_agency_or_lists_them, |app| {
    let mut c = app.client();
    let r = c.get("/").await;
    r.assert_status(StatusCode::OK);
    assert!(r.body.contains("No agency yet"));
    app.agency("alpha", "Alphaville Police").await;
    let r = c.get("/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/alpha"));
    assert_eq!(c.get("/es").await.location(), Some("/alpha/es"));
    app.agency("beta", "Betatown Police").await;
    let r = c.get("/").await;
    r.assert_status(StatusCode::OK);
    assert!(r.body.contains("href=\"/alpha\"") && r.body.contains("href=\"/beta\""));
});
