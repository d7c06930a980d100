//! The demo agency's stops: the analyses recover the effects the generator injected
//! (`demo::stops::EFFECTS`), and the staff pages, downloads and API show them.

use std::time::Duration;

use axum::http::StatusCode;
use lantern::demo::stops::EFFECTS;
use lantern::platform::accounts::Role;
use lantern::platform::api_tokens;
use lantern::platform::audit::Actor;
use lantern::transparency::analysis::{self, VodForm};
use lantern::transparency::store::{self, Scope};
use stats::interval::{Confidence, ProportionRatio, Wilson};

use crate::db_test;
use crate::helpers::between;
use crate::transparency::SAN_JOSE;

/// A 99.9% Wilson interval of x of n holds p. The demo's data change with anything that draws
/// from the shared generator before the stops (another slice's part, say), so the checks use
/// intervals wide enough that a correct analysis fails them about once in a thousand draws.
fn wilson_holds(x: i64, n: i64, p: f64) -> bool {
    let ci = Wilson::new(x as u64, n as u64)
        .unwrap()
        .interval(Confidence::new(0.999).unwrap())
        .unwrap();
    ci.lower <= p && p <= ci.upper
}

fn ratio_holds(x1: i64, n1: i64, x2: i64, n2: i64, r: f64) -> bool {
    let ci = ProportionRatio::new(x1 as u64, n1 as u64, x2 as u64, n2 as u64)
        .unwrap()
        .interval(Confidence::new(0.999).unwrap())
        .unwrap();
    ci.lower <= r && r <= ci.upper
}

/// Checks that the analyses of a freshly seeded demo agency recover `EFFECTS`.
async fn check_recovery(db: &lantern::Db, agency: &lantern::platform::agencies::Agency) {
    let (stops, imports) = store::counts(db, agency.id).await.unwrap();
    assert_eq!(stops, 3 * EFFECTS.stops_per_year as i64);
    assert_eq!(imports, 1);
    let (_, districts) = store::dimensions(db, agency.id).await.unwrap();
    assert_eq!(districts.len(), 6);

    let cells = store::cells(db, agency.id, &Scope::default())
        .await
        .unwrap();
    let totals = analysis::totals_by_group(&cells);
    let t = |g: &str| totals.iter().find(|t| t.group == g).unwrap().clone();
    // Search and hit rates: the intervals hold the rates the thresholds imply.
    for race in ["white", "black", "hispanic"] {
        let g = t(race);
        let want = EFFECTS.expected_search_rate(race);
        assert!(
            wilson_holds(g.searches, g.stops, want),
            "{race} search rate vs {want}: {g:?}"
        );
        let want = EFFECTS.expected_hit_rate(race);
        assert!(
            wilson_holds(g.hits, g.searches_with_outcome, want),
            "{race} hit rate vs {want}: {g:?}"
        );
    }
    // Hispanic subjects, searched on less evidence, are searched more and found with
    // contraband less often, and the outcome test says so.
    let tables = analysis::rate_tables(&totals, agency.small_cell_threshold);
    let row = |key: &str, g: &str| {
        tables
            .iter()
            .find(|t| t.key == key)
            .unwrap()
            .rows
            .iter()
            .find(|r| r.group == g)
            .unwrap()
            .clone()
    };
    let hispanic_hits = row("hit", "hispanic");
    assert!(
        hispanic_hits.ratio_upper.unwrap() < 1.0,
        "{hispanic_hits:?}"
    );
    assert!(hispanic_hits.q_value.unwrap() < 0.01);
    assert!(
        row("search", "hispanic").ratio_lower.unwrap() > 3.0,
        "searched far more often"
    );

    // Benchmark: Hispanic residents are stopped 1.5 times as often as White residents, Asian and
    // Pacific Islander residents 0.7 times (these propensities do not change with darkness).
    let population = store::race_margin(db, agency.id, "agency").await.unwrap();
    let pop = |g: &str| population.iter().find(|(c, _, _)| c == g).unwrap().1;
    let white = t("white");
    for (race, want) in [("hispanic", 1.5), ("asian/pacific islander", 0.7)] {
        assert!(
            ratio_holds(t(race).stops, pop(race), white.stops, pop("white"), want),
            "{race} stops per resident over White vs {want}"
        );
    }
    let b = analysis::benchmark(&totals, &population, "agency", 36, 10).unwrap();
    let black = b.rows.iter().find(|r| r.group == "black").unwrap();
    assert!(black.ratio_lower.unwrap() > 1.3, "{black:?}");

    // Veil of darkness: the district form is the generator's own model, so it recovers the
    // injected -0.35; every form finds fewer Black drivers stopped after dark.
    let vod_cells = store::vod_cells(db, agency.id, &Scope::default(), "black", "white")
        .await
        .unwrap();
    let vod = analysis::veil_of_darkness(&vod_cells, "black", "white");
    assert!(vod.not_fitted.is_empty(), "{:?}", vod.not_fitted);
    let d = vod
        .fits
        .iter()
        .find(|f| f.form == VodForm::District)
        .unwrap();
    assert!(
        (d.coefficient - EFFECTS.darkness_log_odds).abs() <= 3.29 * d.std_error,
        "district form {} ± {}",
        d.coefficient,
        d.std_error
    );
    for f in &vod.fits {
        assert!(f.odds_ratio_upper < 1.0 && f.p_value < 0.001, "{f:?}");
    }
}

/// The demo users see (seed 1) and two more seeds, on SQLite (the data do not depend on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_seeds_recover_the_effects_too() {
    for seed in [1, 2] {
        let app = crate::helpers::TestApp::new(lantern::platform::db::Backend::Sqlite).await;
        let (agency, _) = lantern::demo::ensure(&app.db, seed, crate::helpers::T0)
            .await
            .unwrap();
        check_recovery(&app.db, &agency).await;
        app.cleanup().await;
    }
}

db_test!(the_analyses_recover_the_demo_effects, |app| {
    let (agency, _) = lantern::demo::ensure(&app.db, 7, crate::helpers::T0)
        .await
        .unwrap();
    check_recovery(&app.db, &agency).await;
    let (years, _) = store::dimensions(&app.db, agency.id).await.unwrap();
    assert_eq!(years, ["2023", "2024", "2025"]);
    let cells = store::cells(&app.db, agency.id, &Scope::default())
        .await
        .unwrap();
    let totals = analysis::totals_by_group(&cells);
    let tables = analysis::rate_tables(&totals, agency.small_cell_threshold);
    let hispanic_hits = tables
        .iter()
        .find(|t| t.key == "hit")
        .unwrap()
        .rows
        .iter()
        .find(|r| r.group == "hispanic")
        .unwrap()
        .clone();
    let vod_cells = store::vod_cells(&app.db, agency.id, &Scope::default(), "black", "white")
        .await
        .unwrap();
    let vod = analysis::veil_of_darkness(&vod_cells, "black", "white");
    let d = vod
        .fits
        .iter()
        .find(|f| f.form == VodForm::District)
        .unwrap()
        .clone();

    // The pages show it, to the roles that may see it.
    let (_, pw) = app.user(&agency, "ana", Role::Analyst).await;
    let (_, officer_pw) = app.user(&agency, "pat", Role::Staff).await;
    let mut analyst = app.client().signed_in("riverton", "ana", &pw).await;
    let home = analyst.get("/riverton/staff").await.body;
    assert!(home.contains("href=\"/riverton/staff/stops\""));
    assert!(
        between(&home, "Stops</a></h2>", "</p>")
            .unwrap()
            .contains("45,000")
    );
    let page = analyst.get("/riverton/staff/stops/analysis").await;
    page.assert_status(StatusCode::OK);
    for text in [
        "Stops against population",
        "Hit rate of discretionary searches (outcome test)",
        "Frisk rate",
        "Warning rate",
        "Outcome test by district",
        "Demo census (synthetic)",
        "<svg",
        "Counts from 1 to 9 are withheld",
    ] {
        assert!(page.body.contains(text), "analysis page lacks {text:?}");
    }
    // The chart and its table carry the same numbers: Hispanic hit rate as a percentage.
    let hispanic = format!("{:.1}%", hispanic_hits.rate.unwrap() * 100.0);
    assert!(
        page.body.matches(&hispanic).count() >= 2,
        "{hispanic} in chart and table"
    );
    let page = analyst
        .get("/riverton/staff/stops/analysis?year=2024&district=D2")
        .await;
    page.assert_status(StatusCode::OK);
    let d2 = lantern::platform::roster::districts(&app.db, agency.id)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.code == "D2")
        .unwrap();
    assert!(
        page.body
            .contains(&format!("Stops and residents by race ({}", d2.name)),
        "the district by name"
    );
    let bad = analyst
        .get("/riverton/staff/stops/analysis?year=1999")
        .await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    assert!(bad.body.contains("No stops in 1999."));
    let page = analyst.get("/riverton/staff/stops/darkness").await;
    page.assert_status(StatusCode::OK);
    assert!(
        page.body
            .contains("Clock time by district (SOPP paper form)")
    );
    assert!(page.body.contains(&format!("{:.4}", d.coefficient)));

    // Downloads: CSV, small cells withheld, every download audited.
    let csv = analyst.get("/riverton/staff/stops/export/rates.csv").await;
    csv.assert_status(StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv.body
            .starts_with("table,group,numerator,denominator,rate,")
    );
    // Six rate tables and the outcome test in each of the six districts, five groups each.
    assert_eq!(csv.body.lines().count(), 1 + 6 * 5 + 6 * 5);
    assert_eq!(csv.body.matches("\r\nhit_by_district:").count(), 6 * 5);
    let cells_csv = analyst
        .get("/riverton/staff/stops/export/cells.csv?year=2025")
        .await;
    assert!(
        cells_csv
            .body
            .lines()
            .skip(1)
            .all(|l| l.starts_with("2025-"))
    );
    assert!(cells_csv.body.contains("<10"), "small counts withheld");
    let darkness_csv = analyst
        .get("/riverton/staff/stops/export/darkness.csv")
        .await;
    assert_eq!(darkness_csv.body.lines().count(), 4);
    assert_eq!(
        analyst
            .get("/riverton/staff/stops/export/secrets.csv")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let exports: i64 = lantern::on_db!(&app.db, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE agency_id = $1 AND action = 'stops.export'",
        )
        .bind(agency.id)
        .fetch_one(pool)
        .await
    })
    .unwrap();
    assert_eq!(exports, 3);
    let mut officer = app.client().signed_in("riverton", "pat", &officer_pw).await;
    assert_eq!(
        officer.get("/riverton/staff/stops/analysis").await.status,
        StatusCode::FORBIDDEN
    );

    // The API: the same analysis, and an import that runs in the background.
    let (_, secret) = api_tokens::create(
        &app.db,
        agency.id,
        "rms",
        Role::Analyst,
        &Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();
    let mut api = app.client().bearer(&secret);
    let r = api.get("/api/v1/stops/analysis?year=2024").await;
    r.assert_status(StatusCode::OK);
    let json = r.json();
    assert_eq!(json["scope"]["year"], "2024");
    let keys: Vec<&str> = json["rates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["search", "frisk", "hit", "arrest", "citation", "warning"]
    );
    assert_eq!(json["outcome_by_district"].as_array().unwrap().len(), 6);
    let r = api.get("/api/v1/stops/darkness").await;
    assert_eq!(r.json()["fits"].as_array().unwrap().len(), 3);
    let api_exports: i64 = lantern::on_db!(&app.db, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE agency_id = $1 AND action = 'stops.export' AND target LIKE 'api:%'",
        )
        .bind(agency.id)
        .fetch_one(pool)
        .await
    })
    .unwrap();
    assert_eq!(api_exports, 2, "JSON exports are audited too");

    let head: String = SAN_JOSE.lines().take(201).collect::<Vec<_>>().join("\n");
    let r = api
        .request(
            axum::http::Method::POST,
            "/api/v1/stops/imports?file_name=sj.csv",
            Some(("text/csv", head.clone().into_bytes())),
        )
        .await;
    r.assert_status(StatusCode::ACCEPTED);
    let href = r.location().unwrap().to_string();
    let mut status = serde_json::Value::Null;
    for _ in 0..200 {
        status = api.get(&href).await.json();
        if status["status"] == "done" || status["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status["status"], "done", "{status}");
    assert_eq!(status["report"]["rows_inserted"], 200);
    assert_eq!(status["file_name"], "sj.csv");
    // A bad file fails whole, and the job says where.
    let bad =
        format!("{head}\n2017-99-01,10:00:00,x,1,2,white,vehicular,FALSE,FALSE,NA,NA,FALSE,x");
    let r = api
        .request(
            axum::http::Method::POST,
            "/api/v1/stops/imports",
            Some(("text/csv", bad.into_bytes())),
        )
        .await;
    let href = r.location().unwrap().to_string();
    for _ in 0..200 {
        status = api.get(&href).await.json();
        if status["status"] == "done" || status["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["report"]["errors"][0]["line"], 202);
    assert_eq!(status["report"]["errors"][0]["column"], "date");
    let r = api
        .request(
            axum::http::Method::POST,
            "/api/v1/stops/imports",
            Some(("application/json", b"{}".to_vec())),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The import report page lists the problem.
    let id = status["id"].as_i64().unwrap();
    let page = analyst
        .get(&format!("/riverton/staff/stops/imports/{id}"))
        .await;
    assert!(page.body.contains("Nothing was imported"));
    assert!(page.body.contains("2017-99-01"));
});
