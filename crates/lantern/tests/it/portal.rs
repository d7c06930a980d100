//! The public portal: nothing is public until an analyst publishes it, only what is published
//! is shown, filters in the URL change the numbers as the store says they should, and every
//! view of a measure (page, chart, CSV, JSON) shows the same cells and withholds the same.

use axum::http::StatusCode;
use lantern::platform::accounts::Role;
use lantern::transparency::analysis;
use lantern::transparency::mapping::Mapping;
use lantern::transparency::store::{self, Scope};

use crate::db_test;
use crate::helpers::{TestApp, between};
use crate::transparency::{SAN_JOSE, import_text, san_jose, with_quadrant_districts};

/// San Jose's stops with quadrant districts, and an analyst's signed-in client.
async fn san_jose_with_analyst(
    app: &TestApp,
) -> (lantern::platform::agencies::Agency, crate::helpers::Client) {
    let sj = san_jose(app).await;
    import_text(
        app,
        &sj,
        &with_quadrant_districts(SAN_JOSE),
        Mapping::sopp(),
        false,
    )
    .await;
    let (_, password) = app.user(&sj, "ana", Role::Analyst).await;
    let analyst = app.client().signed_in("sanjose", "ana", &password).await;
    (sj, analyst)
}

async fn publish(analyst: &mut crate::helpers::Client, measures: &[&str], years: &[&str]) {
    let mut fields: Vec<(&str, &str)> = measures.iter().map(|m| ("measure", *m)).collect();
    fields.extend(years.iter().map(|y| ("year", *y)));
    analyst
        .post("/sanjose/staff/publish", &fields)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

/// The numbers of a CSV column, by the row's first field; withheld cells are `None`.
fn csv_column(csv: &str, column: &str) -> Vec<(String, Option<f64>)> {
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let i = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == column)
        .unwrap();
    r.records()
        .map(|row| {
            let row = row.unwrap();
            (row[0].to_string(), row[i].parse::<f64>().ok())
        })
        .collect()
}

db_test!(nothing_is_public_until_an_analyst_publishes_it, |app| {
    let (_sj, mut analyst) = san_jose_with_analyst(&app).await;
    let mut visitor = app.client();
    let home = visitor.get("/sanjose").await;
    home.assert_status(StatusCode::OK);
    assert!(
        home.body
            .clone()
            .contains("We have not published any data yet.")
    );
    let es = visitor.get("/sanjose/es").await;
    assert!(
        es.body
            .clone()
            .contains("Todavía no hemos publicado datos.")
    );
    for path in [
        "/sanjose/data/stops",
        "/sanjose/data/stops/search_rate.csv",
        "/sanjose/data/stops/search_rate.json",
    ] {
        visitor.get(path).await.assert_status(StatusCode::NOT_FOUND);
    }
    let open = visitor.get("/sanjose/open-data").await;
    assert!(
        open.body
            .clone()
            .contains("Nothing has been published yet.")
    );

    // The analyst previews everything before it is public.
    let preview = analyst.get("/sanjose/staff/publish/preview/stops").await;
    preview.assert_status(StatusCode::OK);
    assert!(
        preview
            .body
            .contains("Preview: this page shows every measure")
    );
    assert!(preview.body.contains("Searches that found contraband"));
    // A visitor still sees nothing.
    visitor
        .get("/sanjose/data/stops")
        .await
        .assert_status(StatusCode::NOT_FOUND);
});

db_test!(only_the_published_measures_and_years_are_public, |app| {
    let (sj, mut analyst) = san_jose_with_analyst(&app).await;
    publish(
        &mut analyst,
        &["stops.stops", "stops.search_rate"],
        &["2016", "2017"],
    )
    .await;

    let mut visitor = app.client();
    let page = visitor.get("/sanjose/data/stops").await;
    page.assert_status(StatusCode::OK);
    let html = page.body.clone();
    assert!(
        html.contains("id=\"stops-search_rate\""),
        "the search rate is published"
    );
    assert!(
        !html.contains("id=\"stops-hit_rate\""),
        "the hit rate is not"
    );
    assert!(html.contains("Published on 2026-06-01."));
    // Not every year is published, so the page shows the newest published year and offers
    // no "all years".
    assert!(html.contains("<option value=\"2017\" selected>"));
    assert!(!html.contains("All years"));
    assert!(!html.contains("<option value=\"2015\""));
    visitor
        .get("/sanjose/data/stops?year=2015")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    visitor
        .get("/sanjose/data/stops/hit_rate.csv")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    visitor
        .get("/sanjose/data/stops?district=NOWHERE")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    visitor
        .get("/sanjose/data/stops?year=2016")
        .await
        .assert_status(StatusCode::OK);

    // The yearly table holds the published years only, with the store's counts.
    let csv = visitor.get("/sanjose/data/stops/stops.csv").await;
    csv.assert_status(StatusCode::OK);
    let years = csv_column(&csv.body.clone(), "stops");
    assert_eq!(
        years.iter().map(|(y, _)| y.as_str()).collect::<Vec<_>>(),
        ["2016", "2017"]
    );
    for (year, n) in &years {
        let scope = Scope {
            year: year.clone(),
            ..Scope::default()
        };
        let (total, _) = count(&app, sj.id, &scope).await;
        assert_eq!(*n, Some(total as f64), "stops in {year}");
    }

    // The home page leads with the published figures, and the record says who published.
    let home = visitor.get("/sanjose").await.body;
    assert!(home.contains("At a glance"));
    assert!(home.contains("/sanjose/data/stops#stops-stops"));
    let audit = lantern::platform::audit::list(&app.db, sj.id, &Default::default(), 100)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "portal.publish" && e.actor.contains("ana"))
    );
});

/// Stops and searches of a scope, counted from the analysis store.
async fn count(app: &TestApp, agency_id: i64, scope: &Scope) -> (i64, i64) {
    let cells = store::cells(&app.db, agency_id, scope).await.unwrap();
    let totals = analysis::totals_by_group(&cells);
    (
        totals.iter().map(|t| t.stops).sum(),
        totals.iter().map(|t| t.searches).sum(),
    )
}

db_test!(filters_in_the_address_change_the_numbers, |app| {
    let (sj, mut analyst) = san_jose_with_analyst(&app).await;
    let (years, _) = store::dimensions(&app.db, sj.id).await.unwrap();
    let years: Vec<&str> = years.iter().map(String::as_str).collect();
    publish(&mut analyst, &["stops.search_rate"], &years).await;
    let mut visitor = app.client();
    for (query, scope) in [
        ("", Scope::default()),
        (
            "?year=2017&district=NE",
            Scope {
                year: "2017".into(),
                district: "NE".into(),
                stop_type: String::new(),
            },
        ),
        (
            "?district=SW&stop_type=vehicular",
            Scope {
                year: String::new(),
                district: "SW".into(),
                stop_type: "vehicular".into(),
            },
        ),
    ] {
        let csv = visitor
            .get(&format!("/sanjose/data/stops/search_rate.csv{query}"))
            .await
            .body;
        let shown: f64 = csv_column(&csv, "of").iter().filter_map(|(_, n)| *n).sum();
        let cells = store::cells(&app.db, sj.id, &scope).await.unwrap();
        let totals = analysis::totals_by_group(&cells);
        let want = analysis::rate_tables(&totals, sj.small_cell_threshold)
            .into_iter()
            .find(|t| t.key == "search")
            .unwrap();
        let want_sum: i64 = want.rows.iter().filter_map(|r| r.denominator).sum();
        assert_eq!(
            shown, want_sum as f64,
            "stops with a search recorded for {query:?}"
        );
        // The page's filter form keeps the choice, so the view is a link.
        let page = visitor
            .get(&format!("/sanjose/data/stops{query}"))
            .await
            .body;
        if !scope.district.is_empty() {
            assert!(page.contains(&format!("<option value=\"{}\" selected>", scope.district)));
        }
    }
});

db_test!(every_format_withholds_the_same_small_cells, |app| {
    let (sj, mut analyst) = san_jose_with_analyst(&app).await;
    // A high threshold withholds the smaller groups of one district and year.
    app.exec(&format!(
        "UPDATE agencies SET small_cell_threshold = 60 WHERE id = {}",
        sj.id
    ))
    .await;
    // As the settings page does: what public pages (and the portal's cache) say changes.
    app.state.agency_changed("sanjose");
    publish(&mut analyst, &["stops.search_rate"], &["2017"]).await;
    let mut visitor = app.client();
    let q = "?year=2017&district=NE";
    let csv = visitor
        .get(&format!("/sanjose/data/stops/search_rate.csv{q}"))
        .await
        .body;
    let rows = csv_column(&csv, "count");
    let withheld: Vec<&str> = rows
        .iter()
        .filter(|(_, n)| n.is_none())
        .map(|(g, _)| g.as_str())
        .collect();
    let shown: Vec<&str> = rows
        .iter()
        .filter(|(_, n)| n.is_some())
        .map(|(g, _)| g.as_str())
        .collect();
    assert!(
        withheld.len() >= 2,
        "a small group and its complement: {csv}"
    );
    assert!(!shown.is_empty(), "{csv}");

    let json = visitor
        .get(&format!("/sanjose/data/stops/search_rate.json{q}"))
        .await
        .json();
    for row in json["rows"].as_array().unwrap() {
        let group = row["group"].as_str().unwrap();
        let hidden = withheld.contains(&group);
        assert_eq!(row["withheld"], hidden, "{group}");
        for key in ["count", "of", "rate", "rate_low", "rate_high"] {
            assert_eq!(row[key].is_null(), hidden, "{group} {key}");
        }
    }

    let html = visitor.get(&format!("/sanjose/data/stops{q}")).await.body;
    let section = between(&html, "id=\"stops-search_rate\"", "</section>").unwrap();
    let table = between(section, "<tbody>", "</tbody>").unwrap();
    for group in &withheld {
        let row = between(table, &format!("<th scope=\"row\">{group}</th>"), "</tr>").unwrap();
        assert!(row.contains("Withheld"), "{group}: {row}");
        assert!(!row.chars().any(|c| c.is_ascii_digit()), "{group}: {row}");
    }
    // The chart draws a bar for each shown group and none for a withheld one.
    let chart = between(section, "<svg", "</svg>").unwrap();
    for group in &shown {
        assert!(chart.contains(group), "{group} is drawn");
    }
    assert!(section.contains("are withheld so that no small group"));
});

db_test!(
    the_catalogue_lists_every_published_table_with_working_links,
    |app| {
        let (_sj, mut analyst) = san_jose_with_analyst(&app).await;
        publish(
            &mut analyst,
            &[
                "stops.stops",
                "stops.search_rate",
                "stops.hit_rate",
                "stops.darkness",
            ],
            &["2016", "2017"],
        )
        .await;
        let mut visitor = app.client();
        let doc = visitor.get("/sanjose/data.json").await.json();
        assert_eq!(doc["@type"], "dcat:Catalog");
        assert_eq!(
            doc["conformsTo"],
            "https://project-open-data.cio.gov/v1.1/schema"
        );
        let sets = doc["dataset"].as_array().unwrap();
        assert_eq!(sets.len(), 4);
        for set in sets {
            for key in [
                "title",
                "description",
                "modified",
                "identifier",
                "accessLevel",
            ] {
                assert!(
                    set[key].is_string() && !set[key].as_str().unwrap().is_empty(),
                    "{key}: {set}"
                );
            }
            for d in set["distribution"].as_array().unwrap() {
                let url = d["downloadURL"].as_str().unwrap();
                let path = url.split_once("://").unwrap().1;
                let path = &path[path.find('/').unwrap()..];
                let r = visitor.get(path).await;
                r.assert_status(StatusCode::OK);
                assert!(
                    r.headers
                        .get("content-type")
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .starts_with(d["mediaType"].as_str().unwrap())
                );
            }
        }
        let open = visitor.get("/sanjose/es/open-data").await.body;
        assert!(open.contains("Datos abiertos"));
        assert!(open.contains("<code>rate_low</code>"));
        let method = visitor.get("/sanjose/methodology").await.body;
        assert!(method.contains("id=\"stops-darkness\""));
        assert!(
            !method.contains("id=\"stops-frisk_rate\""),
            "frisks are not published"
        );
    }
);

db_test!(spanish_pages_write_numbers_the_spanish_way, |app| {
    let (_sj, mut analyst) = san_jose_with_analyst(&app).await;
    publish(
        &mut analyst,
        &["stops.stops", "stops.search_rate"],
        &["2016", "2017"],
    )
    .await;
    let mut visitor = app.client();
    let en = visitor.get("/sanjose/data/stops?year=2017").await.body;
    let es = visitor.get("/sanjose/es/data/stops?year=2017").await.body;
    assert!(es.contains("Paradas y registros"));
    // The same yearly counts, grouped by thousands in each language's way.
    let en_table = between(&en, "id=\"stops-stops\"", "</table>").unwrap();
    let es_table = between(&es, "id=\"stops-stops\"", "</table>").unwrap();
    let grouped = |t: &str, sep: char| {
        t.split(['>', '<'])
            .filter(|s| {
                s.len() >= 5 && s.contains(sep) && s.chars().all(|c| c.is_ascii_digit() || c == sep)
            })
            .count()
    };
    assert!(grouped(en_table, ',') > 0, "{en_table}");
    assert!(grouped(es_table, '.') > 0, "{es_table}");
    assert_eq!(grouped(es_table, ','), 0, "{es_table}");
    // Rates in Spanish use a decimal comma and a spaced percent sign.
    let es_rates = between(&es, "id=\"stops-search_rate\"", "</table>").unwrap();
    assert!(
        es_rates.contains(",") && es_rates.contains("\u{a0}%"),
        "{es_rates}"
    );
    for english in [
        "Stops by year",
        "Searches",
        "Withheld",
        "Download this table",
    ] {
        assert!(!es.contains(english), "{english} left in the Spanish page");
    }
});

db_test!(
    public_pages_are_kept_and_revalidated_without_the_database,
    |app| {
        let (sj, mut analyst) = san_jose_with_analyst(&app).await;
        publish(&mut analyst, &["stops.search_rate"], &["2016", "2017"]).await;
        let mut visitor = app.client();
        let first = visitor.get("/sanjose/data/stops?year=2016").await;
        first.assert_status(StatusCode::OK);
        let etag = first.headers["etag"].to_str().unwrap().to_string();
        assert!(
            first.headers["cache-control"]
                .to_str()
                .unwrap()
                .starts_with("public")
        );
        // Each address and language has its own tag.
        let other = visitor.get("/sanjose/data/stops?year=2017").await;
        assert_ne!(other.headers["etag"], first.headers["etag"]);
        let spanish = visitor.get("/sanjose/es/data/stops?year=2016").await;
        assert_ne!(spanish.headers["etag"], first.headers["etag"]);

        // With the database emptied of publications behind the cache's back, a conditional GET
        // within the version's lifetime is still answered from memory: it read nothing.
        app.exec(&format!(
            "DELETE FROM publications WHERE agency_id = {}",
            sj.id
        ))
        .await;
        let mut c = app.client();
        c.headers.push(("if-none-match".into(), etag.clone()));
        let r = c.get("/sanjose/data/stops?year=2016").await;
        r.assert_status(StatusCode::NOT_MODIFIED);
        assert!(r.body.is_empty());
        let again = app.client().get("/sanjose/data/stops?year=2016").await;
        again.assert_status(StatusCode::OK);
        assert_eq!(again.body, first.body);
        assert!(
            !again.headers.contains_key("set-cookie"),
            "a kept page carries no cookie"
        );

        // Publishing forgets what was kept: the tag changes and the new choice shows.
        publish(&mut analyst, &["stops.hit_rate"], &["2016"]).await;
        let mut c = app.client();
        c.headers.push(("if-none-match".into(), etag.clone()));
        let r = c.get("/sanjose/data/stops?year=2016").await;
        r.assert_status(StatusCode::OK);
        assert_ne!(r.headers["etag"].to_str().unwrap(), etag);
        assert!(r.body.contains("id=\"stops-hit_rate\""));
        assert!(!r.body.contains("id=\"stops-search_rate\""));

        // A signed-in analyst's page is never taken from the cache (it carries the staff menu).
        let mine = analyst.get("/sanjose/data/stops?year=2016").await;
        assert!(!mine.headers.contains_key("etag"));
        assert!(mine.body.contains("Staff home"));
    }
);
