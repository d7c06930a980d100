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
