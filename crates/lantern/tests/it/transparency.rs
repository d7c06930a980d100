//! Stop imports and analyses on real data: the San Jose file of the Stanford Open Policing
//! Project (tests/data), checked against R (tests/reference/veil_of_darkness_san_jose.R).

use lantern::platform::agencies::{self, Agency, NewAgency};
use lantern::platform::audit::{self, Actor};
use lantern::platform::db::Backend;
use lantern::transparency::analysis::{self, VodForm};
use lantern::transparency::mapping::Mapping;
use lantern::transparency::model::ImportReport;
use lantern::transparency::store::{self, Scope};
use lantern::transparency::{import_now, population};

use crate::db_test;
use crate::helpers::TestApp;

pub const SAN_JOSE: &str = include_str!("../data/san_jose_2013_2018_subset.csv");
const ACS: &str = include_str!("../data/acs_2017_5yr_b03002_sample.csv");

/// San Jose at SOPP's centre point for the city.
pub async fn san_jose(app: &TestApp) -> Agency {
    let a = agencies::create(
        &app.db,
        NewAgency {
            slug: "sanjose".into(),
            name: "San Jose PD".into(),
            timezone: "America/Los_Angeles".into(),
            latitude: Some(37.3382082),
            longitude: Some(-121.8863286),
        },
        &Actor::System("test"),
        app.clock.unix(),
    )
    .await
    .unwrap();
    agencies::set_mfa_required(&app.db, a.id, false)
        .await
        .unwrap();
    agencies::by_id(&app.db, a.id).await.unwrap().unwrap()
}

pub async fn import_text(
    app: &TestApp,
    agency: &Agency,
    text: &str,
    mapping: Mapping,
    skip_invalid: bool,
) -> (i64, ImportReport) {
    import_bytes(app, agency, text.as_bytes(), mapping, skip_invalid)
        .await
        .unwrap()
}

async fn import_bytes(
    app: &TestApp,
    agency: &Agency,
    bytes: &[u8],
    mapping: Mapping,
    skip_invalid: bool,
) -> Result<(i64, ImportReport), lantern::transparency::import::ImportError> {
    import_now(
        &app.db,
        agency,
        "test.csv",
        Box::new(std::io::Cursor::new(bytes.to_vec())),
        Some(bytes.len() as u64),
        mapping,
        skip_invalid,
        Actor::System("test"),
        app.clock.unix(),
        None,
    )
    .await
}

/// The San Jose file with a stand-in district: the quadrant around the centre point, as the R
/// reference script defines it.
pub fn with_quadrant_districts(text: &str) -> String {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let lat = header.iter().position(|h| h == "lat").unwrap();
    let lng = header.iter().position(|h| h == "lng").unwrap();
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut h: Vec<&str> = header.iter().collect();
    h.push("district");
    out.write_record(&h).unwrap();
    for row in reader.records() {
        let row = row.unwrap();
        let district = match (row[lat].parse::<f64>(), row[lng].parse::<f64>()) {
            (Ok(y), Ok(x)) => format!(
                "{}{}",
                if y >= 37.3382082 { "N" } else { "S" },
                if x >= -121.8863286 { "E" } else { "W" }
            ),
            _ => "X".to_string(),
        };
        let mut r: Vec<&str> = row.iter().collect();
        r.push(&district);
        out.write_record(&r).unwrap();
    }
    String::from_utf8(out.into_inner().unwrap()).unwrap()
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, R says {want}"
    );
}

db_test!(the_san_jose_file_imports_once_and_matches_r, |app| {
    let sj = san_jose(&app).await;
    let (id, report) = import_text(&app, &sj, SAN_JOSE, Mapping::sopp(), false).await;
    assert!(!report.rejected, "{:?}", report.errors);
    assert_eq!(report.rows_read, 22_763);
    assert_eq!(report.rows_inserted, 22_763);
    assert_eq!(report.rows_invalid, 0);
    assert!(
        report.ignored_columns.is_empty(),
        "{:?}",
        report.ignored_columns
    );
    let stored = store::import(&app.db, sj.id, id).await.unwrap().unwrap();
    assert_eq!(stored.status, "done");
    assert_eq!(stored.sha256.len(), 64);

    // The analysis store holds R's counts per race.
    let cells = store::cells(&app.db, sj.id, &Scope::default())
        .await
        .unwrap();
    let totals = analysis::totals_by_group(&cells);
    let get = |g: &str| totals.iter().find(|t| t.group == g).unwrap().clone();
    // (race, stops, searches, with a recorded result, hits) from the R script.
    for (race, stops, searches, with_outcome, hits) in [
        ("asian/pacific islander", 1163, 795, 795, 221),
        ("black", 1904, 1557, 1557, 405),
        ("hispanic", 10680, 8811, 8811, 2027),
        ("other", 2010, 636, 636, 210),
        ("unknown", 4125, 3, 3, 1),
        ("white", 2881, 2223, 2223, 683),
    ] {
        let t = get(race);
        assert_eq!(
            (t.stops, t.searches, t.searches_with_outcome, t.hits),
            (stops, searches, with_outcome, hits),
            "{race}"
        );
    }
    let tables = analysis::rate_tables(&totals, 10);
    let black = tables[0].rows.iter().find(|r| r.group == "black").unwrap();
    // Over the stops that recorded search_conducted (24 Black and 33 White stops did not).
    assert_eq!(
        (black.denominator, black.not_recorded),
        (Some(1880), Some(24))
    );
    close(black.ratio.unwrap(), 1.061038849169, 1e-9, "search ratio");
    close(black.ratio_lower.unwrap(), 1.031391859662, 1e-9, "lower");
    close(black.ratio_upper.unwrap(), 1.091538030768, 1e-9, "upper");
    close(black.p_value.unwrap(), 4.17334594772e-05, 1e-9, "p");

    // Sun times were stored with each stop (suncalc.js: 2014-06-21 sunset 20:32, dusk 21:03).
    let midsummer = chrono::NaiveDate::from_ymd_opt(2014, 6, 21).unwrap();
    let mut sun: Vec<(Option<i64>, Option<i64>)> = store::stops(&app.db, sj.id)
        .await
        .unwrap()
        .iter()
        .filter(|s| s.record.date == midsummer)
        .map(|s| (s.sunset_minute, s.dusk_minute))
        .collect();
    assert!(sun.len() > 1);
    sun.dedup();
    assert_eq!(sun, vec![(Some(1232), Some(1263))]);

    // The veil-of-darkness test matches R's glm on SOPP's cells.
    let cells = store::vod_cells(&app.db, sj.id, &Scope::default(), "black", "white")
        .await
        .unwrap();
    let vod = analysis::veil_of_darkness(&cells, "black", "white");
    assert_eq!(vod.stops, 951);
    assert_eq!(vod.stops_dark, 458);
    let plain = vod.fits.iter().find(|f| f.form == VodForm::Plain).unwrap();
    assert_eq!(plain.cells, 84);
    close(plain.coefficient, 0.028153643515, 1e-6, "coefficient");
    close(plain.std_error, 0.153626660187, 1e-6, "standard error");
    close(plain.p_value, 0.854593907033, 1e-6, "p-value");
    assert!(
        vod.fits.iter().all(|f| f.form == VodForm::Plain),
        "no districts in the file: only the plain form"
    );

    // Importing the same file again adds nothing, and the store does not double.
    let (_, again) = import_text(&app, &sj, SAN_JOSE, Mapping::sopp(), false).await;
    assert_eq!((again.rows_inserted, again.rows_duplicate), (0, 22_763));
    let (stops, imports) = store::counts(&app.db, sj.id).await.unwrap();
    assert_eq!((stops, imports), (22_763, 2));

    // Both imports are in the audit chain, which is intact.
    let v = audit::verify(&app.db, sj.id).await.unwrap();
    assert!(v.is_intact());
    let n: i64 = lantern::on_db!(&app.db, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE agency_id = $1 AND action = 'stops.import'",
        )
        .bind(sj.id)
        .fetch_one(pool)
        .await
    })
    .unwrap();
    assert_eq!(n, 2);
});

db_test!(the_district_forms_match_r, |app| {
    let sj = san_jose(&app).await;
    let text = with_quadrant_districts(SAN_JOSE);
    let (_, report) = import_text(&app, &sj, &text, Mapping::sopp(), false).await;
    assert_eq!(report.rows_inserted, 22_763);
    let cells = store::vod_cells(&app.db, sj.id, &Scope::default(), "black", "white")
        .await
        .unwrap();
    let vod = analysis::veil_of_darkness(&cells, "black", "white");
    let fit = |form| vod.fits.iter().find(|f| f.form == form).unwrap();
    close(
        fit(VodForm::Plain).coefficient,
        0.028153643515,
        1e-6,
        "plain",
    );
    let d = fit(VodForm::District);
    assert_eq!(d.cells, 321);
    close(d.coefficient, 0.052386582393, 1e-6, "district coefficient");
    close(d.std_error, 0.155186236122, 1e-6, "district se");
    let i = fit(VodForm::Interaction);
    close(
        i.coefficient,
        0.020500218364,
        1e-6,
        "interaction coefficient",
    );
    close(i.std_error, 0.158400864602, 1e-6, "interaction se");
});

db_test!(
    an_invalid_row_rejects_the_whole_file_unless_skipped,
    |app| {
        let sj = san_jose(&app).await;
        let text = "date,time,subject_race,search_conducted,contraband_found\n\
                2017-01-02,10:00:00,white,FALSE,NA\n\
                2017-01-02,10:05:00,black,TRUE,FALSE\n\
                2017-02-30,10:06:00,black,TRUE,FALSE\n\
                2017-01-03,11:00:00,purple,FALSE,NA\n\
                2017-01-04,12:00:00,hispanic,yes,NA\n";
        let (id, report) = import_text(&app, &sj, text, Mapping::sopp(), false).await;
        assert!(report.rejected);
        assert_eq!((report.rows_read, report.rows_invalid), (5, 3));
        let named: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            named,
            [
                "line 4, column date: \"2017-02-30\" is not a date (expected YYYY-MM-DD)",
                "line 5, column subject_race: \"purple\" is not one of white, black, hispanic, asian/pacific islander, other, unknown",
                "line 6, column search_conducted: \"yes\" is not yes or no (expected one of TRUE/true/T/1 or FALSE/false/F/0)",
            ]
        );
        let (stops, _) = store::counts(&app.db, sj.id).await.unwrap();
        assert_eq!(stops, 0, "nothing written");
        assert!(store::stops(&app.db, sj.id).await.unwrap().is_empty());
        let stored = store::import(&app.db, sj.id, id).await.unwrap().unwrap();
        assert_eq!(stored.status, "failed");
        assert_eq!(stored.parsed_report().unwrap().errors.len(), 3);

        let (_, report) = import_text(&app, &sj, text, Mapping::sopp(), true).await;
        assert!(!report.rejected);
        assert_eq!((report.rows_inserted, report.rows_invalid), (2, 3));
        let cells = store::cells(&app.db, sj.id, &Scope::default())
            .await
            .unwrap();
        let totals = analysis::totals_by_group(&cells);
        let black = totals.iter().find(|t| t.group == "black").unwrap();
        assert_eq!(
            (
                black.stops,
                black.searches,
                black.searches_with_outcome,
                black.hits
            ),
            (1, 1, 1, 0)
        );

        // A file that does not fit the format at all is an error naming the problem.
        let err = import_bytes(
            &app,
            &sj,
            b"when,race\n2017-01-01,white\n",
            Mapping::sopp(),
            false,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("no column \"date\""), "{err}");
    }
);

db_test!(
    a_file_of_many_blocks_reports_its_problems_by_file_line_in_order,
    |app| {
        // Large enough to be parsed in several blocks on several threads; some locations
        // span two lines, so that line numbers and record numbers differ.
        let sj = san_jose(&app).await;
        let mut text = String::from("date,time,location,subject_race,search_conducted\n");
        let mut line = 2;
        let mut bad_lines = Vec::new();
        let mut valid = 0;
        for i in 0..150_000 {
            let location = if i % 10 == 3 {
                format!("\"{i} MARKET ST,\nAPT {}\"", i % 7)
            } else {
                format!("{i} MARKET ST")
            };
            let race = if i % 1000 == 999 { "purple" } else { "black" };
            text.push_str(&format!(
                "2017-01-{:02},10:{:02}:00,{location},{race},FALSE\n",
                1 + i % 28,
                i % 60
            ));
            if race == "purple" {
                bad_lines.push(line);
            } else {
                valid += 1;
            }
            line += if i % 10 == 3 { 2 } else { 1 };
        }
        assert!(text.len() > 3 * (4 << 20) / 2, "{} bytes", text.len());
        let (_, report) = import_text(&app, &sj, &text, Mapping::sopp(), false).await;
        assert!(report.rejected);
        assert_eq!((report.rows_read, report.rows_invalid), (150_000, 150));
        let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, bad_lines[..100]);
        assert_eq!(report.more_errors, 50);
        assert!(report.errors.iter().all(|e| e.column == "subject_race"));
        assert_eq!(store::counts(&app.db, sj.id).await.unwrap().0, 0);

        let (_, report) = import_text(&app, &sj, &text, Mapping::sopp(), true).await;
        assert_eq!(report.rows_inserted, valid);
        let stops = store::stops(&app.db, sj.id).await.unwrap();
        assert_eq!(stops.len() as u64, valid);
        // In file order, whole: the multi-line locations came through.
        let locations: Vec<&str> = stops
            .iter()
            .map(|s| s.record.location.as_deref().unwrap())
            .collect();
        assert_eq!(locations[3], "3 MARKET ST,\nAPT 3");
        assert_eq!(locations[valid as usize - 1], "149998 MARKET ST");

        // Text that is not UTF-8 is named by line and column.
        let mut bytes = text.as_bytes()[..200].to_vec();
        bytes.extend_from_slice(b"\n2017-01-01,10:00:00,CAF\xc9,black,FALSE\n");
        let err = import_bytes(&app, &sj, &bytes, Mapping::sopp(), false)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("column location"), "{err}");
        assert!(err.contains("UTF-8"), "{err}");
    }
);

db_test!(a_mapping_file_reads_another_schema, |app| {
    let sj = san_jose(&app).await;
    let mapping = Mapping::from_toml(
        r#"
        name = "Metro RMS"
        date_format = "%m/%d/%Y"
        time_format = "%H%M"
        true_values = ["Y"]
        false_values = ["N"]
        [columns]
        source_id = "INCIDENT"
        date = "STOP_DATE"
        time = "HHMM"
        subject_race = "RACE"
        district = "BEAT"
        search_conducted = "SRCH"
        contraband_found = "FOUND"
        [values.subject_race]
        W = "white"
        B = "black"
        H = "hispanic"
        "#,
    )
    .unwrap_err();
    // `source_id` is not a field name: the SOPP name is raw_row_number.
    assert!(mapping.contains("source_id"), "{mapping}");
    let mapping = Mapping::from_toml(
        r#"
        name = "Metro RMS"
        date_format = "%m/%d/%Y"
        time_format = "%H%M"
        true_values = ["Y"]
        false_values = ["N"]
        [columns]
        raw_row_number = "INCIDENT"
        date = "STOP_DATE"
        time = "HHMM"
        subject_race = "RACE"
        district = "BEAT"
        search_conducted = "SRCH"
        contraband_found = "FOUND"
        [values.subject_race]
        W = "white"
        B = "black"
        H = "hispanic"
        "#,
    )
    .unwrap();
    let text = "INCIDENT,STOP_DATE,HHMM,RACE,BEAT,SRCH,FOUND,NOTES\n\
                A1,06/27/2017,2107,B,12,Y,N,x\n\
                A2,06/27/2017,2108,W,12,Y,Y,y\n\
                A3,06/28/2017,0930,H,14,N,,z\n";
    let (_, report) = import_text(&app, &sj, text, mapping.clone(), false).await;
    assert_eq!(report.rows_inserted, 3, "{:?}", report.errors);
    assert_eq!(report.ignored_columns, vec!["NOTES".to_string()]);
    let scope = Scope {
        district: "12".into(),
        ..Default::default()
    };
    let cells = store::cells(&app.db, sj.id, &scope).await.unwrap();
    assert_eq!(cells.len(), 2);
    assert!(
        cells
            .iter()
            .all(|c| c.month == "2017-06" && c.searches == 1)
    );
    // The source ids make a re-import with one corrected row skip the two it already has.
    let text2 = "INCIDENT,STOP_DATE,HHMM,RACE,BEAT,SRCH,FOUND,NOTES\n\
                 A1,06/27/2017,2107,B,12,Y,N,x\n\
                 A2,06/27/2017,2108,W,12,Y,Y,y\n\
                 A4,06/29/2017,1200,W,14,N,,\n";
    let (_, report) = import_text(&app, &sj, text2, mapping, false).await;
    assert_eq!((report.rows_inserted, report.rows_duplicate), (1, 2));
});

db_test!(population_benchmarks_import_from_the_census_table, |app| {
    let sj = san_jose(&app).await;
    let margins = population::parse_acs_b03002(ACS, "06085", "agency").unwrap();
    population::store(
        &app.db,
        &sj,
        &margins,
        &Actor::System("test"),
        app.clock.unix(),
    )
    .await
    .unwrap();
    let m = store::race_margin(&app.db, sj.id, "agency").await.unwrap();
    let get = |r: &str| m.iter().find(|(c, _, _)| c == r).unwrap().1;
    // Santa Clara County, ACS 2017 5-year: NH White, NH Black, Hispanic, NH Asian + NHPI,
    // and NH AIAN + some other + two or more; the five add up to the county total.
    assert_eq!(get("white"), 622_266);
    assert_eq!(get("black"), 45_479);
    assert_eq!(get("hispanic"), 498_253);
    assert_eq!(get("asian/pacific islander"), 667_561 + 6_264);
    assert_eq!(get("other"), 3_104 + 4_509 + 63_790);
    assert_eq!(m.iter().map(|(_, p, _)| p).sum::<i64>(), 1_911_226);
    assert!(m[0].2.contains("Santa Clara County"));
    assert!(population::parse_acs_b03002(ACS, "99999", "agency").is_err());

    // With stops imported, the benchmark test uses it.
    import_text(&app, &sj, SAN_JOSE, Mapping::sopp(), false).await;
    let cells = store::cells(&app.db, sj.id, &Scope::default())
        .await
        .unwrap();
    let totals = analysis::totals_by_group(&cells);
    let b = analysis::benchmark(&totals, &m, "agency", 55, 10).unwrap();
    let black = b.rows.iter().find(|r| r.group == "black").unwrap();
    let want = (1904.0 / 45_479.0) / (2881.0 / 622_266.0);
    close(
        black.ratio.unwrap(),
        want,
        1e-12,
        "stops per resident, black over white",
    );
    assert!(black.ratio_lower.unwrap() > 8.0);
});

db_test!(imports_cut_short_by_a_restart_are_marked_failed, |app| {
    let sj = san_jose(&app).await;
    let queued = store::create_import(&app.db, sj.id, "a.csv", "sopp", false, None, "queued", 1)
        .await
        .unwrap();
    let (done, _) = import_text(&app, &sj, "date\n2017-01-01\n", Mapping::sopp(), false).await;
    assert_eq!(
        store::fail_interrupted_imports(&app.db, 2).await.unwrap(),
        1
    );
    let q = store::import(&app.db, sj.id, queued)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(q.status, "failed");
    assert!(q.failure().unwrap().contains("server stopped"));
    let d = store::import(&app.db, sj.id, done).await.unwrap().unwrap();
    assert_eq!(d.status, "done", "finished imports are left alone");
});

db_test!(analysts_upload_a_file_from_the_stops_page, |app| {
    use axum::http::{Method, StatusCode};
    let sj = san_jose(&app).await;
    let (_, pw) = app
        .user(&sj, "ana", lantern::platform::accounts::Role::Analyst)
        .await;
    let mut c = app.client().signed_in("sanjose", "ana", &pw).await;
    let page = c.get("/sanjose/staff/stops").await.body;
    assert!(page.contains("enctype=\"multipart/form-data\""));
    let token = c.csrf().await;
    let head: String = SAN_JOSE.lines().take(51).collect::<Vec<_>>().join("\n");
    let multipart = |parts: &[(&str, Option<&str>, &str)]| {
        let mut body = String::new();
        for (name, file, content) in parts {
            body.push_str("--XyZ\r\n");
            match file {
                Some(f) => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n"
                )),
                None => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                )),
            }
            body.push_str(content);
            body.push_str("\r\n");
        }
        body.push_str("--XyZ--\r\n");
        body.into_bytes()
    };
    let url = format!("/sanjose/staff/stops/imports?csrf={token}");
    let r = c
        .request(
            Method::POST,
            &url,
            Some((
                "multipart/form-data; boundary=XyZ",
                multipart(&[
                    ("file", Some("sj50.csv"), &head),
                    ("skip_invalid", None, "1"),
                ]),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let report_url = r.location().unwrap().to_string();
    let id: i64 = report_url.rsplit('/').next().unwrap().parse().unwrap();
    let mut status = String::new();
    for _ in 0..200 {
        status = store::import(&app.db, sj.id, id)
            .await
            .unwrap()
            .unwrap()
            .status;
        if status == "done" || status == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(status, "done");
    let page = c.get(&report_url).await.body;
    assert!(page.contains("sj50.csv"), "the report page names the file");
    let stored = store::import(&app.db, sj.id, id).await.unwrap().unwrap();
    assert_eq!((stored.rows_inserted, stored.skip_invalid), (50, true));
    // No file: a clear error; no CSRF token: refused.
    let r = c
        .request(
            Method::POST,
            &url,
            Some((
                "multipart/form-data; boundary=XyZ",
                multipart(&[("skip_invalid", None, "1")]),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose a CSV file"));
    let r = c
        .request(
            Method::POST,
            "/sanjose/staff/stops/imports",
            Some((
                "multipart/form-data; boundary=XyZ",
                multipart(&[("file", Some("x.csv"), &head)]),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
});

/// SOPP's 2017 county tables as cells of the analysis store: each county a district, every
/// search discretionary (the tables do not say the basis).
fn county_cells(
    text: &str,
    numerator: &str,
    denominator: &str,
) -> Vec<lantern::transparency::model::Cell> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (race, location, num, den) = (
        col("driver_race"),
        col("location"),
        col(numerator),
        col(denominator),
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let count = |i: usize| r[i].parse::<f64>().unwrap() as i64;
            let group = match &r[race] {
                "White drivers" => "white",
                "Black drivers" => "black",
                "Hispanic drivers" => "hispanic",
                other => panic!("unexpected group {other}"),
            };
            let mut c = lantern::transparency::model::Cell {
                month: "2017-01".into(),
                district: r[location].to_string(),
                subject_race: group.into(),
                ..Default::default()
            };
            if numerator == "n_hits" {
                (c.hits, c.searches_with_outcome) = (count(num), count(den));
                (c.discretionary_hits, c.discretionary_searches) = (count(num), count(den));
            } else {
                (c.searches, c.stops) = (count(num), count(den));
            }
            c
        })
        .collect()
}

/// Pooled search and hit rates of SOPP's 2017 national analysis (DESIGN's reference values),
/// and the per-county hit rates of its outcome test, from SOPP's own county tables.
#[test]
fn search_and_hit_rates_match_sopp_2017() {
    let search = county_cells(
        include_str!("../data/fig3a_search_rate_county.csv"),
        "n_searches",
        "n_stops",
    );
    let hits = county_cells(
        include_str!("../data/fig4a_hit_rate_county.csv"),
        "n_hits",
        "n_searches",
    );
    let rate = |cells: &[lantern::transparency::model::Cell], key: &str, group: &str| {
        let totals = analysis::totals_by_group(cells);
        let tables = analysis::rate_tables(&totals, 10);
        let t = tables.iter().find(|t| t.key == key).unwrap();
        t.rows.iter().find(|r| r.group == group).unwrap().clone()
    };
    for (group, want) in [("white", 0.0185), ("black", 0.0344), ("hispanic", 0.0374)] {
        let r = rate(&search, "search", group);
        assert!(
            (r.rate.unwrap() - want).abs() < 5e-5,
            "search {group}: {r:?}"
        );
        assert!(r.rate_lower.unwrap() < r.rate.unwrap() && r.rate.unwrap() < r.rate_upper.unwrap());
    }
    for (group, want) in [("white", 0.277), ("black", 0.286), ("hispanic", 0.225)] {
        let r = rate(&hits, "hit", group);
        assert!((r.rate.unwrap() - want).abs() < 5e-4, "hit {group}: {r:?}");
    }
    // SOPP: Hispanic drivers' searches find contraband less often than White drivers'.
    let h = rate(&hits, "hit", "hispanic");
    assert!(
        h.ratio_upper.unwrap() < 1.0 && h.q_value.unwrap() < 0.001,
        "{h:?}"
    );

    // District by district, each county's rate is its own hits over its own searches, and
    // counts under the threshold are withheld.
    let by_county = analysis::outcome_by_district(&hits, 10);
    let counties: std::collections::HashSet<&str> =
        hits.iter().map(|c| c.district.as_str()).collect();
    assert_eq!(by_county.len(), counties.len());
    let mut checked = 0;
    for c in &hits {
        let d = by_county.iter().find(|d| d.district == c.district).unwrap();
        let row = d
            .table
            .rows
            .iter()
            .find(|r| r.group == c.subject_race)
            .unwrap();
        if c.discretionary_searches > 0 && c.discretionary_searches < 10 {
            assert!(row.suppressed && row.rate.is_none(), "{c:?}");
        } else if row.suppressed {
            // A complement: withheld so that a small count beside it cannot be worked out.
            assert!(row.rate.is_none(), "{c:?}");
            let withheld = d.table.rows.iter().filter(|r| r.suppressed).count();
            assert!(withheld >= 2, "a complement is never withheld alone: {d:?}");
        } else if c.discretionary_searches >= 10 && c.discretionary_hits >= 10 {
            let want = c.discretionary_hits as f64 / c.discretionary_searches as f64;
            assert!((row.rate.unwrap() - want).abs() < 1e-12, "{c:?}");
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} county rates compared");
}

/// Copies the agency's stops, decoded from their chunks, into a plain table `recount_stops` (a
/// row per stop), so that the analysis store can be checked against counts that SQL takes
/// independently of the code that tallied it.
async fn stops_as_rows(app: &TestApp, agency: i64) {
    let stops = store::stops(&app.db, agency).await.unwrap();
    lantern::on_db!(&app.db, |pool| {
        sqlx::query(
            "CREATE TABLE recount_stops (agency_id BIGINT, stop_date TEXT, stop_minute BIGINT, \
                 sunset_minute BIGINT, dusk_minute BIGINT, district TEXT, subject_race TEXT, \
                 subject_sex TEXT, subject_age BIGINT, stop_type TEXT, outcome TEXT, \
                 arrest_made BOOLEAN, citation_issued BOOLEAN, warning_issued BOOLEAN, \
                 frisk_performed BOOLEAN, search_conducted BOOLEAN, search_basis TEXT, \
                 contraband_found BOOLEAN)",
        )
        .execute(pool)
        .await
        .unwrap();
        for rows in stops.chunks(500) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO recount_stops (agency_id, stop_date, stop_minute, sunset_minute, \
                 dusk_minute, district, subject_race, subject_sex, subject_age, stop_type, outcome, \
                 arrest_made, citation_issued, warning_issued, frisk_performed, search_conducted, \
                 search_basis, contraband_found) ",
            );
            q.push_values(rows, |mut b, s| {
                let r = &s.record;
                b.push_bind(agency)
                    .push_bind(r.date.format("%Y-%m-%d").to_string())
                    .push_bind(s.stop_minute)
                    .push_bind(s.sunset_minute)
                    .push_bind(s.dusk_minute)
                    .push_bind(r.district.clone())
                    .push_bind(r.subject_race.clone())
                    .push_bind(r.subject_sex.clone())
                    .push_bind(r.subject_age)
                    .push_bind(r.stop_type.clone())
                    .push_bind(r.outcome.clone())
                    .push_bind(r.arrest_made)
                    .push_bind(r.citation_issued)
                    .push_bind(r.warning_issued)
                    .push_bind(r.frisk_performed)
                    .push_bind(r.search_conducted)
                    .push_bind(r.search_basis.clone())
                    .push_bind(r.contraband_found);
            });
            q.build().execute(pool).await.unwrap();
        }
    });
}

/// The analysis store's cells, read back whole, and the same counts taken over the stops
/// (as rows, [`stops_as_rows`]), each row as `key|…|counts` text. The stops are of files with
/// `arrest_made` and `citation_issued` columns (or no outcome at all) and no `warning_issued`
/// column: warnings are counted from `outcome`, and a missing value counts as missing.
async fn cells_stored_and_recounted(app: &TestApp, agency: i64) -> (Vec<String>, Vec<String>) {
    let age = "CASE WHEN subject_age IS NULL THEN '' WHEN subject_age < 18 THEN 'under 18' \
         WHEN subject_age < 25 THEN '18-24' WHEN subject_age < 35 THEN '25-34' \
         WHEN subject_age < 45 THEN '35-44' WHEN subject_age < 55 THEN '45-54' \
         WHEN subject_age < 65 THEN '55-64' ELSE '65 and over' END";
    let count =
        |condition: &str| format!("CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS TEXT)");
    let counts = [
        "TRUE".to_string(),
        "search_conducted".into(),
        "search_conducted AND contraband_found IS NOT NULL".into(),
        "search_conducted AND contraband_found".into(),
        "search_conducted AND contraband_found IS NOT NULL AND COALESCE(search_basis, '') <> 'other'".into(),
        "search_conducted AND contraband_found AND COALESCE(search_basis, '') <> 'other'".into(),
        "frisk_performed".into(),
        "arrest_made".into(),
        "citation_issued".into(),
        "outcome = 'warning'".into(),
        "search_conducted IS NULL".into(),
        "frisk_performed IS NULL".into(),
        "arrest_made IS NULL".into(),
        "citation_issued IS NULL".into(),
        "outcome IS NULL".into(),
        "search_conducted AND contraband_found IS NULL AND COALESCE(search_basis, '') <> 'other'".into(),
    ]
    .map(|c| count(&c))
    .join(" || '|' || ");
    let recount = format!(
        "SELECT substr(stop_date, 1, 7) || '|' || COALESCE(district, '') || '|' || COALESCE(stop_type, '') || '|' || \
             COALESCE(subject_race, 'unknown') || '|' || COALESCE(subject_sex, '') || '|' || {age} || '|' || {counts} \
         FROM recount_stops WHERE agency_id = $1 \
         GROUP BY substr(stop_date, 1, 7), COALESCE(district, ''), COALESCE(stop_type, ''), \
             COALESCE(subject_race, 'unknown'), COALESCE(subject_sex, ''), {age} ORDER BY 1"
    );
    let fetch = |sql: String| async move {
        lantern::on_db!(&app.db, |pool| {
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
                .bind(agency)
                .fetch_all(pool)
                .await
        })
        .unwrap()
    };
    let rows: Vec<(String, String, i64, String)> = lantern::on_db!(&app.db, |pool| {
        sqlx::query_as(
            "SELECT month, district, stops, cells FROM stop_month_cells WHERE agency_id = $1",
        )
        .bind(agency)
        .fetch_all(pool)
        .await
    })
    .unwrap();
    let mut stored = Vec::new();
    for (month, district, stops, cells) in &rows {
        let lines = lantern::transparency::tally::read_cells(cells).unwrap();
        let counted: u64 = lines.iter().map(|l| l.counts[0]).sum();
        assert_eq!(
            *stops as u64, counted,
            "{month} {district}: stops, and its cells' stops"
        );
        for l in lines {
            let counts = l.counts.map(|n| n.to_string());
            stored.push(format!(
                "{month}|{district}|{}|{}",
                l.names.join("|"),
                counts.join("|")
            ));
        }
    }
    stored.sort();
    let mut recount = fetch(recount).await;
    recount.sort();
    (stored, recount)
}

/// The veil-of-darkness store, and the same over the stops: (key, count) as text, by date
/// and by minute.
async fn darkness_store_and_recount(app: &TestApp, agency: i64) -> Vec<(Vec<String>, Vec<String>)> {
    let rows = store::light_store(&app.db, agency).await.unwrap();
    let dusk = store::dusk(&app.db, agency).await.unwrap();
    let mut by_date = Vec::new();
    let mut by_minute = Vec::new();
    for r in &rows {
        let group = format!("{}|{}|{}", r.district, r.stop_type, r.subject_race);
        for (date, n) in store::light_days(r) {
            let dusk = dusk[&date];
            by_date.push(format!("{}|{group}|{dusk}|{n}", date.format("%Y-%m-%d")));
        }
        for (slot, n) in r.light.minutes.iter().enumerate().filter(|(_, n)| **n > 0) {
            let (minute, dark) = (slot % 1440, slot / 1440);
            by_minute.push(format!("{minute}|{}|{group}|{dark}|{n}", r.year));
        }
    }
    let recounts = [
        "SELECT stop_date || '|' || COALESCE(district, '') || '|' || COALESCE(stop_type, '') || '|' || \
             COALESCE(subject_race, 'unknown') || '|' || CAST(MIN(dusk_minute) AS TEXT) || '|' || CAST(COUNT(*) AS TEXT) \
         FROM recount_stops WHERE agency_id = $1 AND stop_minute IS NOT NULL AND dusk_minute IS NOT NULL \
         GROUP BY stop_date, COALESCE(district, ''), COALESCE(stop_type, ''), COALESCE(subject_race, 'unknown')",
        "SELECT CAST(stop_minute AS TEXT) || '|' || substr(stop_date, 1, 4) || '|' || COALESCE(district, '') || '|' || \
             COALESCE(stop_type, '') || '|' || COALESCE(subject_race, 'unknown') || '|' || \
             CAST(CASE WHEN stop_minute >= dusk_minute THEN 1 ELSE 0 END AS TEXT) || '|' || CAST(COUNT(*) AS TEXT) \
         FROM recount_stops WHERE agency_id = $1 AND stop_minute IS NOT NULL AND dusk_minute IS NOT NULL \
           AND NOT (stop_minute >= sunset_minute AND stop_minute <= dusk_minute) \
         GROUP BY stop_minute, substr(stop_date, 1, 4), COALESCE(district, ''), COALESCE(stop_type, ''), \
             COALESCE(subject_race, 'unknown'), CASE WHEN stop_minute >= dusk_minute THEN 1 ELSE 0 END",
    ];
    let mut out = Vec::new();
    for (mut stored, recount) in [by_date, by_minute].into_iter().zip(recounts) {
        let mut recounted: Vec<String> = lantern::on_db!(&app.db, |pool| {
            sqlx::query_scalar::<_, String>(recount)
                .bind(agency)
                .fetch_all(pool)
                .await
        })
        .unwrap();
        stored.sort();
        recounted.sort();
        out.push((stored, recounted));
    }
    out
}

db_test!(the_analysis_store_equals_the_stops_counted_again, |app| {
    let sj = san_jose(&app).await;
    let full = with_quadrant_districts(SAN_JOSE);
    // Part of the file, then all of it: the second import's batches are partly duplicates.
    let part: String = full.lines().take(3001).collect::<Vec<_>>().join("\n");
    let (_, first) = import_text(&app, &sj, &part, Mapping::sopp(), false).await;
    assert_eq!(first.rows_inserted, 3000);
    let (_, second) = import_text(&app, &sj, &full, Mapping::sopp(), false).await;
    assert_eq!(second.rows_duplicate, 3000);
    // A source id repeated in one file is one stop.
    let repeated = "raw_row_number,date,time,subject_race,subject_sex,subject_age,search_conducted,contraband_found,search_basis\n\
                    x1,2017-03-01,21:30:00,black,female,17,TRUE,TRUE,other\n\
                    x2,2017-03-01,21:40:00,white,male,70,TRUE,FALSE,consent\n\
                    x1,2017-03-02,09:00:00,white,male,40,FALSE,NA,NA\n";
    let (_, third) = import_text(&app, &sj, repeated, Mapping::sopp(), false).await;
    assert_eq!((third.rows_inserted, third.rows_duplicate), (2, 1));

    stops_as_rows(&app, sj.id).await;
    let (stored, recounted) = cells_stored_and_recounted(&app, sj.id).await;
    assert!(stored.len() > 100, "{} cells", stored.len());
    assert_eq!(stored, recounted);
    let total: i64 = stored
        .iter()
        .map(|c| c.split('|').nth(6).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 22_763 + 2);
    // A search incident to arrest ("other") is not discretionary; one with consent is.
    assert!(
        stored.contains(
            &"2017-03|||black|female|under 18|1|1|1|1|0|0|0|0|0|0|0|1|1|1|1|0".to_string()
        ),
        "{stored:?}"
    );
    assert!(
        stored.contains(
            &"2017-03|||white|male|65 and over|1|1|1|0|1|0|0|0|0|0|0|1|1|1|1|0".to_string()
        )
    );
    for (stored, recounted) in darkness_store_and_recount(&app, sj.id).await {
        assert!(stored.len() > 100, "{} rows", stored.len());
        assert_eq!(stored, recounted);
    }
});

db_test!(two_imports_of_one_file_at_once_add_each_stop_once, |app| {
    let sj = san_jose(&app).await;
    // The second import waits for the first (the write lock on SQLite, the agency's import
    // lock on PostgreSQL), then finds every stop stored.
    let ((_, a), (_, b)) = tokio::join!(
        import_text(&app, &sj, SAN_JOSE, Mapping::sopp(), false),
        import_text(&app, &sj, SAN_JOSE, Mapping::sopp(), false),
    );
    let mut inserted = [a.rows_inserted, b.rows_inserted];
    inserted.sort();
    assert_eq!(inserted, [0, 22_763]);
    assert_eq!(a.rows_duplicate + b.rows_duplicate, 22_763);
    assert_eq!(store::stops(&app.db, sj.id).await.unwrap().len(), 22_763);
    let (stops, _) = store::counts(&app.db, sj.id).await.unwrap();
    assert_eq!(stops, 22_763);
});

db_test!(
    cells_stored_a_row_each_are_kept_by_the_migration_to_a_row_a_month,
    |app| {
        let sj = san_jose(&app).await;
        // The store as migration 0007 found it: a row per cell.
        let int = if app.backend == Backend::Sqlite {
            "INTEGER"
        } else {
            "BIGINT"
        };
        // The ten counts of format 1.
        let counts: Vec<String> = lantern::transparency::tally::CELL_COUNTS[..10]
            .iter()
            .map(|c| format!("{c} {int} NOT NULL"))
            .collect();
        app.exec(&format!(
        "DROP TABLE stop_month_cells; \
         CREATE TABLE stop_cells (agency_id {int} NOT NULL, month TEXT NOT NULL, \
         district TEXT NOT NULL, stop_type TEXT NOT NULL, subject_race TEXT NOT NULL, \
         subject_sex TEXT NOT NULL, age_group TEXT NOT NULL, {}, \
         PRIMARY KEY (agency_id, month, district, stop_type, subject_race, subject_sex, age_group))",
        counts.join(", ")
    ))
    .await;
        let id = sj.id;
        app.exec(&format!(
        "INSERT INTO stop_cells VALUES \
         ({id}, '2017-03', 'A', 'vehicular', 'black', 'female', 'under 18', 5, 2, 2, 1, 1, 1, 0, 1, 2, 0), \
         ({id}, '2017-03', 'A', 'vehicular', 'black', 'male', '', 3, 1, 1, 0, 1, 0, 1, 0, 0, 3), \
         ({id}, '2017-03', 'A', '', 'white', '', '', 4, 0, 0, 0, 0, 0, 0, 0, 1, 1), \
         ({id}, '2017-03', '', 'pedestrian', 'hispanic', 'male', '65 and over', 1, 1, 0, 0, 0, 0, 1, 0, 0, 0), \
         ({id}, '2018-01', 'A', 'vehicular', 'black', 'female', '18-24', 7, 0, 0, 0, 0, 0, 0, 0, 0, 7)"
    ))
    .await;
        let migration = match app.backend {
            Backend::Sqlite => include_str!("../../migrations/sqlite/0007_stop_month_cells.sql"),
            Backend::Postgres => {
                include_str!("../../migrations/postgres/0007_stop_month_cells.sql")
            }
        };
        app.exec(migration).await;

        // Each month and district's cells in one text, in key order (format 1: ten counts).
        let rows: Vec<(String, String, i64, String)> = lantern::on_db!(&app.db, |pool| {
            sqlx::query_as(
                "SELECT month, district, stops, cells FROM stop_month_cells \
                 WHERE agency_id = $1 ORDER BY month, district",
            )
            .bind(sj.id)
            .fetch_all(pool)
            .await
        })
        .unwrap();
        let text = |m: &str, d: &str, n: i64, lines: &[&str]| {
            (m.to_string(), d.to_string(), n, lines.join("\n"))
        };
        assert_eq!(
            rows,
            [
                text(
                    "2017-03",
                    "",
                    1,
                    &["pedestrian,hispanic,male,65 and over,1,1,0,0,0,0,1,0,0,0"]
                ),
                text(
                    "2017-03",
                    "A",
                    12,
                    &[
                        ",white,,,4,0,0,0,0,0,0,0,1,1",
                        "vehicular,black,female,under 18,5,2,2,1,1,1,0,1,2,0",
                        "vehicular,black,male,,3,1,1,0,1,0,1,0,0,3",
                    ]
                ),
                text(
                    "2018-01",
                    "A",
                    7,
                    &["vehicular,black,female,18-24,7,0,0,0,0,0,0,0,0,7"]
                ),
            ]
        );
        // Migration 0009 marks these rows format 1, and the migration's rebuild counts the
        // agency's cells again from its stored stops (here none: these cells had no stops
        // behind them), so what an import adds is all there is.
        app.exec("ALTER TABLE stop_month_cells ADD COLUMN format BIGINT NOT NULL DEFAULT 1")
            .await;
        assert_eq!(
            store::rebuild_stale_cells(&app.db).await.unwrap(),
            vec![sj.id]
        );
        let more = "date,time,district,subject_race,subject_sex,subject_age,type\n\
                2017-03-05,10:00:00,A,black,female,16,vehicular\n";
        let (_, report) = import_text(&app, &sj, more, Mapping::sopp(), false).await;
        assert_eq!(report.rows_inserted, 1);
        let cells = store::cells(&app.db, sj.id, &Scope::default())
            .await
            .unwrap();
        assert_eq!(cells.len(), 1);
        assert_eq!((cells[0].stops, cells[0].searches), (1, 0));
        assert!(
            store::rebuild_stale_cells(&app.db)
                .await
                .unwrap()
                .is_empty()
        );
    }
);

/// An integer the SQL gives (a count).
async fn scalar(app: &TestApp, sql: &str) -> i64 {
    lantern::on_db!(&app.db, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(
        sql.to_string()
    ))
    .fetch_one(pool)
    .await
    .unwrap())
}

/// A SOPP file of `n` stops that is large enough to be written in several transactions, and
/// whose last row is invalid when `bad_last` is set.
fn many_stops(n: usize, bad_last: bool) -> String {
    let mut text = String::from(
        "date,time,location,lat,lng,district,subject_race,subject_sex,subject_age,type,\
         search_conducted,contraband_found\n",
    );
    let races = ["black", "white", "hispanic", "asian/pacific islander"];
    for i in 0..n {
        text.push_str(&format!(
            "2017-{:02}-{:02},{:02}:{:02}:{:02},{:016x} MAIN ST,37.{:06},-121.{:06},D{},{},{},{},vehicular,{},{}\n",
            1 + i % 12,
            1 + i % 28,
            i % 24,
            i % 60,
            (i / 60) % 60,
            (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            (i * 7919) % 1_000_000,
            (i * 104_729) % 1_000_000,
            i % 9,
            races[i % 4],
            if i % 3 == 0 { "female" } else { "male" },
            16 + i % 70,
            if i % 5 == 0 { "TRUE" } else { "FALSE" },
            if i % 5 == 0 { if i % 10 == 0 { "TRUE" } else { "FALSE" } } else { "NA" },
        ));
    }
    if bad_last {
        text.push_str("2017-13-45,25:00:00,,,,D1,martian,,,,,\n");
    }
    text
}

db_test!(a_refused_file_leaves_no_chunk_behind, |app| {
    let sj = san_jose(&app).await;
    let (_, ok) = import_text(
        &app,
        &sj,
        &many_stops(300_000, false),
        Mapping::sopp(),
        false,
    )
    .await;
    assert_eq!(ok.rows_inserted, 300_000);
    let bytes = scalar(
        &app,
        &format!(
            "SELECT CAST(SUM(LENGTH(keys) + LENGTH(data)) AS BIGINT) FROM stop_chunks \
             WHERE agency_id = {}",
            sj.id
        ),
    )
    .await;
    // The last block (4 MiB of the file, fewer bytes once encoded) holds the bad row below:
    // with more than that and a commit's worth, chunks were committed before it was read.
    let commit = lantern::transparency::import::COMMIT_BYTES as i64;
    assert!(bytes > commit + (4 << 20), "{bytes} bytes written");

    // The same rows and a bad last one, all or nothing, in another agency: the chunks
    // committed before the bad row was read are deleted with the refusal.
    let other = app.agency("other", "Other PD").await;
    let (id, refused) = import_text(
        &app,
        &other,
        &many_stops(300_000, true),
        Mapping::sopp(),
        false,
    )
    .await;
    assert!(refused.rejected);
    assert_eq!(refused.rows_invalid, 1);
    let chunks = format!(
        "SELECT COUNT(*) FROM stop_chunks WHERE agency_id = {}",
        other.id
    );
    assert_eq!(scalar(&app, &chunks).await, 0);
    assert!(store::stops(&app.db, other.id).await.unwrap().is_empty());
    assert_eq!(store::counts(&app.db, other.id).await.unwrap().0, 0);
    let i = store::import(&app.db, other.id, id).await.unwrap().unwrap();
    assert_eq!(i.status, "failed");
    // The first agency's stops are untouched.
    assert_eq!(store::stops(&app.db, sj.id).await.unwrap().len(), 300_000);
});

db_test!(
    an_import_that_stopped_half_way_is_cleared_by_the_next,
    |app| {
        let sj = san_jose(&app).await;
        let text = many_stops(2_000, false);
        let (first, _) = import_text(&app, &sj, &text, Mapping::sopp(), false).await;
        // As if its process had ended before its last transaction: chunks written, the import
        // still running, its claim last renewed long ago.
        app.exec(&format!(
            "UPDATE stop_imports SET status = 'running', heartbeat_at = 1000 WHERE id = {first}"
        ))
        .await;
        assert!(
            store::stops(&app.db, sj.id).await.unwrap().is_empty(),
            "an unfinished import's chunks do not count"
        );
        // The next import takes the agency, marks the stopped one failed, deletes its chunks,
        // and finds none of its stops stored.
        let (second, report) = import_text(&app, &sj, &text, Mapping::sopp(), false).await;
        assert_eq!(report.rows_inserted, 2_000);
        let f = store::import(&app.db, sj.id, first).await.unwrap().unwrap();
        assert_eq!(f.status, "failed");
        assert!(f.failure().unwrap().contains("stopped before it finished"));
        let left = format!(
            "SELECT COUNT(*) FROM stop_chunks WHERE agency_id = {} AND import_id = {first}",
            sj.id
        );
        assert_eq!(scalar(&app, &left).await, 0);
        assert_eq!(store::stops(&app.db, sj.id).await.unwrap().len(), 2_000);
        let s = store::import(&app.db, sj.id, second)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.status, "done");
    }
);

db_test!(an_import_waits_while_another_of_its_agency_runs, |app| {
    let sj = san_jose(&app).await;
    // Another process's import, renewing its claim.
    let running = store::create_import(&app.db, sj.id, "big.csv", "sopp", false, None, "queued", 1)
        .await
        .unwrap();
    let now = store::wall_seconds();
    app.exec(&format!(
        "UPDATE stop_imports SET status = 'running', heartbeat_at = {now} WHERE id = {running}"
    ))
    .await;
    let text = many_stops(100, false);
    let (imported, seen_waiting) = tokio::join!(
        import_text(&app, &sj, &text, Mapping::sopp(), false),
        async {
            tokio::time::sleep(std::time::Duration::from_millis(800)).await;
            let waiting = scalar(
                &app,
                &format!(
                    "SELECT COUNT(*) FROM stop_imports WHERE agency_id = {} AND id <> {running} \
                     AND status = 'queued'",
                    sj.id
                ),
            )
            .await;
            app.exec(&format!(
                "UPDATE stop_imports SET status = 'done' WHERE id = {running}"
            ))
            .await;
            waiting
        }
    );
    assert_eq!(seen_waiting, 1, "the import waited, queued");
    assert_eq!(imported.1.rows_inserted, 100);
    // A server starting now leaves a running import with a fresh claim alone.
    let other = store::create_import(&app.db, sj.id, "c.csv", "sopp", false, None, "queued", 1)
        .await
        .unwrap();
    app.exec(&format!(
        "UPDATE stop_imports SET status = 'running', heartbeat_at = {} WHERE id = {other}",
        store::wall_seconds()
    ))
    .await;
    assert_eq!(
        store::fail_interrupted_imports(&app.db, 2).await.unwrap(),
        0
    );
});

db_test!(imports_through_the_api_record_the_files_sha256, |app| {
    use lantern::platform::secrets::sha256_hex;
    let sj = san_jose(&app).await;
    let (_, secret) = lantern::platform::api_tokens::create(
        &app.db,
        sj.id,
        "rms",
        lantern::platform::accounts::Role::Analyst,
        &Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();
    let mut api = app.client().bearer(&secret);
    let good: String = SAN_JOSE.lines().take(51).collect::<Vec<_>>().join("\n");
    let bad =
        format!("{good}\n2017-99-01,10:00:00,x,1,2,white,vehicular,FALSE,FALSE,NA,NA,FALSE,x");
    for (body, status) in [(good, "done"), (bad, "failed")] {
        let want = sha256_hex(body.as_bytes());
        let r = api
            .request(
                axum::http::Method::POST,
                "/api/v1/stops/imports",
                Some(("text/csv", body.into_bytes())),
            )
            .await;
        r.assert_status(axum::http::StatusCode::ACCEPTED);
        // The job knows the file's hash at once: the API holds the whole body.
        assert_eq!(r.json()["sha256"], want.as_str());
        let id = r.json()["id"].as_i64().unwrap();
        let mut stored = None;
        for _ in 0..400 {
            let i = store::import(&app.db, sj.id, id).await.unwrap().unwrap();
            if i.status == "done" || i.status == "failed" {
                stored = Some(i);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let stored = stored.expect("the import finishes");
        assert_eq!(stored.status, status);
        assert_eq!(stored.sha256, want, "{status}");
    }
});
