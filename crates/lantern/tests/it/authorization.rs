//! The route × role test: every route of the policy table, requested by anonymous visitors,
//! by a signed-in person of each role and by an API token of each role, must be allowed or
//! refused exactly as the table below says. The table is written here, apart from the
//! policy, so a change to either shows up as a disagreement; a route the policy lists but
//! this table does not (a new route) fails the test until someone decides who may use it.

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use lantern::platform::accounts::Role;
use lantern::platform::api_tokens;
use lantern::platform::audit::Actor;
use lantern::platform::policy::{self, Denied, RULES};
use lantern::platform::roster::{self, NewOfficer};
use lantern::platform::sessions::DbSessionStore;
use tower::ServiceExt;

use crate::db_test;

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Anyone at all.
    Everyone,
    /// Signed-in people with these roles (never anonymous visitors or bare API tokens).
    SignedIn(&'static [Role]),
    /// Nobody who is signed in or anonymous (only a half-finished sign-in reaches it).
    MidSignIn,
    /// API tokens with these roles (never cookies).
    Api(&'static [Role]),
}

use Expect::*;
use Role::{Admin, Analyst, Investigator, Oversight, Supervisor};

const ALL_ROLES: &[Role] = &[
    Admin,
    Analyst,
    Supervisor,
    Investigator,
    Oversight,
    Role::Staff,
];
const ADMIN: &[Role] = &[Admin];
const ROSTER: &[Role] = &[Admin, Analyst, Supervisor, Investigator, Oversight];
const PERSONNEL: &[Role] = &[Admin, Supervisor, Investigator];
const SURVEY_MANAGERS: &[Role] = &[Admin, Analyst];
const SURVEY_READERS: &[Role] = &[Admin, Analyst, Supervisor, Oversight];
const STOPS: &[Role] = &[Admin, Analyst, Supervisor, Oversight];
const STOP_IMPORTS: &[Role] = &[Admin, Analyst];
const PUBLISHERS: &[Role] = &[Admin, Analyst];

const EXPECTED: &[(&str, &str, Expect)] = &[
    ("GET", "/", Everyone),
    ("GET", "/healthz", Everyone),
    ("GET", "/static/{file}", Everyone),
    ("GET", "/{agency}", Everyone),
    ("GET", "/{agency}/audit-heads", Everyone),
    ("GET", "/{agency}/audit-heads.json", Everyone),
    ("GET", "/{agency}/data/{topic}", Everyone),
    ("GET", "/{agency}/data/{topic}/{file}", Everyone),
    ("GET", "/{agency}/methodology", Everyone),
    ("GET", "/{agency}/open-data", Everyone),
    ("GET", "/{agency}/about-data", Everyone),
    ("GET", "/{agency}/report", Everyone),
    ("GET", "/{agency}/report/{year}", Everyone),
    ("GET", "/{agency}/data.json", Everyone),
    ("GET", "/{agency}/staff/publish", SignedIn(PUBLISHERS)),
    ("POST", "/{agency}/staff/publish", SignedIn(PUBLISHERS)),
    (
        "GET",
        "/{agency}/staff/publish/preview/{topic}",
        SignedIn(PUBLISHERS),
    ),
    ("GET", "/{agency}/signin", Everyone),
    ("POST", "/{agency}/signin", Everyone),
    ("GET", "/{agency}/signin/mfa", MidSignIn),
    ("POST", "/{agency}/signin/mfa", MidSignIn),
    ("POST", "/{agency}/signout", SignedIn(ALL_ROLES)),
    ("GET", "/{agency}/account", SignedIn(ALL_ROLES)),
    ("POST", "/{agency}/account/password", SignedIn(ALL_ROLES)),
    ("GET", "/{agency}/account/mfa", SignedIn(ALL_ROLES)),
    ("POST", "/{agency}/account/mfa", SignedIn(ALL_ROLES)),
    ("GET", "/{agency}/staff", SignedIn(ALL_ROLES)),
    ("GET", "/{agency}/staff/users", SignedIn(ADMIN)),
    ("POST", "/{agency}/staff/users", SignedIn(ADMIN)),
    ("GET", "/{agency}/staff/users/{id}", SignedIn(ADMIN)),
    ("POST", "/{agency}/staff/users/{id}", SignedIn(ADMIN)),
    ("GET", "/{agency}/staff/settings", SignedIn(ADMIN)),
    ("POST", "/{agency}/staff/settings", SignedIn(ADMIN)),
    ("GET", "/{agency}/staff/tokens", SignedIn(ADMIN)),
    ("POST", "/{agency}/staff/tokens", SignedIn(ADMIN)),
    (
        "POST",
        "/{agency}/staff/tokens/{id}/revoke",
        SignedIn(ADMIN),
    ),
    ("GET", "/{agency}/staff/audit", SignedIn(ADMIN)),
    ("GET", "/{agency}/staff/officers", SignedIn(ROSTER)),
    ("GET", "/{agency}/staff/officers/{id}", SignedIn(PERSONNEL)),
    ("GET", "/{agency}/s/{code}", Everyone),
    ("POST", "/{agency}/s/{code}", Everyone),
    ("GET", "/{agency}/s/{code}/thanks", Everyone),
    ("GET", "/{agency}/s/{code}/qr.svg", Everyone),
    ("GET", "/{agency}/s/{code}/qr.png", Everyone),
    ("GET", "/{agency}/s/{code}/flyer", Everyone),
    ("GET", "/{agency}/s/{code}/results", Everyone),
    ("GET", "/{agency}/i/{token}", Everyone),
    ("POST", "/{agency}/i/{token}", Everyone),
    ("GET", "/{agency}/i/{token}/opt-out", Everyone),
    ("POST", "/{agency}/i/{token}/opt-out", Everyone),
    ("GET", "/{agency}/account/surveys", SignedIn(ALL_ROLES)),
    ("GET", "/{agency}/account/surveys/{id}", SignedIn(ALL_ROLES)),
    (
        "POST",
        "/{agency}/account/surveys/{id}",
        SignedIn(ALL_ROLES),
    ),
    ("GET", "/{agency}/staff/surveys", SignedIn(SURVEY_READERS)),
    ("POST", "/{agency}/staff/surveys", SignedIn(SURVEY_MANAGERS)),
    (
        "POST",
        "/{agency}/staff/surveys/import",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "GET",
        "/{agency}/staff/surveys/{id}",
        SignedIn(SURVEY_READERS),
    ),
    (
        "POST",
        "/{agency}/staff/surveys/{id}/publish",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "POST",
        "/{agency}/staff/surveys/{id}/status",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "POST",
        "/{agency}/staff/surveys/{id}/options",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "GET",
        "/{agency}/staff/surveys/{id}/results",
        SignedIn(SURVEY_READERS),
    ),
    (
        "GET",
        "/{agency}/staff/surveys/{id}/export.csv",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "GET",
        "/{agency}/staff/surveys/{id}/flagged",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "POST",
        "/{agency}/staff/surveys/{id}/flagged",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "GET",
        "/{agency}/staff/surveys/{id}/cards",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "GET",
        "/{agency}/staff/surveys/{id}/edit",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "POST",
        "/{agency}/staff/surveys/{id}/edit",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "GET",
        "/{agency}/staff/surveys/{id}/preview",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "POST",
        "/{agency}/staff/surveys/{id}/staff-invitations",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "GET",
        "/{agency}/staff/surveys/{id}/contacts",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "POST",
        "/{agency}/staff/surveys/{id}/contacts",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "POST",
        "/{agency}/staff/surveys/{id}/contacts/deliver",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "POST",
        "/{agency}/staff/surveys/{id}/contacts/retry",
        SignedIn(SURVEY_MANAGERS),
    ),
    (
        "GET",
        "/{agency}/staff/settings/post-contact",
        SignedIn(ADMIN),
    ),
    (
        "POST",
        "/{agency}/staff/settings/post-contact",
        SignedIn(ADMIN),
    ),
    ("GET", "/{agency}/staff/stops", SignedIn(STOPS)),
    (
        "POST",
        "/{agency}/staff/stops/imports",
        SignedIn(STOP_IMPORTS),
    ),
    ("GET", "/{agency}/staff/stops/imports/{id}", SignedIn(STOPS)),
    ("GET", "/{agency}/staff/stops/analysis", SignedIn(STOPS)),
    ("GET", "/{agency}/staff/stops/darkness", SignedIn(STOPS)),
    (
        "GET",
        "/{agency}/staff/stops/export/{file}",
        SignedIn(STOPS),
    ),
    ("GET", "/api/v1/openapi.json", Everyone),
    ("GET", "/api/v1/agency", Api(ALL_ROLES)),
    ("GET", "/api/v1/officers", Api(ROSTER)),
    ("GET", "/api/v1/surveys", Api(SURVEY_READERS)),
    ("GET", "/api/v1/surveys/{id}/results", Api(SURVEY_READERS)),
    (
        "GET",
        "/api/v1/surveys/{id}/responses",
        Api(SURVEY_MANAGERS),
    ),
    ("GET", "/api/v1/stops/analysis", Api(STOPS)),
    ("GET", "/api/v1/stops/darkness", Api(STOPS)),
    ("POST", "/api/v1/stops/imports", Api(STOP_IMPORTS)),
    ("GET", "/api/v1/stops/imports/{id}", Api(STOPS)),
    ("POST", "/api/v1/contacts", Api(SURVEY_MANAGERS)),
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Session(Role),
    Token(Role),
}

fn allowed(expect: Expect, who: Who) -> bool {
    match (expect, who) {
        (Everyone, _) => true,
        (SignedIn(roles), Who::Session(r)) => roles.contains(&r),
        (Api(roles), Who::Token(r)) => roles.contains(&r),
        _ => false,
    }
}

db_test!(every_route_allows_exactly_the_roles_it_should, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let mut passwords = Vec::new();
    for role in ALL_ROLES {
        let (u, pw) = app.user(&a, &format!("u-{}", role.as_str()), *role).await;
        passwords.push((*role, u, pw));
    }
    // Records for the {id} routes: an officer, and tokens to revoke.
    let mut tx = app.db.begin().await.unwrap();
    let officer = roster::insert_officer(
        &mut tx,
        a.id,
        &NewOfficer {
            badge: "1".into(),
            first_name: "A".into(),
            last_name: "B".into(),
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
    let mut tokens = Vec::new();
    for role in ALL_ROLES {
        let (_, secret) = api_tokens::create(
            &app.db,
            a.id,
            &format!("t-{}", role.as_str()),
            *role,
            &Actor::System("test"),
            None,
            app.clock.unix(),
        )
        .await
        .unwrap();
        tokens.push((*role, secret));
    }
    let (spare, _) = api_tokens::create(
        &app.db,
        a.id,
        "spare",
        Analyst,
        &Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();
    let analyst_id = passwords
        .iter()
        .find(|(r, _, _)| *r == Analyst)
        .unwrap()
        .1
        .id;
    // A published community survey for the survey routes.
    let survey = app
        .published_survey(&a, lantern::surveys::templates::Template::CommunityTrust)
        .await;
    lantern::surveys::store::set_options(
        &app.db,
        &survey,
        false,
        true,
        &Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();

    // A publication, so the portal's pages answer.
    lantern::publish::store::publish(
        &app.db,
        a.id,
        app.clock.unix(),
        &Actor::System("test"),
        &["stops.search_rate".to_string()],
        &[],
        "",
    )
    .await
    .unwrap();

    // Both tables name the same routes.
    for rule in RULES {
        assert!(
            EXPECTED
                .iter()
                .any(|(m, p, _)| *m == rule.method && *p == rule.path),
            "route {} {} has no entry in this test: decide who may use it and add it to EXPECTED",
            rule.method,
            rule.path
        );
    }
    for (m, p, _) in EXPECTED {
        assert!(
            policy::rule_for(&m.parse().unwrap(), p).is_some(),
            "{m} {p} is expected but not in the policy"
        );
    }

    let css = lantern::web::assets::css_url();
    let concrete = |path: &str| {
        let id = if path.contains("/tokens/") {
            spare.id
        } else if path.contains("/officers/") {
            officer
        } else if path.contains("/surveys/") {
            survey.id
        } else {
            analyst_id
        };
        path.replace("{agency}", "riverton")
            .replace("{id}", &id.to_string())
            .replace("{code}", &survey.public_code)
            .replace("{token}", "no-such-invitation")
            .replace("/static/{file}", &css)
            .replace("{topic}/{file}", "stops/search_rate.csv")
            .replace("{topic}", "stops")
            .replace("{file}", "rates.csv")
            .replace("{year}", "2017")
    };

    let mut who_all = vec![Who::Anonymous];
    who_all.extend(ALL_ROLES.iter().map(|r| Who::Session(*r)));
    who_all.extend(ALL_ROLES.iter().map(|r| Who::Token(*r)));
    let mut failures = Vec::new();
    for who in who_all {
        let mut client = app.client();
        match who {
            Who::Anonymous => {}
            Who::Session(role) => {
                let (_, u, pw) = passwords.iter().find(|(r, _, _)| *r == role).unwrap();
                client = client.signed_in("riverton", &u.username, pw).await;
            }
            Who::Token(role) => {
                let (_, secret) = tokens.iter().find(|(r, _)| *r == role).unwrap();
                client = client.bearer(secret);
            }
        }
        // Signing out last, so the session lasts through the walk.
        let mut rules: Vec<_> = RULES.iter().collect();
        rules.sort_by_key(|r| r.path.ends_with("/signout"));
        for rule in rules {
            let (_, _, expect) = EXPECTED
                .iter()
                .find(|(m, p, _)| *m == rule.method && *p == rule.path)
                .unwrap();
            let path = concrete(rule.path);
            let method: Method = rule.method.parse().unwrap();
            let response = if method == Method::POST {
                client.post(&path, &[]).await
            } else {
                client.get(&path).await
            };
            let want = allowed(*expect, who);
            let got = !response.denied;
            if want != got {
                failures.push(format!(
                    "{who:?} {} {path}: expected {}, got {} ({})",
                    rule.method,
                    if want { "allowed" } else { "refused" },
                    if got { "allowed" } else { "refused" },
                    response.status
                ));
            }
            if got {
                let bad = response.status.is_server_error()
                    || response.status == StatusCode::METHOD_NOT_ALLOWED
                    // A 404 is the record's answer, not the route's, when the path names a record
                    // (earlier requests of the walk may have changed it), or a year the agency
                    // has not published.
                    || (response.status == StatusCode::NOT_FOUND
                        && !["{id}", "{token}", "{code}", "{year}"]
                            .iter()
                            .any(|p| rule.path.contains(p)));
                if bad {
                    failures.push(format!(
                        "{who:?} {} {path}: allowed but answered {}",
                        rule.method, response.status
                    ));
                }
            } else {
                let refusal = matches!(
                    response.status,
                    StatusCode::SEE_OTHER | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                );
                if !refusal {
                    failures.push(format!(
                        "{who:?} {} {path}: refused with {}",
                        rule.method, response.status
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
});

db_test!(
    a_route_missing_from_the_policy_is_refused_to_everyone,
    |app| {
        let a = app.agency("riverton", "Riverton PD").await;
        let (_, pw) = app.user(&a, "chief", Admin).await;
        // A router with one route nobody wrote a rule for, behind the real policy middleware.
        let store = DbSessionStore::new(
            app.db.clone(),
            app.clock.clone(),
            app.state.config.idle_timeout,
            app.state.config.absolute_timeout,
        );
        let unlisted: Router = Router::new()
            .route("/{agency}/staff/unlisted", get(|| async { "secret" }))
            .route_layer(from_fn_with_state(app.state.clone(), policy::enforce))
            .layer(tower_sessions::SessionManagerLayer::new(store))
            .with_state(app.state.clone());
        let response = unlisted
            .oneshot(
                axum::http::Request::get("/riverton/staff/unlisted")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.extensions().get::<Denied>().is_some());
        let _ = pw;
    }
);

db_test!(staff_menus_show_only_what_the_role_may_open, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, admin_pw) = app.user(&a, "chief", Admin).await;
    let (_, staff_pw) = app.user(&a, "pat", Role::Staff).await;
    let mut admin = app.client().signed_in("riverton", "chief", &admin_pw).await;
    let mut officer = app.client().signed_in("riverton", "pat", &staff_pw).await;
    let admin_home = admin.get("/riverton/staff").await.body;
    let officer_home = officer.get("/riverton/staff").await.body;
    for link in [
        "/riverton/staff/users",
        "/riverton/staff/audit",
        "/riverton/staff/settings",
        "/riverton/staff/tokens",
    ] {
        assert!(
            admin_home.contains(&format!("href=\"{link}\"")),
            "admin sees {link}"
        );
        assert!(
            !officer_home.contains(&format!("href=\"{link}\"")),
            "staff role does not see {link}"
        );
    }
});
