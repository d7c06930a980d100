//! Surveys end to end: answering page by page in either language, validation, versions,
//! results with intervals and weighting, ballot-stuffing guards, single-use links, officer
//! cards, XLSForm import, exports, and the anonymity of employee surveys.

use axum::http::{Method, StatusCode};
use lantern::platform::accounts::Role;
use lantern::platform::agencies::Agency;
use lantern::platform::audit::{self, Actor, Filter};
use lantern::platform::roster;
use lantern::surveys::model::{Answer, Answers};
use lantern::surveys::store::{self, Survey};
use lantern::surveys::templates::Template;
use lantern::surveys::writer::{self, Link, NewResponse};

use crate::db_test;
use crate::helpers::{Client, TestApp, between, hidden_fields, multipart};

/// An agency with two districts (with population), so demographic questions have choices.
pub async fn agency(app: &TestApp) -> Agency {
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

/// Posts one page of a survey form: the page's hidden fields plus these answers.
async fn post_page(
    c: &mut Client,
    action: &str,
    page_html: &str,
    answers: &[(&str, &str)],
    action_button: &str,
) -> crate::helpers::TestResponse {
    let mut fields = hidden_fields(page_html);
    // What the person picks replaces what the page had for that question.
    fields.retain(|(k, _)| !answers.iter().any(|(a, _)| a == k));
    for (k, v) in answers {
        fields.push((k.to_string(), v.to_string()));
    }
    fields.push(("action".into(), action_button.into()));
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    c.post_raw(action, &refs).await
}

async fn responses(app: &TestApp, survey: &Survey) -> Vec<(String, String, String, String)> {
    let sql = "SELECT channel, language, status, answers FROM responses WHERE agency_id = $1 AND survey_id = $2 ORDER BY id";
    lantern::on_db!(&app.db, |pool| sqlx::query_as(sql)
        .bind(survey.agency_id)
        .bind(survey.id)
        .fetch_all(pool)
        .await)
    .unwrap()
}

db_test!(a_resident_answers_page_by_page_in_spanish, |app| {
    let a = agency(&app).await;
    let s = app.published_survey(&a, Template::CommunityTrust).await;
    let mut c = app.client();
    let action = format!("/riverton/es/s/{}?src=flyer", s.public_code);
    let page = c.get(&action).await;
    page.assert_status(StatusCode::OK);
    assert!(page.body.contains("<html lang=\"es\">"));
    assert!(page.body.contains("Paso 1 de 4") && page.body.contains("Encuesta comunitaria"));

    // A required question left empty: the page comes back with a linked error summary.
    let r = post_page(
        &mut c,
        &action,
        &page.body,
        &[("q_trust_listen", "6")],
        "next",
    )
    .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("Hay un problema") && r.body.contains("href=\"#q_trust_respect\""),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("Responda “¿Cuánto trata la policía"),
        "the message is in Spanish"
    );
    assert!(
        r.body
            .contains("id=\"q_trust_listen-6\" name=\"q_trust_listen\" value=\"6\" checked"),
        "what was answered stays"
    );

    let p2 = post_page(
        &mut c,
        &action,
        &page.body,
        &[
            ("q_trust_respect", "8"),
            ("q_trust_listen", "6"),
            ("q_safety_night", "5"),
        ],
        "next",
    )
    .await;
    p2.assert_status(StatusCode::OK);
    assert!(p2.body.contains("Paso 2 de 4"));
    // Back keeps the answers.
    let back = post_page(&mut c, &action, &p2.body, &[("q_pj_voice", "4")], "back").await;
    assert!(back.body.contains("Paso 1 de 4"));
    assert!(back.body.contains("value=\"8\" checked"));
    let p2 = post_page(&mut c, &action, &back.body, &[], "next").await;
    let p3 = post_page(
        &mut c,
        &action,
        &p2.body,
        &[("q_pj_voice", "4"), ("q_pj_respect", "5")],
        "next",
    )
    .await;
    assert!(
        p3.body.contains("Paso 3 de 4"),
        "{:?}\n{}",
        hidden_fields(&p2.body),
        p3.body
    );
    // A condition: the kind of contact is asked only after a "yes".
    let p4 = post_page(
        &mut c,
        &action,
        &p3.body,
        &[
            ("q_contact_12m", "yes"),
            ("q_priority", "traffic"),
            ("q_comments", "Más patrullas de noche"),
        ],
        "next",
    )
    .await;
    assert!(
        p4.body.contains("Paso 3 de 4") && p4.body.contains("q_contact_kind"),
        "the conditional question appears"
    );
    let p4 = post_page(
        &mut c,
        &action,
        &p4.body,
        &[("q_contact_kind", "called"), ("q_contact_kind", "event")],
        "next",
    )
    .await;
    assert!(p4.body.contains("Paso 4 de 4") && p4.body.contains("Enviar mis respuestas"));
    let done = post_page(
        &mut c,
        &action,
        &p4.body,
        &[
            ("q_age_group", "35-44"),
            ("q_district", "D2"),
            ("q_language", "es"),
        ],
        "next",
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location(),
        Some(format!("/riverton/es/s/{}/thanks", s.public_code).as_str())
    );
    let thanks = c.get(done.location().unwrap()).await;
    assert!(thanks.body.contains("Gracias"));

    let rows = responses(&app, &s).await;
    assert_eq!(rows.len(), 1);
    let (channel, language, status, answers) = &rows[0];
    assert_eq!(
        (channel.as_str(), language.as_str(), status.as_str()),
        ("flyer", "es", "ok")
    );
    let answers: Answers = serde_json::from_str(answers).unwrap();
    assert_eq!(answers["trust_respect"], Answer::Number(8.0));
    assert_eq!(
        answers["contact_kind"],
        Answer::Many(vec!["called".into(), "event".into()])
    );
    assert_eq!(answers["district"], Answer::One("D2".into()));
    assert_eq!(answers.len(), 12, "{answers:?}");
});

db_test!(tampered_or_invalid_answers_are_never_stored, |app| {
    let a = agency(&app).await;
    let s = app.published_survey(&a, Template::OfficerCard).await;
    let officer = app.officer(&a, "401").await;
    let token = lantern::surveys::links::officer_token(&app.state.key, s.id, officer);
    let mut c = app.client();
    let action = format!("/riverton/s/{}?o={token}", s.public_code);
    let page = c.get(&action).await;
    page.assert_status(StatusCode::OK);
    let mut fields: Vec<(&str, &str)> = vec![("page", "0"), ("action", "next"), ("o", &token)];
    for key in [
        "q_card_explained",
        "q_card_listened",
        "q_card_fair",
        "q_card_professional",
    ] {
        fields.push((key, "4"));
    }
    fields.push(("q_card_next_steps", "9"));
    let r = c.post(&action, &fields).await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose a number from 1 to 5"), "{}", r.body);
    // A forged officer is refused outright.
    let other = app.officer(&a, "402").await;
    let signature = token.split_once('.').unwrap().1;
    let forged = c
        .get(&format!(
            "/riverton/s/{}?o={other}.{signature}",
            s.public_code
        ))
        .await;
    forged.assert_status(StatusCode::NOT_FOUND);
    // A card for an officer who is not on the roster is refused too.
    let stranger = lantern::surveys::links::officer_token(&app.state.key, s.id, 999_999);
    assert_eq!(
        c.get(&format!("/riverton/s/{}?o={stranger}", s.public_code))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(responses(&app, &s).await.is_empty(), "nothing was stored");
});

pub fn response(survey: &Survey, answers: &Answers, at: i64) -> NewResponse {
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

db_test!(
    results_show_intervals_and_estimates_weighted_to_the_census,
    |app| {
        let a = agency(&app).await;
        let mut tx = app.db.begin().await.unwrap();
        roster::insert_margin(&mut tx, a.id, "agency", "sex", "female", 5_000, "test")
            .await
            .unwrap();
        roster::insert_margin(&mut tx, a.id, "agency", "sex", "male", 5_000, "test")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let s = app.published_survey(&a, Template::CommunityTrust).await;
        // 80 women (60 had contact), 20 men (5 had contact): half the population are men.
        let mut rows = Vec::new();
        for i in 0..100 {
            let woman = i < 80;
            let contact = if woman { i < 60 } else { i < 85 };
            let mut answers = Answers::new();
            answers.insert(
                "trust_respect".into(),
                Answer::Number(if woman { 8.0 } else { 2.0 }),
            );
            answers.insert("trust_listen".into(), Answer::Number(5.0));
            answers.insert(
                "contact_12m".into(),
                Answer::One(if contact { "yes" } else { "no" }.into()),
            );
            answers.insert(
                "gender".into(),
                Answer::One(if woman { "female" } else { "male" }.into()),
            );
            rows.push(response(&s, &answers, app.clock.unix() - i));
        }
        writer::insert_all(&app.db, &rows).await.unwrap();
        let (_, pw) = app.user(&a, "ana", Role::Analyst).await;
        let mut c = app.client().signed_in("riverton", "ana", &pw).await;
        let r = c
            .get(&format!("/riverton/staff/surveys/{}/results", s.id))
            .await;
        r.assert_status(StatusCode::OK);
        assert!(r.body.contains("<strong>100</strong> responses"));
        assert!(
            r.body.contains("Weighted to the census") && r.body.contains("gave their gender"),
            "{}",
            r.body
        );
        // Yes: 65 of 100 unweighted (Wilson 55.3%–73.6%), 50% once men count as half.
        let row = between(&r.body, "<th scope=\"row\">Yes</th>", "</tr>").unwrap();
        assert!(
            row.contains(
                "<td class=\"num\">65</td><td class=\"num\">65.0%</td><td>55.3%–73.6%</td>"
            ),
            "{row}"
        );
        assert!(row.contains("<td class=\"num\">50.0%</td>"), "{row}");
        // Mean trust_respect 6.8 unweighted, 5.0 weighted.
        assert!(
            r.body.contains("Mean 6.8 (") && r.body.contains("weighted 5.0 ("),
            "{}",
            r.body
        );
        // A breakdown by gender, and the score table.
        let by = c
            .get(&format!(
                "/riverton/staff/surveys/{}/results?by=q:gender",
                s.id
            ))
            .await;
        assert!(by.body.contains("By gender"), "{}", by.body);
        assert!(by.body.contains("Trust by gender"));
    }
);

db_test!(small_groups_are_hidden_in_breakdowns, |app| {
    let a = agency(&app).await;
    let s = app.published_survey(&a, Template::CommunityTrust).await;
    let mut rows = Vec::new();
    for (district, n) in [("D1", 12), ("D2", 4), ("outside", 11)] {
        for i in 0..n {
            let mut answers = Answers::new();
            answers.insert("trust_respect".into(), Answer::Number(7.0));
            answers.insert("trust_listen".into(), Answer::Number(7.0));
            answers.insert("district".into(), Answer::One(district.into()));
            rows.push(response(&s, &answers, app.clock.unix() - i));
        }
    }
    writer::insert_all(&app.db, &rows).await.unwrap();
    let (_, pw) = app.user(&a, "ana", Role::Analyst).await;
    let mut c = app.client().signed_in("riverton", "ana", &pw).await;
    let r = c
        .get(&format!(
            "/riverton/staff/surveys/{}/results?by=q:district",
            s.id
        ))
        .await;
    // Riverside (4) is too small, and the next smallest group (11 living outside) is withheld
    // with it: the 27 who answered, less Northside's 12, would give Riverside away.
    let table = between(&r.body, "Trust by district", "</table>").unwrap();
    assert!(table.contains("2 groups too small to show"), "{table}");
    assert!(
        table.contains("<th scope=\"row\">Northside</th><td class=\"num\">12</td>"),
        "{table}"
    );
    assert!(
        table.contains("<th scope=\"row\">Riverside</th><td colspan=\"2\">Too few to show</td>"),
        "{table}"
    );
    assert!(
        table.contains(
            "<th scope=\"row\">I do not live in the city</th><td colspan=\"2\">Too few to show</td>"
        ),
        "{table}"
    );
});

db_test!(
    ballot_stuffing_is_flagged_and_kept_out_of_results_until_reviewed,
    |app| {
        let a = agency(&app).await;
        let s = app.published_survey(&a, Template::OfficerCard).await;
        let officer = app.officer(&a, "501").await;
        let card = lantern::surveys::links::officer_token(&app.state.key, s.id, officer);
        let action = format!("/riverton/s/{}?o={card}", s.public_code);
        let answers = |score: &'static str| -> Vec<(&'static str, &'static str)> {
            vec![
                ("q_card_explained", score),
                ("q_card_listened", score),
                ("q_card_fair", score),
                ("q_card_professional", score),
                ("q_card_next_steps", score),
                ("page", "0"),
                ("action", "next"),
            ]
        };
        let mut c = app.client();
        let send = async |c: &mut Client,
                          score: &'static str,
                          extra: Option<(&'static str, &'static str)>| {
            let mut f = answers(score);
            f.push(("o", card.as_str()));
            if let Some(e) = extra {
                f.push(e);
            }
            c.post(&action, &f).await
        };
        assert_eq!(send(&mut c, "5", None).await.status, StatusCode::SEE_OTHER);
        assert_eq!(
            send(&mut c, "5", None).await.status,
            StatusCode::SEE_OTHER,
            "the same answers again are taken…"
        );
        assert_eq!(send(&mut c, "4", None).await.status, StatusCode::SEE_OTHER);
        assert_eq!(
            send(&mut c, "3", None).await.status,
            StatusCode::SEE_OTHER,
            "…and a burst too, to be reviewed"
        );
        let mut bot = app.client();
        bot.ip = "198.51.100.20".into();
        assert_eq!(
            send(&mut bot, "1", Some(("website", "http://spam.example")))
                .await
                .status,
            StatusCode::SEE_OTHER
        );
        let rows = responses(&app, &s).await;
        let statuses: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
        assert_eq!(statuses, ["ok", "flagged", "ok", "flagged", "flagged"]);

        let (_, pw) = app.user(&a, "ana", Role::Analyst).await;
        let mut staff = app.client().signed_in("riverton", "ana", &pw).await;
        let results = staff
            .get(&format!("/riverton/staff/surveys/{}/results", s.id))
            .await;
        assert!(
            results.body.contains("<strong>2</strong> responses")
                && results.body.contains("3 flagged for review"),
            "{}",
            results.body
        );
        let flagged = staff
            .get(&format!("/riverton/staff/surveys/{}/flagged", s.id))
            .await;
        assert!(
            flagged
                .body
                .contains("the same answers came from one address")
        );
        assert!(
            flagged
                .body
                .contains("4 responses from one address within 10 minutes")
        );
        assert!(flagged.body.contains("honeypot"));
        let ids: Vec<String> = flagged
            .body
            .split("name=\"response\" value=\"")
            .skip(1)
            .map(|x| x.split('"').next().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 3);
        let r = staff
            .post(
                &format!("/riverton/staff/surveys/{}/flagged", s.id),
                &[("decision", "accept"), ("response", &ids[0])],
            )
            .await;
        assert!(r.body.contains("1 responses accepted"), "{}", r.body);
        let results = staff
            .get(&format!("/riverton/staff/surveys/{}/results", s.id))
            .await;
        assert!(
            results.body.contains("<strong>3</strong> responses"),
            "accepted responses count from now on"
        );
        let log = audit::list(
            &app.db,
            a.id,
            &Filter {
                action: "survey.flags_reviewed".into(),
                ..Filter::default()
            },
            5,
        )
        .await
        .unwrap();
        assert_eq!(log.len(), 1);
    }
);

db_test!(one_response_per_device_when_the_survey_asks_for_it, |app| {
    let a = agency(&app).await;
    let s = app.published_survey(&a, Template::CommunityTrust).await;
    store::set_options(
        &app.db,
        &s,
        true,
        false,
        &Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();
    let action = format!("/riverton/s/{}", s.public_code);
    let fields = [
        ("page", "3"),
        ("action", "next"),
        ("q_trust_respect", "7"),
        ("q_trust_listen", "7"),
    ];
    let mut c = app.client();
    assert_eq!(c.post(&action, &fields).await.status, StatusCode::SEE_OTHER);
    let again = c.post(&action, &fields).await;
    again.assert_status(StatusCode::CONFLICT);
    assert!(
        again
            .body
            .contains("already answered this survey on this device")
    );
    assert_eq!(responses(&app, &s).await.len(), 1);
});

db_test!(single_use_links_work_once, |app| {
    let a = agency(&app).await;
    let s = app.published_survey(&a, Template::PostContact).await;
    let (token, hash) = lantern::surveys::links::new_invitation_token();
    let (expired_token, expired_hash) = lantern::surveys::links::new_invitation_token();
    let now = app.clock.unix();
    // One contact event per invitation: a contact gets at most one invitation per survey.
    for (incident, key) in [("P26-0001", "k1"), ("P26-0002", "k2")] {
        app.exec(&format!(
            "INSERT INTO contacts (agency_id, incident_number, occurred_at, call_type, district, contact_key, created_at) \
             VALUES ({0}, '{incident}', {1}, 'Traffic stop', 'D1', '{key}', {1})",
            a.id, now
        ))
        .await;
    }
    let contact_of = |incident: &'static str| {
        let db = app.db.clone();
        async move {
            let id: i64 = lantern::on_db!(&db, |pool| sqlx::query_scalar(
                "SELECT id FROM contacts WHERE incident_number = $1"
            )
            .bind(incident)
            .fetch_one(pool)
            .await)
            .unwrap();
            id
        }
    };
    let (live, gone) = (contact_of("P26-0001").await, contact_of("P26-0002").await);
    for (contact, h, expires) in [
        (live, &hash, now + 14 * 86_400),
        (gone, &expired_hash, now - 1),
    ] {
        app.exec(&format!(
            "INSERT INTO invitations (agency_id, survey_id, contact_id, token_hash, channel, status, created_at, expires_at) \
             VALUES ({}, {}, {contact}, '{h}', 'sms', 'sent', {now}, {expires})",
            a.id, s.id
        ))
        .await;
    }
    let mut c = app.client();
    let link = format!("/riverton/i/{token}");
    let page = c.get(&link).await;
    page.assert_status(StatusCode::OK);
    assert!(page.body.contains("How did we do?"));
    let fields = [
        ("page", "1"),
        ("action", "next"),
        ("q_overall", "9"),
        ("q_pc_explained", "5"),
    ];
    let first = c.post(&link, &fields).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let second = c.post(&link, &fields).await;
    second.assert_status(StatusCode::GONE);
    assert!(second.body.contains("This link has been used"));
    let mut other = app.client();
    assert_eq!(
        other.get(&link).await.status,
        StatusCode::GONE,
        "the link is spent for everyone"
    );
    assert_eq!(
        other
            .get(&format!("/riverton/i/{expired_token}"))
            .await
            .status,
        StatusCode::GONE
    );
    assert_eq!(
        other.get("/riverton/i/not-a-token").await.status,
        StatusCode::NOT_FOUND
    );
    let rows = responses(&app, &s).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "invitation");
    // The response is analysed by the contact's call type.
    let (_, pw) = app.user(&a, "ana", Role::Analyst).await;
    let mut staff = app.client().signed_in("riverton", "ana", &pw).await;
    let csv = staff
        .get(&format!("/riverton/staff/surveys/{}/export.csv", s.id))
        .await
        .body;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let row = reader.records().next().unwrap().unwrap();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(
        (&row[at("call_type")], &row[at("contact_district")]),
        ("Traffic stop", "D1")
    );
});

db_test!(concurrent_uses_of_one_link_store_one_response, |app| {
    let a = agency(&app).await;
    let s = app.published_survey(&a, Template::PostContact).await;
    let now = app.clock.unix();
    app.exec(&format!(
        "INSERT INTO contacts (agency_id, incident_number, occurred_at, call_type, contact_key, created_at) VALUES ({0}, 'P1', {1}, 'Theft', 'k', {1})",
        a.id, now
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO invitations (agency_id, survey_id, contact_id, token_hash, channel, created_at, expires_at) \
         SELECT {0}, {1}, id, 'h', 'email', {2}, {3} FROM contacts WHERE incident_number = 'P1'",
        a.id,
        s.id,
        now,
        now + 86_400
    ))
    .await;
    let invitation: i64 = lantern::on_db!(&app.db, |pool| sqlx::query_scalar(
        "SELECT id FROM invitations"
    )
    .fetch_one(pool)
    .await)
    .unwrap();
    let mut r = response(&s, &Answers::new(), now);
    r.link = Link::Invitation(invitation);
    let results = futures_util::future::join_all(
        (0..8).map(|_| app.state.surveys().writer.submit(r.clone())),
    )
    .await;
    assert_eq!(
        results.iter().filter(|x| x.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter(|x| x.is_err())
            .all(|x| *x == Err(writer::WriteError::AlreadyUsed))
    );
    assert_eq!(writer::count(&app.db, a.id, s.id).await.unwrap(), 1);
});

db_test!(
    versions_are_recorded_and_exports_stream_every_response,
    |app| {
        let a = agency(&app).await;
        let s = app.published_survey(&a, Template::OfficerCard).await;
        let officer = app.officer(&a, "7").await;
        let card = lantern::surveys::links::officer_token(&app.state.key, s.id, officer);
        let mut resident = app.client();
        let action = format!("/riverton/s/{}?o={card}", s.public_code);
        let answer = [
            ("page", "0"),
            ("action", "next"),
            ("q_card_explained", "4"),
            ("q_card_listened", "4"),
            ("q_card_fair", "5"),
            ("q_card_professional", "5"),
            ("q_card_next_steps", "3"),
            ("q_comments", "Kind, \"clear\"; thanks"),
        ];
        let mut with_card: Vec<(&str, &str)> = answer.to_vec();
        with_card.push(("o", &card));
        assert_eq!(
            resident.post(&action, &with_card).await.status,
            StatusCode::SEE_OTHER
        );

        // An analyst adds a question and publishes version 2.
        let (_, pw) = app.user(&a, "ana", Role::Analyst).await;
        let mut ana = app.client().signed_in("riverton", "ana", &pw).await;
        let r = ana
            .post(
                &format!("/riverton/staff/surveys/{}/edit", s.id),
                &[
                    ("op", "add_question"),
                    ("section", "0"),
                    ("new_key", "again"),
                    ("type", "agreement"),
                    ("label_en", "I would call again."),
                    ("label_es", "Llamaría otra vez."),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let r = ana
            .post(&format!("/riverton/staff/surveys/{}/publish", s.id), &[])
            .await;
        assert_eq!(
            r.location(),
            Some(format!("/riverton/staff/surveys/{}?published=2", s.id).as_str())
        );
        app.clock.advance(600);
        let mut second = app.client();
        second.ip = "192.0.2.55".into();
        with_card.push(("q_again", "5"));
        assert_eq!(
            second.post(&action, &with_card).await.status,
            StatusCode::SEE_OTHER
        );

        let csv = ana
            .get(&format!("/riverton/staff/surveys/{}/export.csv", s.id))
            .await;
        csv.assert_status(StatusCode::OK);
        assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
        let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(&header[..3], ["response_id", "submitted_at", "version"]);
        assert!(
            header.contains(&"again".to_string()) && header.contains(&"again_label".to_string())
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2);
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        assert_eq!(
            (&rows[0][col("version")], &rows[1][col("version")]),
            ("1", "2")
        );
        assert_eq!(&rows[0][col("again")], "", "version 1 did not ask it");
        assert_eq!(
            (&rows[1][col("again")], &rows[1][col("again_label")]),
            ("5", "Strongly agree")
        );
        assert_eq!(
            &rows[0][col("comments")],
            "Kind, \"clear\"; thanks",
            "commas and quotes survive"
        );
        assert_eq!(rows[0][col("officer_id")], officer.to_string());
        let log = audit::list(
            &app.db,
            a.id,
            &Filter {
                action: "survey.exported".into(),
                ..Filter::default()
            },
            5,
        )
        .await
        .unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].actor, "ana");
        // Supervisors read results but may not download individual responses.
        let (_, spw) = app.user(&a, "sam", Role::Supervisor).await;
        let mut sam = app.client().signed_in("riverton", "sam", &spw).await;
        assert_eq!(
            sam.get(&format!("/riverton/staff/surveys/{}/export.csv", s.id))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
    }
);

db_test!(xlsform_workbooks_import_from_the_staff_page, |app| {
    let a = agency(&app).await;
    let (_, pw) = app.user(&a, "ana", Role::Analyst).await;
    let mut c = app.client().signed_in("riverton", "ana", &pw).await;
    let token = c.csrf().await;
    let good = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/xlsform/lantern_bilingual.xlsx"
    ))
    .unwrap();
    let (ct, body) = multipart(
        &[("kind", "community")],
        ("file", "lantern_bilingual.xlsx", &good),
    );
    let r = c
        .request(
            Method::POST,
            &format!("/riverton/staff/surveys/import?csrf={token}"),
            Some((&ct, body)),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = c.get(r.location().unwrap()).await;
    assert!(page.body.contains("Imported.") && page.body.contains("Neighbourhood safety"));
    let bad = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/xlsform/lantern_unsupported.xlsx"
    ))
    .unwrap();
    let (ct, body) = multipart(&[("kind", "community")], ("file", "x.xlsx", &bad));
    let r = c
        .request(
            Method::POST,
            &format!("/riverton/staff/surveys/import?csrf={token}"),
            Some((&ct, body)),
        )
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains(
            "sheet survey, row 3, column type: &#34;geopoint&#34; is not a supported question type"
        ),
        "{}",
        r.body
    );
    // Without the token in the address, the upload is refused.
    let (ct, body) = multipart(&[("kind", "community")], ("file", "x.xlsx", &good));
    assert_eq!(
        c.request(
            Method::POST,
            "/riverton/staff/surveys/import",
            Some((&ct, body))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let imported = audit::list(
        &app.db,
        a.id,
        &Filter {
            action: "survey.imported".into(),
            ..Filter::default()
        },
        5,
    )
    .await
    .unwrap();
    assert_eq!(imported.len(), 1);
});

db_test!(employee_surveys_cannot_be_traced_to_a_person, |app| {
    let a = agency(&app).await;
    let (_, admin_pw) = app.user(&a, "chief", Role::Admin).await;
    let s = app.published_survey(&a, Template::EmployeeEngagement).await;
    let mut staff = Vec::new();
    for i in 0..7 {
        staff.push(app.user(&a, &format!("officer{i}"), Role::Staff).await);
    }
    let mut admin = app.client().signed_in("riverton", "chief", &admin_pw).await;
    admin
        .post(
            &format!("/riverton/staff/surveys/{}/staff-invitations", s.id),
            &[("who", "staff")],
        )
        .await;
    // Six answer, a day apart, each with a distinctive answer; the seventh does not.
    let tenures = ["0-4", "0-4", "5-14", "5-14", "5-14", "15+"];
    let assignments = [
        "patrol",
        "patrol",
        "patrol",
        "patrol",
        "patrol",
        "investigations",
    ];
    for (i, (user, pw)) in staff.iter().take(6).enumerate() {
        app.clock.advance(86_400 + 3_600 * i as i64);
        let mut c = app.client().signed_in("riverton", &user.username, pw).await;
        let list = c.get("/riverton/account/surveys").await;
        assert!(
            list.body
                .contains(&format!("/riverton/account/surveys/{}", s.id))
        );
        let fields = [
            ("page", "2"),
            ("action", "next"),
            ("q_morale_proud", &(1 + (i % 5)).to_string()[..]),
            ("q_tenure", tenures[i]),
            ("q_assignment", assignments[i]),
            ("q_comments", &format!("marker-{i} wants better radios")[..]),
        ];
        let r = c
            .post(&format!("/riverton/account/surveys/{}", s.id), &fields)
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        // Answering twice is not possible.
        assert_eq!(
            c.post(&format!("/riverton/account/surveys/{}", s.id), &fields)
                .await
                .status,
            StatusCode::CONFLICT
        );
    }
    // The admin signs in now (a week of answers went by), and walks every page and export
    // an admin can open about this survey, and the audit log.
    let mut admin = app.client().signed_in("riverton", "chief", &admin_pw).await;
    let mut pages: Vec<String> = vec![
        format!("/riverton/staff/surveys/{}", s.id),
        format!("/riverton/staff/surveys/{}/results", s.id),
        format!("/riverton/staff/surveys/{}/export.csv", s.id),
        format!("/riverton/staff/surveys/{}/flagged", s.id),
        "/riverton/staff/surveys".into(),
        "/riverton/staff/audit".into(),
        "/riverton/staff/audit?action=survey".into(),
        "/riverton/staff/users".into(),
    ];
    for by in [
        "month",
        "q:tenure",
        "q:assignment",
        "q:stress",
        "q:intent_stay",
    ] {
        pages.push(format!("/riverton/staff/surveys/{}/results?by={by}", s.id));
    }
    for page in &pages {
        let response = admin.get(page).await;
        response.assert_status(StatusCode::OK);
        let body = response.body;
        for (i, (user, _)) in staff.iter().take(6).enumerate() {
            let has_marker = body.contains(&format!("marker-{i}"));
            let has_person = body.contains(&user.username) || body.contains(&user.display_name);
            assert!(
                !(has_marker && has_person),
                "{page} shows officer{i} next to their answer"
            );
        }
        // No time of day for any employee answer; nothing in submission order.
        assert!(!body.contains("employee_responses"), "{page}");
    }
    let csv = admin
        .get(&format!("/riverton/staff/surveys/{}/export.csv", s.id))
        .await
        .body;
    // At most the month; tenure and assignment, which would single people out here, and the
    // comments are not in the rows.
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("month,version,language,"), "{header}");
    for forbidden in [
        "response_id",
        "submitted_at",
        "user",
        "officer_id",
        "day",
        "tenure",
        "assignment",
        "comments",
    ] {
        assert!(!header.contains(forbidden), "{header}");
    }
    let months: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(months.len(), 6);
    assert!(
        months.iter().all(|d| d.len() == 7),
        "only the month: {months:?}"
    );
    // Who responded is a count, never a list beside the answers.
    let overview = admin
        .get(&format!("/riverton/staff/surveys/{}", s.id))
        .await
        .body;
    assert!(overview.contains("7 invited, 6 responded"), "{overview}");
    // Groups under five are hidden, and the next smallest with them so no group can be
    // worked out by subtraction: tenure 0-4 (2), 5-14 (3), 15+ (1) are all hidden.
    let by_tenure = admin
        .get(&format!(
            "/riverton/staff/surveys/{}/results?by=q:tenure",
            s.id
        ))
        .await
        .body;
    let table = between(&by_tenure, "Morale by answer to", "</table>")
        .unwrap_or_else(|| panic!("{by_tenure}"));
    assert_eq!(table.matches("Too few to show").count(), 3, "{table}");
    // Assignment: patrol (5) shows; investigations (1) hides, and with it the next smallest
    // (patrol itself), since the total would give it away.
    let by_assignment = admin
        .get(&format!(
            "/riverton/staff/surveys/{}/results?by=q:assignment",
            s.id
        ))
        .await
        .body;
    let table = between(&by_assignment, "Morale by answer to", "</table>").unwrap();
    assert_eq!(table.matches("Too few to show").count(), 2, "{table}");
    // The submissions left no trace in the audit chain.
    let rows = audit::list(&app.db, a.id, &Filter::default(), 500)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|e| !e.action.starts_with("survey.response")),
        "no per-response audit rows"
    );
    let marked: i64 = lantern::on_db!(&app.db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM employee_invitations WHERE responded = TRUE"
    )
    .fetch_one(pool)
    .await)
    .unwrap();
    assert_eq!(marked, 6);
});

db_test!(
    published_results_appear_on_the_public_site_in_both_languages,
    |app| {
        let a = agency(&app).await;
        let s = app.published_survey(&a, Template::CommunityTrust).await;
        let mut rows = Vec::new();
        for i in 0..40 {
            let mut answers = Answers::new();
            answers.insert("trust_respect".into(), Answer::Number(6.0));
            answers.insert("trust_listen".into(), Answer::Number(6.0));
            let priority = match i {
                0..25 => "traffic",
                25..35 => "violence",
                _ => "youth",
            };
            answers.insert("priority".into(), Answer::One(priority.into()));
            rows.push(response(&s, &answers, app.clock.unix() - i));
        }
        writer::insert_all(&app.db, &rows).await.unwrap();
        let mut c = app.client();
        assert_eq!(
            c.get(&format!("/riverton/s/{}/results", s.public_code))
                .await
                .status,
            StatusCode::NOT_FOUND,
            "not published yet"
        );
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
        let en = c
            .get(&format!("/riverton/s/{}/results", s.public_code))
            .await;
        en.assert_status(StatusCode::OK);
        assert!(en.body.contains("What 40 people told us"));
        let row = between(&en.body, "<th scope=\"row\">Traffic safety</th>", "</tr>").unwrap();
        assert!(row.contains(">25<"), "{row}");
        let youth = between(
            &en.body,
            "<th scope=\"row\">Programs for young people</th>",
            "</tr>",
        )
        .unwrap();
        assert!(
            youth.contains("Too few answers to show"),
            "5 is below the small-cell threshold: {youth}"
        );
        // Violent crime (10) is withheld with it: 40 − 25 − 10 would give youth away.
        let violence = between(&en.body, "<th scope=\"row\">Violent crime</th>", "</tr>").unwrap();
        assert!(violence.contains("Too few answers to show"), "{violence}");
        let es = c
            .get(&format!("/riverton/es/s/{}/results", s.public_code))
            .await;
        assert!(
            es.body.contains("Lo que nos dijeron 40 personas")
                && es.body.contains("Seguridad vial")
        );
        // The public home points to the survey and to its results.
        let home = c.get("/riverton").await.body;
        assert!(
            home.contains(&format!("/riverton/s/{}", s.public_code)),
            "{home}"
        );
        assert!(home.contains(&format!("/riverton/s/{}/results", s.public_code)));
    }
);

db_test!(qr_codes_flyers_and_officer_cards, |app| {
    let a = agency(&app).await;
    let s = app.published_survey(&a, Template::CommunityTrust).await;
    let mut c = app.client();
    let png = c
        .get(&format!("/riverton/s/{}/qr.png?src=flyer", s.public_code))
        .await;
    png.assert_status(StatusCode::OK);
    assert_eq!(png.headers["content-type"], "image/png");
    let svg = c
        .get(&format!("/riverton/s/{}/qr.svg?src=event", s.public_code))
        .await;
    assert_eq!(svg.headers["content-type"], "image/svg+xml");
    assert!(svg.body.starts_with("<svg"));
    let flyer = c.get(&format!("/riverton/s/{}/flyer", s.public_code)).await;
    assert!(
        flyer.body.contains("How are we doing?")
            && flyer.body.contains("¿Cómo lo estamos haciendo?")
    );
    assert!(
        flyer
            .body
            .contains(&format!("riverton/s/{}", s.public_code)),
        "the short link is printed"
    );

    let cards = app.published_survey(&a, Template::OfficerCard).await;
    let mut tx = app.db.begin().await.unwrap();
    let unit = roster::insert_unit(&mut tx, a.id, "Patrol North", "patrol", None)
        .await
        .unwrap();
    for badge in ["101", "102"] {
        roster::insert_officer(
            &mut tx,
            a.id,
            &roster::NewOfficer {
                badge: badge.into(),
                first_name: "Pat".into(),
                last_name: format!("Badge{badge}"),
                rank: "Officer".into(),
                sex: String::new(),
                race: String::new(),
                hire_date: "2020-01-01".into(),
                active: true,
                assignments: vec![(unit, "2020-01-01".into(), None)],
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let (_, pw) = app.user(&a, "ana", Role::Analyst).await;
    let mut ana = app.client().signed_in("riverton", "ana", &pw).await;
    let sheet = ana
        .get(&format!("/riverton/staff/surveys/{}/cards", cards.id))
        .await;
    assert_eq!(sheet.body.matches("class=\"officer-card\"").count(), 2);
    assert!(sheet.body.contains("Pat Badge101"));
});

db_test!(the_api_gives_the_same_results_and_every_response, |app| {
    let a = agency(&app).await;
    let mut tx = app.db.begin().await.unwrap();
    roster::insert_margin(&mut tx, a.id, "agency", "sex", "female", 5_000, "test")
        .await
        .unwrap();
    roster::insert_margin(&mut tx, a.id, "agency", "sex", "male", 5_000, "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let s = app.published_survey(&a, Template::CommunityTrust).await;
    let mut rows = Vec::new();
    for i in 0..40 {
        let mut answers = Answers::new();
        answers.insert("trust_respect".into(), Answer::Number((i % 11) as f64));
        answers.insert("trust_listen".into(), Answer::Number(5.0));
        answers.insert(
            "gender".into(),
            Answer::One(if i < 30 { "female" } else { "male" }.into()),
        );
        answers.insert(
            "contact_12m".into(),
            Answer::One(if i % 4 == 0 { "yes" } else { "no" }.into()),
        );
        rows.push(response(&s, &answers, app.clock.unix() - i));
    }
    writer::insert_all(&app.db, &rows).await.unwrap();
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
    let list = api.get("/api/v1/surveys").await.json();
    assert_eq!(list[0]["id"], s.id);
    assert_eq!(list[0]["responses"], 40);
    let results = api
        .get(&format!("/api/v1/surveys/{}/results", s.id))
        .await
        .json();
    assert_eq!(results["respondents"], 40);
    assert_eq!(results["weighted_respondents"], 40);
    let contact = results["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["key"] == "contact_12m")
        .unwrap();
    let yes = &contact["choices"][0];
    assert_eq!(yes["count"], 10);
    assert!((yes["share"]["value"].as_f64().unwrap() - 0.25).abs() < 1e-12);
    // The page shows the same interval as the API returns.
    let lower = yes["share"]["lower"].as_f64().unwrap();
    let upper = yes["share"]["upper"].as_f64().unwrap();
    let (_, pw) = app.user(&a, "ana", Role::Analyst).await;
    let mut ana = app.client().signed_in("riverton", "ana", &pw).await;
    let page = ana
        .get(&format!("/riverton/staff/surveys/{}/results", s.id))
        .await
        .body;
    assert!(
        page.contains(&format!("{:.1}%–{:.1}%", lower * 100.0, upper * 100.0)),
        "{lower} {upper}"
    );

    let responses = api
        .get(&format!("/api/v1/surveys/{}/responses", s.id))
        .await;
    responses.assert_status(StatusCode::OK);
    let all = responses.json();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 40);
    assert_eq!(all[0]["answers"]["trust_respect"], 0.0);
    assert_eq!(all[0]["version"], 1);
    let log = audit::list(
        &app.db,
        a.id,
        &Filter {
            action: "survey.exported".into(),
            ..Filter::default()
        },
        5,
    )
    .await
    .unwrap();
    assert_eq!(log[0].actor, "token:dashboard");
    assert!(log[0].detail.contains("json"));
    // A supervisor's token reads results but cannot export responses.
    let (_, sup) = lantern::platform::api_tokens::create(
        &app.db,
        a.id,
        "board",
        Role::Supervisor,
        &Actor::System("test"),
        None,
        app.clock.unix(),
    )
    .await
    .unwrap();
    let mut board = app.client().bearer(&sup);
    assert_eq!(
        board
            .get(&format!("/api/v1/surveys/{}/results", s.id))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        board
            .get(&format!("/api/v1/surveys/{}/responses", s.id))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
});
