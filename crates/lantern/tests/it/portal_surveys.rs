//! Published survey results on the portal: the headline scores with their intervals, by year
//! and by month, equal to what the staff results page shows, withheld where it withholds,
//! in both languages, and only when the agency publishes them.

use axum::http::StatusCode;
use chrono::TimeZone;
use lantern::platform::accounts::Role;
use lantern::platform::audit::Actor;
use lantern::publish::Kind;
use lantern::surveys::model::{Answer, Answers};
use lantern::surveys::store;
use lantern::surveys::templates::Template;
use lantern::surveys::writer;
use lantern::web::i18n::Lang;

use crate::db_test;
use crate::helpers::{Client, TestApp, between};
use crate::surveys::{agency, response};

/// Noon UTC on a day: mid-month, so the agency's zone keeps it in the same month.
fn noon(y: i32, m: u32, d: u32) -> i64 {
    chrono::Utc
        .with_ymd_and_hms(y, m, d, 12, 0, 0)
        .unwrap()
        .timestamp()
}

/// A community survey of `agency` that publishes its results, with `n` answers in each
/// (year, month, n), varied so the scores have spread.
pub async fn survey_with_answers(
    app: &TestApp,
    agency: &lantern::platform::agencies::Agency,
    months: &[(i32, u32, u32)],
) -> store::Survey {
    let s = app.published_survey(agency, Template::CommunityTrust).await;
    store::set_options(
        &app.db,
        &s,
        false,
        true,
        &Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();
    let s = store::get(&app.db, agency.id, s.id).await.unwrap().unwrap();
    let mut rows = Vec::new();
    for &(y, m, n) in months {
        for i in 0..n {
            let mut answers = Answers::new();
            let x = |k: u32| Answer::Number(f64::from((i * k + m + y as u32) % 11));
            answers.insert("trust_respect".into(), x(3));
            answers.insert("trust_listen".into(), x(7));
            answers.insert("safety_night".into(), x(5));
            answers.insert(
                "pj_voice".into(),
                Answer::Number(f64::from(1 + (i + m) % 5)),
            );
            answers.insert(
                "pj_respect".into(),
                Answer::Number(f64::from(1 + (i * 2) % 5)),
            );
            rows.push(response(&s, &answers, noon(y, m, 1 + i % 27)));
        }
    }
    writer::insert_all(&app.db, &rows).await.unwrap();
    s
}

/// Riverton with a community survey that publishes its results: 30 answers in November
/// 2025, 3 in December (too few: withheld, and November with it as its complement), and 40
/// in each month from January to May 2026. Returns the survey and an analyst's client.
async fn riverton_with_survey(app: &TestApp) -> (store::Survey, Client) {
    let a = agency(app).await;
    let mut months = vec![(2025, 11, 30), (2025, 12, 3)];
    months.extend((1..=5).map(|m| (2026, m, 40)));
    let s = survey_with_answers(app, &a, &months).await;
    let (_, pw) = app.user(&a, "ana", Role::Analyst).await;
    let analyst = app.client().signed_in("riverton", "ana", &pw).await;
    (s, analyst)
}

pub async fn publish(analyst: &mut Client, slug: &str, measures: &[&str], years: &[&str]) {
    let mut fields: Vec<(&str, &str)> = measures.iter().map(|m| ("measure", *m)).collect();
    fields.extend(years.iter().map(|y| ("year", *y)));
    analyst
        .post(&format!("/{slug}/staff/publish"), &fields)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

/// A CSV as rows of fields, without its header.
pub fn csv_rows(csv: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

db_test!(published_scores_equal_the_staff_results, |app| {
    let (s, mut analyst) = riverton_with_survey(&app).await;
    // Nothing is public before the analyst publishes.
    let mut visitor = app.client();
    visitor
        .get("/riverton/data/surveys")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    // The analyst sees the survey's years offered on the publish form.
    let form = analyst.get("/riverton/staff/publish").await;
    assert!(
        form.body.contains("value=\"surveys.trust\""),
        "{}",
        form.body
    );
    assert!(form.body.contains("value=\"2025\"") && form.body.contains("value=\"2026\""));
    publish(
        &mut analyst,
        "riverton",
        &[
            "surveys.trust",
            "surveys.safety",
            "surveys.procedural_justice",
        ],
        &["2025", "2026"],
    )
    .await;

    // What the staff results page draws from, and shows.
    let a = lantern::platform::agencies::by_slug(&app.db, "riverton")
        .await
        .unwrap()
        .unwrap();
    let (results, _) = lantern::surveys::staff::results_for(&app.state, &a, &s, None, Lang::En)
        .await
        .unwrap()
        .unwrap();
    let staff = analyst
        .get(&format!("/riverton/staff/surveys/{}/results", s.id))
        .await;
    staff.assert_status(StatusCode::OK);

    let page = visitor.get("/riverton/data/surveys").await;
    page.assert_status(StatusCode::OK);
    for (measure, label) in [
        ("trust", "Trust"),
        ("safety", "Safety"),
        ("procedural_justice", "Procedural justice"),
    ] {
        let score = results.scores.iter().find(|x| x.label == label).unwrap();
        assert!(
            page.body.contains(&format!("id=\"surveys-{measure}\"")),
            "{measure} is on the page"
        );
        // By year: 2025 holds a withheld month, so it is withheld; 2026 is shown.
        assert_eq!(score.by_year.len(), 2);
        assert!(score.by_year[0].value.is_withheld());
        let y2026 = score.by_year[1].est().unwrap();
        assert_eq!(score.by_year[1].value.shown().unwrap().n, 200);
        let csv = visitor
            .get(&format!("/riverton/data/surveys/{measure}.csv"))
            .await;
        csv.assert_status(StatusCode::OK);
        let rows = csv_rows(&csv.body);
        assert_eq!(rows.len(), 2, "{}", csv.body);
        assert_eq!(rows[0][..5], ["2025", "", "", "", ""], "{}", csv.body);
        assert_eq!(rows[0][5..7], ["2025-11", "2025-12"]);
        assert_eq!(rows[1][0], "2026");
        assert_eq!(rows[1][1].parse::<f64>().unwrap(), y2026.value);
        assert_eq!(rows[1][2].parse::<f64>().unwrap(), y2026.lower);
        assert_eq!(rows[1][3].parse::<f64>().unwrap(), y2026.upper);
        assert_eq!(rows[1][4], "200");
        assert_eq!(rows[1][5..7], ["2026-01", "2026-05"]);
        // The staff page's year table says the same, to one decimal.
        let staff_row = between(&staff.body, "<th scope=\"row\">2026</th>", "</tr>")
            .filter(|_| label == "Trust")
            .unwrap_or_default();
        if label == "Trust" {
            assert!(
                staff_row.contains(&format!(
                    "<td class=\"num\">200</td><td class=\"num\">{:.1}</td>",
                    y2026.value
                )),
                "{staff_row}"
            );
        }
        // The page writes the same number with its interval, in the reader's language.
        let cell = lantern::web::fmt::with_interval(
            Lang::En,
            &Kind::Score.format(Lang::En, y2026.value),
            &Kind::Score.format(Lang::En, y2026.lower),
            &Kind::Score.format(Lang::En, y2026.upper),
        );
        assert!(page.body.contains(&cell), "{cell} on the page");

        // JSON: the withheld year is null and says so.
        let json = visitor
            .get(&format!("/riverton/data/surveys/{measure}.json"))
            .await;
        let doc: serde_json::Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(doc["measure"], format!("surveys.{measure}"));
        assert!(doc["rows"][0]["score"].is_null());
        assert!(doc["rows"][0]["respondents"].is_null());
        assert_eq!(doc["rows"][0]["withheld"], true);
        assert_eq!(doc["rows"][1]["score"], y2026.value);
        assert_eq!(doc["rows"][1]["withheld"], false);

        // A chosen year shows its months, as the staff trend does.
        let months = visitor
            .get(&format!("/riverton/data/surveys/{measure}.csv?year=2026"))
            .await;
        let rows = csv_rows(&months.body);
        let trend: Vec<_> = score
            .trend
            .iter()
            .filter(|m| m.key.starts_with("2026"))
            .collect();
        assert_eq!(rows.len(), 5);
        for (row, m) in rows.iter().zip(&trend) {
            assert_eq!(row[0], m.key);
            let e = m.est().unwrap();
            assert_eq!(row[1].parse::<f64>().unwrap(), e.value);
            assert_eq!(row[4], "40");
            if label == "Trust" {
                let staff_month = between(
                    &staff.body,
                    &format!("<th scope=\"row\">{}</th>", m.month),
                    "</tr>",
                )
                .unwrap();
                assert!(
                    staff_month.contains(&format!("<td class=\"num\">{:.1}</td>", e.value)),
                    "{staff_month}"
                );
            }
        }
        // Both months of 2025 are withheld: December is too small, November its complement.
        let y2025 = visitor
            .get(&format!("/riverton/data/surveys/{measure}.csv?year=2025"))
            .await;
        let rows = csv_rows(&y2025.body);
        assert_eq!(rows.len(), 2);
        assert!(
            rows.iter().all(|r| r[1].is_empty() && r[4].is_empty()),
            "{}",
            y2025.body
        );
    }
    assert!(page.body.contains("Withheld"));
    assert!(page.body.contains("Data through 2026-05."), "{}", page.body);

    // The overview's headline: the trust score of the newest year.
    let trust = results.scores.iter().find(|x| x.label == "Trust").unwrap();
    let newest = trust.by_year[1].est().unwrap().value;
    let home = visitor.get("/riverton").await;
    let glance = between(&home.body, "<ul class=\"glance\">", "</ul>").unwrap();
    assert!(glance.contains("Community trust score"), "{glance}");
    assert!(
        glance.contains(&format!(
            "<span class=\"glance-figure\">{}</span>",
            Kind::Score.format(Lang::En, newest)
        )),
        "{glance}"
    );
    assert!(glance.contains("in 2026"));

    // In Spanish: the same numbers written the Spanish way.
    let es = visitor.get("/riverton/es/data/surveys").await;
    es.assert_status(StatusCode::OK);
    assert!(
        es.body
            .contains("Resultados de las encuestas a la comunidad")
    );
    assert!(es.body.contains(&Kind::Score.format(Lang::Es, newest)));
    assert!(Kind::Score.format(Lang::Es, newest).contains(','));
    let es_home = visitor.get("/riverton/es").await;
    assert!(
        es_home
            .body
            .contains("Puntuación de confianza de la comunidad")
    );
});

db_test!(
    only_published_scores_and_years_and_surveys_are_public,
    |app| {
        let (s, mut analyst) = riverton_with_survey(&app).await;
        publish(&mut analyst, "riverton", &["surveys.trust"], &["2026"]).await;
        let mut visitor = app.client();
        let page = visitor.get("/riverton/data/surveys").await;
        page.assert_status(StatusCode::OK);
        assert!(page.body.contains("id=\"surveys-trust\""));
        assert!(!page.body.contains("id=\"surveys-safety\""));
        // One year published: the page shows it and offers no other.
        assert!(page.body.contains("<option value=\"2026\" selected>"));
        assert!(!page.body.contains("<option value=\"2025\""));
        for path in [
            "/riverton/data/surveys/safety.csv",
            "/riverton/data/surveys/trust.csv?year=2025",
            "/riverton/data/surveys?year=2025",
        ] {
            visitor.get(path).await.assert_status(StatusCode::NOT_FOUND);
        }
        // A survey whose results are not published is not on the portal.
        store::set_options(
            &app.db,
            &s,
            false,
            false,
            &Actor::System("test"),
            None,
            app.clock.unix(),
        )
        .await
        .unwrap();
        let csv = visitor
            .get("/riverton/data/surveys/trust.csv?year=2026")
            .await;
        csv.assert_status(StatusCode::NOT_FOUND);
    }
);
