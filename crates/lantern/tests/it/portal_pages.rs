//! The portal's pages about the portal: the privacy and accessibility notice, and the
//! printable annual report.

use axum::http::StatusCode;

use crate::db_test;
use crate::helpers::TestApp;

/// Riverton with its contact details set.
async fn riverton(app: &TestApp) -> lantern::platform::agencies::Agency {
    let a = app.agency("riverton", "Riverton PD").await;
    lantern::on_db!(&app.db, |pool| sqlx::query(
        "UPDATE agencies SET contact_email = $2, contact_phone = $3, address = $4, small_cell_threshold = 11 WHERE id = $1"
    )
    .bind(a.id)
    .bind("data@riverton.example")
    .bind("+1 515 555 0100")
    .bind("400 Main St, Riverton")
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    a
}

db_test!(
    about_the_data_says_what_is_never_published_in_both_languages,
    |app| {
        riverton(&app).await;
        let mut visitor = app.client();
        let en = visitor.get("/riverton/about-data").await;
        en.assert_status(StatusCode::OK);
        let html = en.body.clone();
        for text in [
            "<h1>About our data</h1>",
            "names of residents",
            "free text",
            "exact addresses",
            "times finer than the hour",
            "Any count from 1 to 11 less one is withheld",
            "WCAG) 2.1 at level AA",
            "without JavaScript",
            "keyboard",
            "screen reader",
            "Report a problem",
            "mailto:data@riverton.example",
            "tel:+1 515 555 0100",
            "400 Main St, Riverton",
        ] {
            assert!(html.contains(text), "{text} is on the page");
        }
        let es = visitor.get("/riverton/es/about-data").await;
        es.assert_status(StatusCode::OK);
        for text in [
            "<h1>Sobre nuestros datos</h1>",
            "<html lang=\"es\">",
            "nombres de residentes",
            "texto libre",
            "horas más precisas que la hora",
            "Cualquier recuento de 1 a 11 menos uno",
            "2.1 en el nivel AA",
            "Informar de un problema",
            "mailto:data@riverton.example",
        ] {
            assert!(es.body.contains(text), "{text} is on the Spanish page");
        }
        // Every public page links to it from the footer, and the home page lists it.
        let home = visitor.get("/riverton").await;
        let footer = crate::helpers::between(&home.body, "<footer", "</footer>").unwrap();
        assert!(footer.contains("href=\"/riverton/about-data\""), "{footer}");
        let es_home = visitor.get("/riverton/es").await;
        assert!(es_home.body.contains("href=\"/riverton/es/about-data\""));
        // An agency with no contact details says so rather than showing empty fields.
        app.agency("other", "Other PD").await;
        let other = visitor.get("/other/about-data").await;
        other.assert_status(StatusCode::OK);
        assert!(!other.body.contains("mailto:"));
        assert!(
            other
                .body
                .contains("Contact details have not been published yet.")
        );
        visitor
            .get("/nowhere/about-data")
            .await
            .assert_status(StatusCode::NOT_FOUND);
    }
);

db_test!(
    the_annual_report_shows_every_published_measure_of_a_published_year,
    |app| {
        use lantern::publish::Kind;
        use lantern::web::i18n::Lang;
        let sj = crate::transparency::san_jose(&app).await;
        crate::transparency::import_text(
            &app,
            &sj,
            &crate::transparency::with_quadrant_districts(crate::transparency::SAN_JOSE),
            lantern::transparency::mapping::Mapping::sopp(),
            false,
        )
        .await;
        let mut months = Vec::new();
        for y in [2016, 2017] {
            months.extend((3..=6).map(|m| (y, m, 40)));
        }
        let survey = crate::portal_surveys::survey_with_answers(&app, &sj, &months).await;
        let (_, pw) = app
            .user(&sj, "ana", lantern::platform::accounts::Role::Analyst)
            .await;
        let mut analyst = app.client().signed_in("sanjose", "ana", &pw).await;
        let published = [
            "stops.stops",
            "stops.search_rate",
            "stops.arrest_rate",
            "surveys.trust",
            "surveys.safety",
        ];
        crate::portal_surveys::publish(&mut analyst, "sanjose", &published, &["2016", "2017"])
            .await;

        let mut visitor = app.client();
        let list = visitor.get("/sanjose/report").await;
        list.assert_status(StatusCode::OK);
        assert!(list.body.contains("href=\"/sanjose/report/2017\""));
        assert!(list.body.contains("href=\"/sanjose/report/2016\""));
        assert!(
            !list.body.contains("/sanjose/report/2015"),
            "2015 is not published"
        );

        let report = visitor.get("/sanjose/report/2017").await;
        report.assert_status(StatusCode::OK);
        let html = report.body.clone();
        assert!(html.contains("<h1>Annual report 2017</h1>"));
        for id in published {
            let anchor = id.replace('.', "-");
            assert!(
                html.contains(&format!("id=\"{anchor}\"")),
                "{id} is in the report"
            );
            assert!(
                html.contains(&format!("id=\"method-{anchor}\"")),
                "{id}'s method is in the appendix"
            );
        }
        for id in ["stops-hit_rate", "surveys-procedural_justice"] {
            assert!(
                !html.contains(&format!("id=\"{id}\"")),
                "{id} is not published"
            );
        }
        // Each measure has its chart and its table.
        assert_eq!(
            html.matches("<section class=\"measure report-measure\"")
                .count(),
            published.len()
        );
        assert!(html.matches("<svg").count() >= published.len());
        assert!(html.contains("What changed from 2016 to 2017"));
        assert!(html.contains("Appendix: how we compute our numbers"));

        // The trust score of each year, and its change in points, as the results give them.
        let a = lantern::platform::agencies::by_slug(&app.db, "sanjose")
            .await
            .unwrap()
            .unwrap();
        let (results, _) =
            lantern::surveys::staff::results_for(&app.state, &a, &survey, None, Lang::En)
                .await
                .unwrap()
                .unwrap();
        let trust = results.scores.iter().find(|s| s.label == "Trust").unwrap();
        let (t16, t17) = (
            trust.by_year[0].est().unwrap().value,
            trust.by_year[1].est().unwrap().value,
        );
        let row = crate::helpers::between(
            &html,
            "<th scope=\"row\">Community trust score</th>",
            "</tr>",
        )
        .unwrap();
        let d = t17 - t16;
        let sign = if d >= 0.05 {
            "+"
        } else if d <= -0.05 {
            "\u{2212}"
        } else {
            ""
        };
        assert_eq!(
            row,
            format!(
                "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{sign}{} points</td>",
                Kind::Score.format(Lang::En, t16),
                Kind::Score.format(Lang::En, t17),
                lantern::web::fmt::decimal(Lang::En, d.abs(), 1)
            )
        );

        // The search rate of each group, 2016 against 2017, as the downloads give them.
        let rate = |csv: &str| -> Vec<(String, Option<f64>)> {
            crate::portal_surveys::csv_rows(csv)
                .into_iter()
                .map(|r| (r[0].clone(), r[3].parse::<f64>().ok()))
                .collect()
        };
        let r16 = rate(
            &visitor
                .get("/sanjose/data/stops/search_rate.csv?year=2016")
                .await
                .body,
        );
        let r17 = rate(
            &visitor
                .get("/sanjose/data/stops/search_rate.csv?year=2017")
                .await
                .body,
        );
        let changes =
            crate::helpers::between(&html, "Searches: 2016 and 2017", "</table>").unwrap();
        let mut compared = 0;
        for (group, now) in &r17 {
            let Some((_, before)) = r16.iter().find(|(g, _)| g == group) else {
                continue;
            };
            let row = crate::helpers::between(
                changes,
                &format!("<th scope=\"row\">{group}</th>"),
                "</tr>",
            )
            .unwrap();
            match (before, now) {
                (Some(b), Some(n)) => {
                    assert!(
                        row.starts_with(&format!(
                            "<td class=\"num\">{}</td><td class=\"num\">{}</td>",
                            Kind::Share.format(Lang::En, *b),
                            Kind::Share.format(Lang::En, *n)
                        )),
                        "{group}: {row}"
                    );
                    compared += 1;
                }
                _ => assert!(row.contains("Withheld"), "{group}: {row}"),
            }
        }
        assert!(compared >= 2, "{changes}");

        // In Spanish.
        let es = visitor.get("/sanjose/es/report/2017").await;
        es.assert_status(StatusCode::OK);
        assert!(es.body.contains("<html lang=\"es\">"));
        assert!(es.body.contains("<h1>Informe anual 2017</h1>"));
        assert!(es.body.contains("Qué cambió de 2016 a 2017"));
        assert!(
            es.body
                .contains("Apéndice: cómo calculamos nuestros números")
        );
        assert!(es.body.contains(&Kind::Score.format(Lang::Es, t17)));

        // The first published year has nothing to compare with.
        let first = visitor.get("/sanjose/report/2016").await;
        first.assert_status(StatusCode::OK);
        assert!(first.body.contains("The year before is not published"));

        // A year with data that is not published, a year without data, and no year at all.
        for path in [
            "/sanjose/report/2015",
            "/sanjose/report/2030",
            "/sanjose/report/next",
        ] {
            visitor.get(path).await.assert_status(StatusCode::NOT_FOUND);
        }
    }
);
