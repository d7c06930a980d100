//! Rates as the Stanford Open Policing Project computes them: each over the stops that recorded
//! its field (R's `mean(x, na.rm = TRUE)`), arrests counted from `outcome` only where a file has
//! no `arrest_made` column, the relations between fields an import checks, and the analysis
//! store counted again from the stored stops when its format changes.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use lantern::platform::accounts::Role;
use lantern::platform::agencies::Agency;
use lantern::platform::api_tokens;
use lantern::platform::audit::Actor;
use lantern::transparency::analysis::{self, RateTable};
use lantern::transparency::mapping::Mapping;
use lantern::transparency::store::{self, Scope};

use crate::db_test;
use crate::helpers::TestApp;
use crate::transparency::{import_text, san_jose};

/// A small deterministic generator (xorshift), so that the file is the same on every run.
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1e6 < p
    }

    /// A yes/no value, missing with probability `missing`.
    fn flag(&mut self, missing: f64, yes: f64) -> Option<bool> {
        (!self.chance(missing)).then(|| self.chance(yes))
    }
}

fn text(v: Option<bool>) -> &'static str {
    match v {
        None => "NA",
        Some(true) => "TRUE",
        Some(false) => "FALSE",
    }
}

const RACES: [&str; 3] = ["white", "black", "hispanic"];

/// One generated stop, as the test computes its rates independently of Lantern.
struct Stop {
    race: &'static str,
    search: Option<bool>,
    contraband: Option<bool>,
    basis: Option<&'static str>,
    frisk: Option<bool>,
    arrest: Option<bool>,
    citation: Option<bool>,
    warning: Option<bool>,
    outcome: Option<&'static str>,
}

/// Stops with known gaps in every yes/no field, consistent with SOPP's relations between
/// fields. Among the stops whose `arrest_made` is missing, some say `outcome` = arrest: a rate
/// of `arrest_made` must still count them as missing.
fn stops_with_gaps(n: usize, seed: u64) -> Vec<Stop> {
    let mut d = Draws(seed);
    (0..n)
        .map(|i| {
            let race = RACES[i % 3];
            let search = d.flag(0.08, [0.10, 0.22, 0.16][i % 3]);
            let searched = search == Some(true);
            let contraband = if searched { d.flag(0.12, 0.3) } else { None };
            let basis = if searched {
                match d.next() % 4 {
                    0 => Some("other"),
                    1 => None,
                    2 => Some("consent"),
                    _ => Some("probable cause"),
                }
            } else {
                None
            };
            let frisk = d.flag(0.10, 0.15);
            let arrest = d.flag(0.07, [0.04, 0.09, 0.06][i % 3]);
            let citation = d.flag(0.06, 0.4);
            let warning = d.flag(0.09, 0.3);
            // A missing arrest_made sometimes comes with an arrest outcome: it stays missing.
            let outcome = if arrest == Some(true) || (arrest.is_none() && d.chance(0.5)) {
                Some("arrest")
            } else if citation == Some(true) && arrest.is_some() {
                Some("citation")
            } else if warning == Some(true) && arrest.is_some() && citation.is_some() {
                Some("warning")
            } else {
                None
            };
            Stop {
                race,
                search,
                contraband,
                basis,
                frisk,
                arrest,
                citation,
                warning,
                outcome,
            }
        })
        .collect()
}

fn csv_of(stops: &[Stop], with_outcome_columns: bool) -> String {
    let mut out = String::from(
        "date,time,subject_race,search_conducted,contraband_found,search_basis,frisk_performed,outcome",
    );
    if with_outcome_columns {
        out.push_str(",arrest_made,citation_issued,warning_issued");
    }
    out.push('\n');
    for (i, s) in stops.iter().enumerate() {
        out.push_str(&format!(
            "2017-{:02}-{:02},{:02}:{:02}:00,{},{},{},{},{},{}",
            1 + i % 12,
            1 + i % 28,
            i % 24,
            i % 60,
            s.race,
            text(s.search),
            text(s.contraband),
            s.basis.unwrap_or("NA"),
            text(s.frisk),
            s.outcome.unwrap_or("NA"),
        ));
        if with_outcome_columns {
            out.push_str(&format!(
                ",{},{},{}",
                text(s.arrest),
                text(s.citation),
                text(s.warning)
            ));
        }
        out.push('\n');
    }
    out
}

/// What R's `mean(x, na.rm = TRUE)` gives: (yes, recorded, missing) of `field` per race.
fn na_rm(
    stops: &[Stop],
    keep: impl Fn(&Stop) -> bool,
    field: impl Fn(&Stop) -> Option<bool>,
) -> BTreeMap<&'static str, (i64, i64, i64)> {
    let mut out = BTreeMap::new();
    for s in stops.iter().filter(|s| keep(s)) {
        let e = out.entry(s.race).or_insert((0, 0, 0));
        match field(s) {
            Some(v) => {
                e.0 += i64::from(v);
                e.1 += 1;
            }
            None => e.2 += 1,
        }
    }
    out
}

/// (yes, recorded, missing) per race.
type Counts = BTreeMap<&'static str, (i64, i64, i64)>;

/// Each table's expected counts: key, counts per race.
fn expected(stops: &[Stop], arrests_from_outcome: bool) -> Vec<(&'static str, Counts)> {
    let all = |_: &Stop| true;
    let discretionary = |s: &Stop| s.search == Some(true) && s.basis != Some("other");
    let from_outcome = |s: &Stop, category: &str| s.outcome.map(|o| o == category);
    let mut tables = vec![
        ("search", na_rm(stops, all, |s: &Stop| s.search)),
        ("frisk", na_rm(stops, all, |s: &Stop| s.frisk)),
        ("hit", na_rm(stops, discretionary, |s: &Stop| s.contraband)),
    ];
    if arrests_from_outcome {
        tables.push((
            "arrest",
            na_rm(stops, all, |s: &Stop| from_outcome(s, "arrest")),
        ));
        tables.push((
            "citation",
            na_rm(stops, all, |s: &Stop| from_outcome(s, "citation")),
        ));
        tables.push((
            "warning",
            na_rm(stops, all, |s: &Stop| from_outcome(s, "warning")),
        ));
    } else {
        tables.push(("arrest", na_rm(stops, all, |s: &Stop| s.arrest)));
        tables.push(("citation", na_rm(stops, all, |s: &Stop| s.citation)));
        tables.push(("warning", na_rm(stops, all, |s: &Stop| s.warning)));
    }
    tables
}

/// Every rate of `tables` is the share of yes among the stops that recorded the field, and
/// each row shows how many did not.
fn assert_rates(tables: &[RateTable], stops: &[Stop], arrests_from_outcome: bool) {
    for (key, by_race) in expected(stops, arrests_from_outcome) {
        let table = tables.iter().find(|t| t.key == key).unwrap();
        for (race, (yes, recorded, missing)) in by_race {
            let row = table.rows.iter().find(|r| r.group == race).unwrap();
            assert!(missing > 0, "{key} {race}: the file leaves some out");
            assert_eq!(
                (row.numerator, row.denominator, row.not_recorded),
                (Some(yes), Some(recorded), Some(missing)),
                "{key} {race}"
            );
            let want = yes as f64 / recorded as f64;
            let got = row.rate.unwrap();
            assert!((got - want).abs() < 1e-12, "{key} {race}: {got} vs {want}");
        }
    }
}

async fn analysis_tables(app: &TestApp, agency: &Agency) -> Vec<RateTable> {
    let cells = store::cells(&app.db, agency.id, &Scope::default())
        .await
        .unwrap();
    // No small-cell threshold here: the counts themselves are checked.
    analysis::rate_tables(&analysis::totals_by_group(&cells), 1)
}

db_test!(
    rates_leave_out_the_stops_that_did_not_record_the_field,
    |app| {
        let sj = san_jose(&app).await;
        let stops = stops_with_gaps(6_000, 0x9e37_79b9_7f4a_7c15);
        let (_, report) =
            import_text(&app, &sj, &csv_of(&stops, true), Mapping::sopp(), false).await;
        assert!(!report.rejected, "{:?}", report.errors);
        assert_eq!(report.rows_inserted, 6_000);
        assert_rates(&analysis_tables(&app, &sj).await, &stops, false);

        // The API's JSON shows the same, with the count of stops that did not record the field,
        // and says where arrests come from.
        let (_, secret) = api_tokens::create(
            &app.db,
            sj.id,
            "rms",
            Role::Analyst,
            &Actor::System("test"),
            None,
            app.clock.unix(),
        )
        .await
        .unwrap();
        let mut api = app.client().bearer(&secret);
        let r = api.get("/api/v1/stops/analysis").await;
        r.assert_status(StatusCode::OK);
        let json = r.json();
        let by_race = &expected(&stops, false)[0].1;
        let search = json["rates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == "search")
            .unwrap();
        assert_eq!(
            search["not_recorded_label"],
            "Stops without search_conducted"
        );
        for row in search["rows"].as_array().unwrap() {
            let race = row["group"].as_str().unwrap();
            if let Some((yes, recorded, missing)) = by_race.get(race) {
                assert_eq!(row["not_recorded"], *missing, "{race}");
                assert_eq!(row["denominator"], *recorded, "{race}");
                assert_eq!(row["numerator"], *yes, "{race}");
            }
        }
        let arrest = &json["outcome_sources"][0];
        assert_eq!(arrest["field"], "arrest_made");
        assert_eq!(
            (
                arrest["imports_from_column"].as_i64(),
                arrest["imports_from_outcome"].as_i64()
            ),
            (Some(1), Some(0))
        );
        assert!(json["method"].as_str().unwrap().contains("na.rm = TRUE"));

        // The staff page and its CSV download show it too.
        let (_, password) = app.user(&sj, "analyst", Role::Analyst).await;
        let mut analyst = app
            .client()
            .signed_in("sanjose", "analyst", &password)
            .await;
        let page = analyst.get("/sanjose/staff/stops/analysis").await;
        page.assert_status(StatusCode::OK);
        assert!(
            page.body
                .contains("Stops not recording whether a search was made")
        );
        assert!(page.body.contains("mean(x, na.rm = TRUE)"));
        // "Counted from the files' arrest_made column." (the apostrophe escaped).
        assert!(page.body.contains("arrest_made column."), "{}", page.body);
        let csv = analyst.get("/sanjose/staff/stops/export/rates.csv").await;
        csv.assert_status(StatusCode::OK);
        let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
        let header = reader.headers().unwrap().clone();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (table, group, den, missing) = (
            col("table"),
            col("group"),
            col("denominator"),
            col("not_recorded"),
        );
        let mut checked = 0;
        for record in reader.records() {
            let record = record.unwrap();
            if &record[table] != "search" {
                continue;
            }
            if let Some((_, recorded, m)) = by_race.get(&record[group]) {
                assert_eq!(record[den].parse::<i64>().unwrap(), *recorded);
                assert_eq!(record[missing].parse::<i64>().unwrap(), *m);
                checked += 1;
            }
        }
        assert_eq!(checked, 3);
    }
);

db_test!(
    arrests_come_from_outcome_only_where_the_file_has_no_arrest_column,
    |app| {
        let agency = app.agency("metro", "Metro PD").await;
        let stops = stops_with_gaps(3_000, 0x2545_f491_4f6c_dd1d);
        // The same stops without arrest_made, citation_issued and warning_issued: each is counted
        // from outcome, missing where outcome is.
        let (id, report) = import_text(
            &app,
            &agency,
            &csv_of(&stops, false),
            Mapping::sopp(),
            false,
        )
        .await;
        assert!(!report.rejected, "{:?}", report.errors);
        assert_rates(&analysis_tables(&app, &agency).await, &stops, true);
        let sources = store::outcome_sources(&app.db, agency.id).await.unwrap();
        assert!(
            sources
                .iter()
                .all(|s| (s.imports_from_column, s.imports_from_outcome) == (0, 1)),
            "{sources:?}"
        );
        assert!(
            sources[0].sentence().contains("no arrest_made column"),
            "{}",
            sources[0].sentence()
        );
        let derived: Option<String> = lantern::on_db!(&app.db, |pool| {
            sqlx::query_scalar(
                "SELECT derived_from_outcome FROM stop_imports WHERE agency_id = $1 AND id = $2",
            )
            .bind(agency.id)
            .bind(id)
            .fetch_one(pool)
            .await
        })
        .unwrap();
        assert_eq!(
            derived.as_deref(),
            Some("arrest_made,citation_issued,warning_issued")
        );
    }
);

db_test!(
    rows_whose_fields_contradict_each_other_are_refused_or_skipped,
    |app| {
        let sj = san_jose(&app).await;
        let text = "date,subject_race,search_conducted,contraband_found,search_basis,frisk_performed,outcome,arrest_made,citation_issued\n\
                2017-01-02,white,FALSE,TRUE,NA,FALSE,NA,FALSE,FALSE\n\
                2017-01-02,black,NA,NA,consent,FALSE,NA,FALSE,FALSE\n\
                2017-01-03,black,FALSE,NA,NA,TRUE,NA,FALSE,FALSE\n\
                2017-01-03,white,TRUE,FALSE,consent,FALSE,arrest,FALSE,FALSE\n\
                2017-01-04,hispanic,FALSE,NA,NA,FALSE,citation,TRUE,TRUE\n\
                2017-01-04,hispanic,TRUE,TRUE,probable cause,TRUE,arrest,TRUE,TRUE\n\
                2017-01-05,white,FALSE,FALSE,NA,NA,NA,NA,NA\n";
        let (_, report) = import_text(&app, &sj, text, Mapping::sopp(), false).await;
        assert!(report.rejected);
        let named: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            named,
            [
                "line 2, column contraband_found: \"TRUE\" is recorded on a stop without a search (search_conducted \"FALSE\"): contraband_found is recorded only when search_conducted is TRUE",
                "line 3, column search_basis: \"consent\" is recorded on a stop without a search (search_conducted \"NA\"): search_basis is recorded only when search_conducted is TRUE",
                "line 5, column outcome: \"arrest\" does not agree with arrest_made \"FALSE\": outcome is the strictest action taken (arrest, then citation, then warning), so arrest_made cannot be FALSE when outcome is \"arrest\"",
                "line 6, column outcome: \"citation\" does not agree with arrest_made \"TRUE\": outcome is the strictest action taken (arrest, then citation, then warning), so arrest_made cannot be TRUE when outcome is \"citation\"",
                "line 8, column contraband_found: \"FALSE\" is recorded on a stop without a search (search_conducted \"FALSE\"): contraband_found is recorded only when search_conducted is TRUE",
            ]
        );
        assert_eq!((report.rows_read, report.rows_invalid), (7, 5));
        assert_eq!(
            store::counts(&app.db, sj.id).await.unwrap().0,
            0,
            "nothing written"
        );

        // Skipped instead: a frisk without a search is an ordinary stop (SOPP records frisks
        // apart from searches), and goes in with the consistent row.
        let (_, report) = import_text(&app, &sj, text, Mapping::sopp(), true).await;
        assert_eq!((report.rows_inserted, report.rows_invalid), (2, 5));
        let tables = analysis_tables(&app, &sj).await;
        let frisk = tables.iter().find(|t| t.key == "frisk").unwrap();
        let black = frisk.rows.iter().find(|r| r.group == "black").unwrap();
        assert_eq!((black.numerator, black.denominator), (Some(1), Some(1)));
    }
);

db_test!(
    a_store_of_the_old_format_is_counted_again_from_the_stops,
    |app| {
        let sj = san_jose(&app).await;
        let metro = app.agency("metro", "Metro PD").await;
        let stops = stops_with_gaps(4_000, 0x1234_5678_9abc_def1);
        import_text(&app, &sj, &csv_of(&stops, true), Mapping::sopp(), false).await;
        import_text(&app, &metro, &csv_of(&stops, false), Mapping::sopp(), false).await;
        let all = Scope::default();
        let sj_cells = store::cells(&app.db, sj.id, &all).await.unwrap();
        let metro_cells = store::cells(&app.db, metro.id, &all).await.unwrap();

        // The store as format 1 left it: ten counts a cell, a missing value counted as "no" (an
        // arrest counted from outcome too), and imports that did not say where arrests came from.
        let rows: Vec<(i64, String, String, String)> = lantern::on_db!(&app.db, |pool| {
            sqlx::query_as("SELECT agency_id, month, district, cells FROM stop_month_cells")
                .fetch_all(pool)
                .await
        })
        .unwrap();
        for (agency, month, district, text) in rows {
            let old: Vec<String> = text
                .split('\n')
                .map(|line| line.split(',').take(14).collect::<Vec<_>>().join(","))
                .collect();
            lantern::on_db!(&app.db, |pool| {
            sqlx::query("UPDATE stop_month_cells SET cells = $4, format = 1 WHERE agency_id = $1 AND month = $2 AND district = $3")
                .bind(agency)
                .bind(&month)
                .bind(&district)
                .bind(old.join("\n"))
                .execute(pool)
                .await.map(|_| ())
        })
        .unwrap();
        }
        app.exec("UPDATE stop_imports SET derived_from_outcome = NULL")
            .await;
        assert!(
            store::cells(&app.db, sj.id, &Scope::default())
                .await
                .is_err(),
            "format 1 is not read as format 2"
        );

        // Migrating counts both agencies' cells again from their chunks.
        app.db.migrate().await.unwrap();
        assert_eq!(store::cells(&app.db, sj.id, &all).await.unwrap(), sj_cells);
        assert_eq!(
            store::cells(&app.db, metro.id, &all).await.unwrap(),
            metro_cells
        );
        assert_rates(&analysis_tables(&app, &sj).await, &stops, false);
        assert_rates(&analysis_tables(&app, &metro).await, &stops, true);
        let derived: Vec<Option<String>> = lantern::on_db!(&app.db, |pool| {
            sqlx::query_scalar("SELECT derived_from_outcome FROM stop_imports ORDER BY agency_id")
                .fetch_all(pool)
                .await
        })
        .unwrap();
        assert_eq!(
            derived,
            [
                Some(String::new()),
                Some("arrest_made,citation_issued,warning_issued".into())
            ]
        );
        // Nothing is left to rebuild.
        assert!(
            store::rebuild_stale_cells(&app.db)
                .await
                .unwrap()
                .is_empty()
        );
    }
);
