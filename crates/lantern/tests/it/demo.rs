//! The demo agency: deterministic from its seed, realistic in size, and its printed sign-ins work.

use axum::http::StatusCode;
use lantern::platform::{accounts, roster};

use crate::db_test;
use crate::helpers::{T0, TestApp};

db_test!(the_demo_agency_is_complete_and_its_sign_ins_work, |app| {
    let (agency, created) = lantern::demo::ensure(&app.db, 7, T0).await.unwrap();
    assert!(created);
    let (_, again) = lantern::demo::ensure(&app.db, 7, T0).await.unwrap();
    assert!(!again, "a second run reuses the agency");

    let districts = roster::districts(&app.db, agency.id).await.unwrap();
    assert_eq!(districts.len(), 6);
    assert!(districts.iter().all(|d| d.population > 20_000));
    let margins = roster::margins(&app.db, agency.id).await.unwrap();
    for dimension in ["race", "sex", "age_group"] {
        assert!(
            margins
                .iter()
                .any(|m| m.geography == "agency" && m.dimension == dimension),
            "{dimension} margin"
        );
    }
    let officers = roster::officers(&app.db, agency.id).await.unwrap();
    assert_eq!(officers.len(), lantern::demo::agency::OFFICERS);
    assert!(
        officers
            .iter()
            .filter(|o| o.active)
            .all(|o| o.unit.is_some()),
        "every active officer has a current unit"
    );
    let (active, units, _) = roster::counts(&app.db, agency.id).await.unwrap();
    assert!(
        active > 250 && units == 12,
        "{active} active, {units} units"
    );

    // One account per role that signs in, and a staff account for every active officer (so
    // they can be invited to staff surveys) that has no password and cannot sign in.
    let users = accounts::list(&app.db, agency.id).await.unwrap();
    assert_eq!(users.len(), 6 + active as usize);
    let officer_account = users
        .iter()
        .find(|u| {
            u.username.starts_with('o') && u.username != "officer" && u.username != "oversight"
        })
        .unwrap();
    let mut c = app.client();
    assert_eq!(
        c.sign_in("riverton", &officer_account.username, "")
            .await
            .status,
        StatusCode::OK,
        "no empty password"
    );
    assert_eq!(
        c.sign_in("riverton", &officer_account.username, "!")
            .await
            .status,
        StatusCode::OK,
        "not the stored marker either"
    );
    for (username, role, _, password) in lantern::demo::ACCOUNTS {
        let mut c = app
            .client()
            .signed_in(lantern::demo::SLUG, username, password)
            .await;
        c.get("/riverton/staff").await.assert_status(StatusCode::OK);
        assert_eq!(
            users
                .iter()
                .find(|u| u.username == username)
                .unwrap()
                .role(),
            role
        );
    }
});

#[tokio::test]
async fn the_same_seed_gives_the_same_agency() {
    let roster_of = |seed: u64| async move {
        let app = TestApp::new(lantern::platform::db::Backend::Sqlite).await;
        let (agency, _) = lantern::demo::ensure(&app.db, seed, T0).await.unwrap();
        let officers: Vec<String> = roster::officers(&app.db, agency.id)
            .await
            .unwrap()
            .into_iter()
            .map(|o| {
                format!(
                    "{} {} {} {} {:?}",
                    o.badge, o.last_name, o.rank, o.hire_date, o.unit
                )
            })
            .collect();
        let margins: Vec<i64> = roster::margins(&app.db, agency.id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.population)
            .collect();
        app.cleanup().await;
        (officers, margins)
    };
    let a = roster_of(1).await;
    let b = roster_of(1).await;
    let c = roster_of(2).await;
    assert_eq!(a, b);
    assert_ne!(a.0, c.0, "another seed, another roster");
}

// The demo's survey answers carry known effects: trust rises over the months, and the
// people who answer most (older, white, female) trust more, so weighting to the census must
// lower the estimate. The results must show both.
db_test!(
    the_demo_surveys_show_the_effects_they_were_built_with,
    |app| {
        use lantern::surveys::aggregate::ScoreKey;
        use lantern::surveys::model::Score;
        let (agency, _) = lantern::demo::ensure(&app.db, 3, T0).await.unwrap();
        let surveys = lantern::surveys::store::list(&app.db, agency.id)
            .await
            .unwrap();
        let community = surveys
            .iter()
            .find(|s| s.name.starts_with("Community"))
            .unwrap();
        let (_, _, _, password) = lantern::demo::ACCOUNTS[1];
        let mut analyst = app
            .client()
            .signed_in("riverton", "analyst", password)
            .await;
        let page = analyst
            .get(&format!("/riverton/staff/surveys/{}/results", community.id))
            .await;
        page.assert_status(StatusCode::OK);
        assert!(page.body.contains(&format!(
            "<strong>{}</strong> responses",
            lantern::web::fmt::thousands(lantern::demo::surveys::COMMUNITY_RESPONSES as i64)
        )));

        // The same numbers, computed directly.
        let def = app
            .state
            .surveys()
            .versions
            .get(&app.db, agency.id, community.current_version.unwrap())
            .await
            .unwrap()
            .unwrap()
            .definition;
        let census = lantern::surveys::cache::census(&app.db, agency.id)
            .await
            .unwrap();
        let weighting = lantern::surveys::cache::weighting_for(&def, &census);
        assert_eq!(
            weighting.variables.len(),
            4,
            "age, gender, race and district"
        );
        let agg = app
            .state
            .surveys()
            .results
            .aggregate(
                &app.db,
                &app.state.surveys().versions,
                community,
                &weighting,
                agency.tz(),
            )
            .await
            .unwrap();
        let shares = lantern::surveys::results::census_shares(&weighting, &census, &def);
        let weights = lantern::surveys::results::rake_cells(&agg, &weighting, &shares).unwrap();
        assert!(weights.converged);
        let results = lantern::surveys::results::compute(lantern::surveys::results::Inputs {
            def: &def,
            agg: &agg,
            weights: Some(weights),
            by: None,
            suppression: lantern::surveys::results::Suppression { min: 10 },
            lang: lantern::web::i18n::Lang::En,
        });
        let trust = results
            .scores
            .iter()
            .find(|s| s.label == ScoreKey::One(Score::Trust).label())
            .unwrap();
        let (raw, weighted) = (trust.value.unwrap(), trust.weighted.unwrap());
        assert!(
            weighted.upper < raw.lower,
            "weighting lowers trust: {raw:?} vs {weighted:?}"
        );
        // 18 months at +0.06 a month on a 0–10 scale is about +10 points of trust over the period.
        let first: Vec<f64> = trust
            .trend
            .iter()
            .take(3)
            .filter_map(|t| t.est().map(|e| e.value))
            .collect();
        let last: Vec<f64> = trust
            .trend
            .iter()
            .rev()
            .take(3)
            .filter_map(|t| t.est().map(|e| e.value))
            .collect();
        let rise = last.iter().sum::<f64>() / last.len() as f64
            - first.iter().sum::<f64>() / first.len() as f64;
        assert!(
            (4.0..16.0).contains(&rise),
            "trust rose by {rise:.1} points"
        );

        // Staff survey: the second wave sees fairer decisions than the first.
        let mut wave_score = async |name: &str| {
            let s = surveys.iter().find(|s| s.name == name).unwrap();
            let page = analyst
                .get(&format!("/riverton/staff/surveys/{}/results", s.id))
                .await;
            page.assert_status(StatusCode::OK);
            let row = crate::helpers::between(
                &page.body,
                "<th scope=\"row\">Organisational justice</th>",
                "</tr>",
            )
            .unwrap()
            .to_string();
            let mean: f64 = row
                .split("<td class=\"num\">")
                .nth(2)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            mean
        };
        let w1 = wave_score("Staff survey, wave 1").await;
        let w2 = wave_score("Staff survey, wave 2").await;
        assert!(w2 > w1 + 3.0, "wave 1 {w1}, wave 2 {w2}");
    }
);
