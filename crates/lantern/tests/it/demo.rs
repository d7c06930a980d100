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

    let users = accounts::list(&app.db, agency.id).await.unwrap();
    assert_eq!(users.len(), 6);
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
