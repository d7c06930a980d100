//! De-identified stop records on the portal: public only once published and only for the
//! published years; nothing that names a person, a place or a minute; no combination of the
//! quasi-identifiers shared by fewer stops than the threshold; streamed a chunk at a time;
//! and the CSV and the Parquet file re-aggregate to exactly the published tables.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt;
use lantern::platform::accounts::Role;
use lantern::platform::agencies::Agency;
use lantern::transparency::mapping::Mapping;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use tower::ServiceExt;

use crate::db_test;
use crate::helpers::{Client, TestApp};
use crate::transparency::{SAN_JOSE, import_text, san_jose, with_quadrant_districts};

const COLUMNS: [&str; 19] = [
    "year",
    "month",
    "date",
    "hour",
    "is_dark",
    "district",
    "stop_type",
    "subject_race",
    "subject_sex",
    "subject_age_group",
    "search_conducted",
    "search_basis",
    "frisk_performed",
    "contraband_found",
    "arrest_made",
    "citation_issued",
    "warning_issued",
    "outcome",
    "detail",
];

/// The quasi-identifiers as the file writes them, with the level kept.
const QUASI: [&str; 9] = [
    "year",
    "month",
    "date",
    "hour",
    "district",
    "subject_race",
    "subject_sex",
    "subject_age_group",
    "detail",
];

async fn analyst(app: &TestApp, agency: &Agency) -> Client {
    let (_, password) = app.user(agency, "ana", Role::Analyst).await;
    app.client().signed_in(&agency.slug, "ana", &password).await
}

async fn publish(analyst: &mut Client, slug: &str, measures: &[&str], years: &[&str]) {
    let mut fields: Vec<(&str, &str)> = measures.iter().map(|m| ("measure", *m)).collect();
    fields.extend(years.iter().map(|y| ("year", *y)));
    analyst
        .post(&format!("/{slug}/staff/publish"), &fields)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

/// A CSV as a header and rows of fields.
fn read_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|row| row.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// A Parquet file's rows, each value written as the CSV writes it.
fn read_parquet(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>, usize) {
    let reader = SerializedFileReader::new(Bytes::copy_from_slice(bytes)).unwrap();
    let groups = reader.metadata().num_row_groups();
    let header = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let rows = reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(_, f)| match f {
                    Field::Null => String::new(),
                    Field::Str(s) => s.clone(),
                    Field::Long(n) => n.to_string(),
                    Field::Bool(b) => b.to_string(),
                    other => panic!("unexpected Parquet value {other:?}"),
                })
                .collect()
        })
        .collect();
    (header, rows, groups)
}

db_test!(stop_records_are_public_only_once_published, |app| {
    let sj = san_jose(&app).await;
    import_text(
        &app,
        &sj,
        &with_quadrant_districts(SAN_JOSE),
        Mapping::sopp(),
        false,
    )
    .await;
    let mut analyst = analyst(&app, &sj).await;
    let mut visitor = app.client();
    let files = [
        "/sanjose/data/stops/records.csv",
        "/sanjose/data/stops/records.parquet",
        "/sanjose/data/stops/records-dictionary.json",
    ];
    for f in files {
        visitor.get(f).await.assert_status(StatusCode::NOT_FOUND);
    }
    // Publishing tables does not publish the records.
    publish(&mut analyst, "sanjose", &["stops.stops"], &["2016", "2017"]).await;
    for f in files {
        visitor.get(f).await.assert_status(StatusCode::NOT_FOUND);
    }
    let form = analyst.get("/sanjose/staff/publish").await.body;
    assert!(
        form.contains("value=\"stops.records\""),
        "the publish page offers the records"
    );
    publish(
        &mut analyst,
        "sanjose",
        &["stops.stops", "stops.records"],
        &["2016", "2017"],
    )
    .await;
    for f in files {
        visitor.get(f).await.assert_status(StatusCode::OK);
    }
    visitor
        .get("/sanjose/data/stops/records.xlsx")
        .await
        .assert_status(StatusCode::NOT_FOUND);

    let r = visitor.get("/sanjose/data/stops/records.csv").await;
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        r.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("sanjose-stops-records.csv")
    );
    let (header, rows) = read_csv(&r.body);
    assert_eq!(header, COLUMNS);
    assert!(!rows.is_empty());
    // Nothing of the address, the coordinates or the free text is in the file.
    for banned in ["ALUM ROCK", "KING RD", "37.35", "-121.8", "Vehicle Code"] {
        assert!(!r.body.contains(banned), "{banned} is in the file");
    }
    let col = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap();
    for row in &rows {
        // Only the published years.
        assert!(
            ["2016", "2017"].contains(&row[col("year")].as_str()),
            "{row:?}"
        );
        let date = &row[col("date")];
        if !date.is_empty() {
            assert!(
                chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
                "{date}"
            );
            assert_eq!(&date[..7], row[col("month")]);
        }
        let hour = &row[col("hour")];
        if !hour.is_empty() {
            assert!((0..24).contains(&hour.parse::<i64>().unwrap()), "{hour}");
            assert_eq!(row[col("detail")], "hour");
        }
        assert!(
            ["hour", "date", "month", "district", "race", "year"]
                .contains(&row[col("detail")].as_str())
        );
    }

    // The dictionary describes every column and the rules.
    let dict = visitor
        .get("/sanjose/data/stops/records-dictionary.json")
        .await
        .json();
    assert_eq!(dict["file"], "stops.records");
    assert_eq!(dict["small_cell_threshold"], 10);
    assert_eq!(dict["years"], serde_json::json!(["2016", "2017"]));
    let keys: Vec<&str> = dict["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, COLUMNS);
    for c in dict["columns"].as_array().unwrap() {
        assert!(!c["description"].as_str().unwrap().is_empty(), "{c}");
    }
    assert!(dict["de_identification"].as_array().unwrap().len() >= 3);

    // The open-data page lists the file with its dictionary, in both languages, and the
    // catalogue has it with its CSV and Parquet distributions.
    let page = visitor.get("/sanjose/open-data").await.body;
    assert!(page.contains("Stop records (de-identified)"));
    assert!(page.contains("/sanjose/data/stops/records.parquet"));
    assert!(page.contains("<code>subject_age_group</code>"));
    let es = visitor.get("/sanjose/es/open-data").await.body;
    assert!(es.contains("Registros de paradas (anonimizados)"));
    let catalogue = visitor.get("/sanjose/data.json").await.json();
    let set = catalogue["dataset"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["title"] == "Stop records (de-identified)")
        .expect("the record file is in the catalogue");
    assert_eq!(set["temporal"], "2016-01-01/2017-12-31");
    let media: Vec<&str> = set["distribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(media, ["text/csv", "application/vnd.apache.parquet"]);
    for d in set["distribution"].as_array().unwrap() {
        let url = d["downloadURL"].as_str().unwrap();
        let path = &url[url.find("/sanjose").unwrap()..];
        visitor.get(path).await.assert_status(StatusCode::OK);
    }
    assert!(
        set["describedBy"]
            .as_str()
            .unwrap()
            .ends_with("/sanjose/data/stops/records-dictionary.json")
    );
});

/// (year, race) → [stops, searches, stops with search recorded, arrests, stops with arrest
/// recorded], counted from the file's rows.
fn aggregate(header: &[String], rows: &[Vec<String>]) -> BTreeMap<(String, String), [i64; 5]> {
    let col = |name: &str| header.iter().position(|c| c == name).unwrap();
    let (year, race) = (col("year"), col("subject_race"));
    let (search, arrest) = (col("search_conducted"), col("arrest_made"));
    let mut out: BTreeMap<(String, String), [i64; 5]> = BTreeMap::new();
    for row in rows {
        let c = out
            .entry((row[year].clone(), row[race].clone()))
            .or_default();
        c[0] += 1;
        c[1] += i64::from(row[search] == "true");
        c[2] += i64::from(!row[search].is_empty());
        c[3] += i64::from(row[arrest] == "true");
        c[4] += i64::from(!row[arrest].is_empty());
    }
    out
}

fn race_label(race: &str) -> &str {
    match race {
        "white" => "White",
        "black" => "Black",
        "hispanic" => "Hispanic",
        "asian/pacific islander" => "Asian/Pacific Islander",
        "other" => "Other",
        "unknown" => "Unknown",
        _ => "",
    }
}

db_test!(
    records_re_aggregate_to_exactly_the_published_tables,
    |app| {
        let sj = san_jose(&app).await;
        import_text(
            &app,
            &sj,
            &with_quadrant_districts(SAN_JOSE),
            Mapping::sopp(),
            false,
        )
        .await;
        let mut analyst = analyst(&app, &sj).await;
        let years = ["2014", "2015", "2016", "2017"];
        publish(
            &mut analyst,
            "sanjose",
            &[
                "stops.stops",
                "stops.search_rate",
                "stops.arrest_rate",
                "stops.records",
            ],
            &years,
        )
        .await;
        let mut visitor = app.client();
        // At the default threshold nothing in these tables is withheld; at 60 the smaller
        // groups of a year are, and every number still shown must match the file's.
        for threshold in [10, 60] {
            app.exec(&format!(
                "UPDATE agencies SET small_cell_threshold = {threshold} WHERE id = {}",
                sj.id
            ))
            .await;
            // As the settings page does: what public pages (and the portal's cache) say changes.
            app.state.agency_changed("sanjose");
            let csv = visitor.get("/sanjose/data/stops/records.csv").await;
            csv.assert_status(StatusCode::OK);
            let (header, rows) = read_csv(&csv.body);
            let counts = aggregate(&header, &rows);

            // Stops, searches and arrests by year: the published yearly table.
            let yearly = visitor.get("/sanjose/data/stops/stops.csv").await.body;
            let (_, table) = read_csv(&yearly);
            let mut compared = 0;
            for row in &table {
                let of_year = counts.iter().filter(|((y, _), _)| *y == row[0]);
                let sum = of_year.fold([0i64; 5], |mut a, (_, c)| {
                    for (x, y) in a.iter_mut().zip(c) {
                        *x += y;
                    }
                    a
                });
                for (cell, value) in [(1, sum[0]), (2, sum[1]), (3, sum[3])] {
                    if let Ok(shown) = row[cell].parse::<f64>() {
                        assert_eq!(shown, value as f64, "year {} column {cell}", row[0]);
                        compared += 1;
                    }
                }
            }
            assert_eq!(compared, 12, "every yearly count is shown and compared");

            // Searches and arrests by year and race: the published rate tables.
            let mut race_cells = 0;
            let mut withheld = 0;
            for year in years {
                for (measure, numerator, denominator) in
                    [("search_rate", 1, 2), ("arrest_rate", 3, 4)]
                {
                    let body = visitor
                        .get(&format!("/sanjose/data/stops/{measure}.csv?year={year}"))
                        .await
                        .body;
                    let (h, table) = read_csv(&body);
                    let count = h.iter().position(|c| c == "count").unwrap();
                    let of = h.iter().position(|c| c == "of").unwrap();
                    for row in &table {
                        let race = counts
                            .keys()
                            .filter(|(y, _)| y == year)
                            .map(|(_, r)| r.as_str())
                            .find(|r| race_label(r) == row[0]);
                        let file =
                            race.map_or([0; 5], |r| counts[&(year.to_string(), r.to_string())]);
                        match (row[count].parse::<f64>(), row[of].parse::<f64>()) {
                            (Ok(n), Ok(d)) => {
                                assert_eq!(
                                    n, file[numerator] as f64,
                                    "{year} {measure} {}",
                                    row[0]
                                );
                                assert_eq!(
                                    d, file[denominator] as f64,
                                    "{year} {measure} {}",
                                    row[0]
                                );
                                race_cells += 1;
                            }
                            _ => withheld += 1,
                        }
                    }
                }
            }
            assert!(
                race_cells >= 20,
                "{race_cells} cells compared at {threshold}"
            );
            assert_eq!(
                withheld > 0,
                threshold == 60,
                "{withheld} withheld at {threshold}"
            );
        }
        let csv = visitor.get("/sanjose/data/stops/records.csv").await;
        let (header, rows) = read_csv(&csv.body);

        // The Parquet file holds the same rows, read back by the parquet crate's reader.
        let parquet = visitor.get("/sanjose/data/stops/records.parquet").await;
        parquet.assert_status(StatusCode::OK);
        assert_eq!(&parquet.raw[..4], b"PAR1");
        let (p_header, p_rows, _) = read_parquet(&parquet.raw);
        assert_eq!(p_header, header);
        assert_eq!(p_rows.len(), rows.len());
        assert_eq!(p_rows, rows);
    }
);

/// `n` generated stops of 2020 in SOPP's schema: random days, hours, districts and people
/// (so many combinations are unique), plus `cluster` stops sharing one date, hour, district
/// and person, and identifying fields that must never reach the file.
fn generated(n: usize, cluster: usize, seed: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = String::from(
        "raw_row_number,date,time,location,lat,lng,district,subject_race,subject_sex,subject_age,officer_id_hash,type,search_conducted,search_basis,contraband_found,frisk_performed,arrest_made,citation_issued,warning_issued,outcome,reason_for_stop\n",
    );
    let races = [
        "white",
        "black",
        "hispanic",
        "asian/pacific islander",
        "other",
    ];
    for i in 0..n + cluster {
        let in_cluster = i >= n;
        let (day, hour, minute) = if in_cluster {
            (100, 14, rng.u32(0..60))
        } else {
            (rng.u32(0..366), rng.u32(0..24), rng.u32(0..60))
        };
        let date = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()
            + chrono::Duration::days(i64::from(day));
        let district = if in_cluster { 1 } else { rng.u32(1..5) };
        let race = if in_cluster {
            "black"
        } else {
            races[rng.usize(0..5)]
        };
        let sex = if in_cluster || rng.bool() {
            "male"
        } else {
            "female"
        };
        let age = if in_cluster { 30 } else { rng.u32(16..80) };
        let searched = rng.u32(0..10) < 2;
        let (basis, contraband) = if searched {
            ("consent", if rng.bool() { "TRUE" } else { "FALSE" })
        } else {
            ("NA", "NA")
        };
        let arrest = rng.u32(0..20) == 0;
        let citation = !arrest && rng.bool();
        let warning = !arrest && !citation && rng.bool();
        let outcome = if arrest {
            "arrest"
        } else if citation {
            "citation"
        } else if warning {
            "warning"
        } else {
            "NA"
        };
        let tf = |b: bool| if b { "TRUE" } else { "FALSE" };
        out.push_str(&format!(
            "R{i},{date},{hour:02}:{minute:02}:00,{} SECRET ST,37.{i},-121.{i},D{district},{race},{sex},{age},OFFICER{},vehicular,{},{basis},{contraband},{},{},{},{},{outcome},=HYPERLINK(1)\n",
            100 + i % 900,
            i % 50,
            tf(searched),
            tf(rng.u32(0..10) == 0),
            tf(arrest),
            tf(citation),
            tf(warning),
        ));
    }
    out
}

/// Rows by their quasi-identifiers as written.
fn groups(header: &[String], rows: &[Vec<String>]) -> HashMap<Vec<String>, usize> {
    let idx: Vec<usize> = QUASI
        .iter()
        .map(|q| header.iter().position(|c| c == q).unwrap())
        .collect();
    let mut out: HashMap<Vec<String>, usize> = HashMap::new();
    for row in rows {
        *out.entry(idx.iter().map(|i| row[*i].clone()).collect())
            .or_default() += 1;
    }
    out
}

db_test!(
    no_combination_of_quasi_identifiers_is_shared_by_fewer_than_the_threshold,
    |app| {
        let sj = san_jose(&app).await;
        let n = 3_000;
        let text = generated(n, 40, 11);
        // The generated stops have many combinations that only one stop has.
        let mut input: HashMap<(String, String, String, String, String, String), usize> =
            HashMap::new();
        for r in csv::Reader::from_reader(text.as_bytes()).records() {
            let r = r.unwrap();
            let hour = r[2][..2].to_string();
            let age = r[9].parse::<i64>().unwrap() / 10;
            *input
                .entry((
                    r[1].to_string(),
                    hour,
                    r[6].to_string(),
                    r[7].to_string(),
                    r[8].to_string(),
                    age.to_string(),
                ))
                .or_default() += 1;
        }
        assert!(input.values().filter(|c| **c == 1).count() > 2_000);
        import_text(&app, &sj, &text, Mapping::sopp(), false).await;
        let mut analyst = analyst(&app, &sj).await;
        publish(&mut analyst, "sanjose", &["stops.records"], &["2020"]).await;
        let mut visitor = app.client();
        for threshold in [10, 3, 50] {
            app.exec(&format!(
                "UPDATE agencies SET small_cell_threshold = {threshold} WHERE id = {}",
                sj.id
            ))
            .await;
            // As the settings page does: what public pages (and the portal's cache) say changes.
            app.state.agency_changed("sanjose");
            let body = visitor.get("/sanjose/data/stops/records.csv").await.body;
            assert!(
                !body.contains("SECRET")
                    && !body.contains("OFFICER")
                    && !body.contains("HYPERLINK")
            );
            let (header, rows) = read_csv(&body);
            assert_eq!(
                rows.len(),
                n + 40,
                "no stop is lost at threshold {threshold}"
            );
            let g = groups(&header, &rows);
            let smallest = g.values().min().copied().unwrap();
            assert!(
                smallest >= threshold,
                "a group of {smallest} at threshold {threshold}"
            );
            let detail = header.iter().position(|c| c == "detail").unwrap();
            let at_hour = rows.iter().filter(|r| r[detail] == "hour").count();
            // The cluster of 40 keeps its hour while it is at least the threshold.
            if threshold <= 40 {
                assert!(at_hour >= 40, "{at_hour} rows keep the hour at {threshold}");
            } else {
                assert_eq!(at_hour, 0);
            }
            assert!(
                rows.iter().any(|r| r[detail] != "hour"),
                "something is coarsened"
            );
            // The Parquet file passes the same check.
            let parquet = visitor.get("/sanjose/data/stops/records.parquet").await;
            let (p_header, p_rows, _) = read_parquet(&parquet.raw);
            assert_eq!(groups(&p_header, &p_rows), g);
        }
        // A threshold above the year's stops leaves the year out rather than show it.
        app.exec(&format!(
            "UPDATE agencies SET small_cell_threshold = 5000 WHERE id = {}",
            sj.id
        ))
        .await;
        // As the settings page does: what public pages (and the portal's cache) say changes.
        app.state.agency_changed("sanjose");
        let body = visitor.get("/sanjose/data/stops/records.csv").await.body;
        let (header, rows) = read_csv(&body);
        assert_eq!(header, COLUMNS);
        assert!(rows.is_empty(), "{} rows", rows.len());
    }
);

db_test!(the_files_are_streamed_a_chunk_at_a_time, |app| {
    let sj = san_jose(&app).await;
    // Enough stops for several stored chunks (65,536 stops at most each).
    let n = 140_000;
    import_text(&app, &sj, &generated(n, 0, 5), Mapping::sopp(), false).await;
    let chunks = lantern::transparency::store::finished_chunks(&app.db, sj.id)
        .await
        .unwrap()
        .len();
    assert!(chunks >= 3, "{chunks} chunks");
    let mut analyst = analyst(&app, &sj).await;
    publish(&mut analyst, "sanjose", &["stops.records"], &["2020"]).await;
    for (file, min_frames) in [("records.csv", chunks + 1), ("records.parquet", chunks + 1)] {
        let response = app
            .router
            .clone()
            .oneshot(
                Request::get(format!("/sanjose/data/stops/{file}"))
                    .header("x-forwarded-for", "10.9.9.9")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers().get("content-length").is_none(),
            "{file} is not built whole before it is sent"
        );
        let mut body = response.into_body();
        let (mut frames, mut bytes) = (0, Vec::new());
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() < 64 << 20, "a frame of {} bytes", data.len());
            frames += 1;
            bytes.extend_from_slice(&data);
        }
        assert!(
            frames >= min_frames,
            "{file}: {frames} frames for {chunks} chunks"
        );
        if file.ends_with(".parquet") {
            let (_, rows, row_groups) = read_parquet(&bytes);
            assert_eq!(rows.len(), n);
            assert_eq!(row_groups, chunks, "a row group per stored chunk");
        } else {
            let (_, rows) = read_csv(std::str::from_utf8(&bytes).unwrap());
            assert_eq!(rows.len(), n);
        }
    }
});
