//! Pages people can read: numbers in the reader's language, charts readable on a phone,
//! intervals written one way, plain captions and district names, form errors that take the
//! focus and mark their fields, and a language switch that keeps the query string.

use axum::http::StatusCode;
use lantern::platform::accounts::Role;
use lantern::platform::audit::Actor;

use crate::db_test;
use crate::helpers::{T0, TestApp};

/// Each `<svg class="chart">` of a page as (viewBox width, font size).
fn charts(html: &str) -> Vec<(f64, f64)> {
    html.split("<svg ")
        .skip(1)
        .filter(|s| s.starts_with("xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\""))
        .map(|s| {
            let head = &s[..s.find('>').unwrap()];
            let view_box = crate::helpers::between(head, "viewBox=\"", "\"").unwrap();
            let width: f64 = view_box.split(' ').nth(2).unwrap().parse().unwrap();
            let font: f64 = crate::helpers::between(head, "font-size=\"", "\"")
                .unwrap()
                .parse()
                .unwrap();
            (width, font)
        })
        .collect()
}

/// The column of a 390 px phone: the page's padding is 1rem on each side.
const PHONE_COLUMN: f64 = 390.0 - 32.0;

fn readable_on_a_phone(html: &str, page: &str) {
    let found = charts(html);
    assert!(!found.is_empty(), "{page} has charts");
    for (width, font) in found {
        let px = font * PHONE_COLUMN / width;
        assert!(
            px >= 12.0,
            "{page}: chart text renders at {px:.1} px on a phone (viewBox {width}, font {font})"
        );
    }
}

/// The text a visitor sees (tags, the `<title>` of charts and scripts left out).
fn visible_text(html: &str) -> String {
    let body = html.split("<body").nth(1).unwrap_or(html);
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

async fn demo(app: &TestApp) -> (lantern::platform::agencies::Agency, String) {
    let (agency, _) = lantern::demo::ensure(&app.db, 7, T0).await.unwrap();
    let surveys = lantern::surveys::store::list(&app.db, agency.id)
        .await
        .unwrap();
    let community = surveys
        .iter()
        .find(|s| s.name.starts_with("Community"))
        .unwrap();
    lantern::surveys::store::set_options(
        &app.db,
        community,
        community.one_per_device,
        true,
        &Actor::System("test"),
        None,
        T0,
    )
    .await
    .unwrap();
    (agency, community.public_code.clone())
}

db_test!(
    spanish_public_pages_are_spanish_through_and_through,
    |app| {
        let (_, code) = demo(&app).await;
        let mut c = app.client();

        // Results: chart names and descriptions, numbers, percentages and intervals in Spanish.
        let es = c.get(&format!("/riverton/es/s/{code}/results")).await;
        es.assert_status(StatusCode::OK);
        let text = visible_text(&es.body);
        assert!(
            es.body
                .contains("porcentaje de respuestas, con intervalos del 95"),
            "chart names in Spanish"
        );
        for english in ["share of answers", "with 95% intervals", "Too few"] {
            assert!(!es.body.contains(english), "English left: {english}");
        }
        // 0,7 % and 3.201: a decimal comma, a space before %, a point between thousands.
        assert!(text.contains("\u{a0}%"), "percent sign after a space");
        let english_decimal = regex_like_decimal_point(&text);
        assert!(
            english_decimal.is_none(),
            "a number written the English way: {english_decimal:?}"
        );
        let respondents = lantern::demo::surveys::COMMUNITY_RESPONSES;
        assert!(
            es.body.contains(&lantern::web::fmt::int(
                lantern::web::i18n::Lang::Es,
                respondents
            )),
            "respondents grouped with a point"
        );
        // Tick labels of the charts too.
        assert!(es.body.contains("%</text>") && !es.body.contains("0%</text>"));

        // The same page in English writes 12.3% and 1,234.
        let en = c.get(&format!("/riverton/s/{code}/results")).await;
        assert!(en.body.contains("share of answers, with 95% intervals"));
        assert!(
            en.body.contains(&lantern::web::fmt::thousands(respondents)),
            "respondents grouped with a comma"
        );

        // The home page's district populations.
        let home = c.get("/riverton/es").await;
        let populations = crate::helpers::between(&home.body, "<tbody>", "</tbody>").unwrap();
        assert!(
            populations.contains(".") && !populations.contains(","),
            "{populations}"
        );

        // The flyer's own line.
        let flyer = c.get(&format!("/riverton/es/s/{code}/flyer")).await;
        flyer.assert_status(StatusCode::OK);
        assert!(flyer.body.contains("<html lang=\"es\">"));
        assert!(
            flyer.body.contains("Imprima esta página") && !flyer.body.contains("Print this page"),
            "flyer's line in Spanish"
        );
    }
);

/// The first number written with a decimal point ("12.3"), if any.
fn regex_like_decimal_point(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (1..b.len().saturating_sub(1))
        .find(|&i| {
            b[i] == b'.'
                && b[i - 1].is_ascii_digit()
                && b[i + 1].is_ascii_digit()
                // "3.201" (thousands) has three digits after the point and no fourth.
                && !(i + 3 < b.len()
                    && b[i + 1..i + 4].iter().all(u8::is_ascii_digit)
                    && !b.get(i + 4).is_some_and(u8::is_ascii_digit))
        })
        .map(|i| text[i.saturating_sub(8)..(i + 8).min(text.len())].to_string())
}

db_test!(charts_stay_readable_on_a_phone, |app| {
    let (_, code) = demo(&app).await;
    let mut c = app.client();
    for path in [
        format!("/riverton/s/{code}/results"),
        format!("/riverton/es/s/{code}/results"),
    ] {
        let page = c.get(&path).await;
        page.assert_status(StatusCode::OK);
        readable_on_a_phone(&page.body, &path);
    }
    let (_, _, _, password) = lantern::demo::ACCOUNTS[1];
    let mut analyst = app
        .client()
        .signed_in("riverton", "analyst", password)
        .await;
    for path in [
        "/riverton/staff/stops/analysis",
        "/riverton/staff/stops/darkness",
    ] {
        let page = analyst.get(path).await;
        page.assert_status(StatusCode::OK);
        readable_on_a_phone(&page.body, path);
    }
});

db_test!(
    stop_tables_use_plain_words_district_names_and_one_interval_format,
    |app| {
        let (agency, _) = demo(&app).await;
        let (_, _, _, password) = lantern::demo::ACCOUNTS[1];
        let mut analyst = app
            .client()
            .signed_in("riverton", "analyst", password)
            .await;
        let page = analyst.get("/riverton/staff/stops/analysis").await;
        page.assert_status(StatusCode::OK);
        let text = visible_text(&page.body);
        assert!(text.contains("Searches per stop"), "plain caption");
        // The tables (the method note may name a file's columns; the tables say what they count).
        let tables: String = page
            .body
            .split("<table")
            .skip(1)
            .map(|t| visible_text(&format!("<body{}", &t[..t.find("</table>").unwrap()])))
            .collect();
        for internal in [
            "search_conducted",
            "arrest_made",
            "contraband_found",
            "citation_issued",
            "(agency;",
        ] {
            assert!(
                !tables.contains(internal),
                "internal name shown: {internal}"
            );
        }
        // Districts by name, in the table and in the filter.
        let districts = lantern::platform::roster::districts(&app.db, agency.id)
            .await
            .unwrap();
        let d = &districts[0];
        assert_ne!(d.code, d.name);
        let by_district =
            crate::helpers::between(&page.body, "id=\"hit-by-district\"", "</table>").unwrap();
        assert!(
            by_district.contains(&format!("<th scope=\"row\">{}</th>", d.name)),
            "district name in the table"
        );
        assert!(
            !by_district.contains(&format!("<th scope=\"row\">{}</th>", d.code)),
            "no district code in the table"
        );
        assert!(
            page.body
                .contains(&format!("<option value=\"{}\">{}</option>", d.code, d.name))
        );
        // Intervals written one way: "12.3% (95% CI 10.1%–14.6%)", never "10.1% – 14.6%".
        assert!(text.contains("(95% CI "), "one interval format");
        assert!(!text.contains(" – "), "no spaced interval dash");
        let darkness = analyst.get("/riverton/staff/stops/darkness").await;
        let text = visible_text(&darkness.body);
        assert!(text.contains("(95% CI ") && !text.contains(" – "));
    }
);

db_test!(form_errors_take_the_focus_and_mark_their_fields, |app| {
    let a = app.agency("riverton", "Riverton PD").await;
    let (_, pw) = app.user(&a, "chief", Role::Admin).await;

    // Sign-in, in both languages.
    let mut c = app.client();
    let r = c.sign_in("riverton", "chief", "wrong password").await;
    assert!(
        r.body.contains("<title>Error: Sign in"),
        "title says there is a problem"
    );
    assert!(
        r.body.contains("tabindex=\"-1\" autofocus>"),
        "summary takes the focus"
    );
    let username =
        crate::helpers::between(&r.body, "<input type=\"text\" id=\"username\"", ">").unwrap();
    assert!(
        username.contains("aria-invalid=\"true\"")
            && username.contains("aria-describedby=\"username-error\""),
        "{username}"
    );
    assert!(r.body.contains("id=\"username-error\""));
    let r = c
        .post(
            "/riverton/es/signin",
            &[("username", "chief"), ("password", "mal")],
        )
        .await;
    assert!(
        r.body.contains("<title>Error: Iniciar sesión"),
        "Spanish title"
    );

    // A staff form: every field with a problem, through the shared mechanism.
    let mut staff = app.client().signed_in("riverton", "chief", &pw).await;
    let r = staff
        .post(
            "/riverton/staff/users",
            &[
                ("username", "Not Valid!"),
                ("display_name", ""),
                ("email", ""),
                ("role", "analyst"),
                ("password", "x"),
            ],
        )
        .await;
    assert!(r.body.contains("<title>Error: Accounts"), "staff title");
    assert!(r.body.contains("autofocus>"));
    let input =
        crate::helpers::between(&r.body, "<input type=\"text\" id=\"username\"", ">").unwrap();
    assert!(
        input.contains("aria-invalid=\"true\"")
            && input.contains("aria-describedby=\"username-hint username-error\""),
        "{input}"
    );
    assert!(
        r.body
            .contains("<p class=\"error-message\" id=\"username-error\">")
    );
    // A field without a problem is not marked.
    let email =
        crate::helpers::between(&r.body, "<input type=\"email\" id=\"email\"", ">").unwrap();
    assert!(!email.contains("aria-invalid"), "{email}");

    // Without errors the title is the page's own.
    let ok = staff.get("/riverton/staff/users").await;
    assert!(ok.body.contains("<title>Accounts") && !ok.body.contains("autofocus"));
});

db_test!(switching_language_keeps_the_query_string, |app| {
    let (_, code) = demo(&app).await;
    let mut c = app.client();
    let page = c.get(&format!("/riverton/s/{code}?src=qr")).await;
    page.assert_status(StatusCode::OK);
    assert!(
        page.body
            .contains(&format!("href=\"/riverton/es/s/{code}?src=qr\"")),
        "the channel tag survives the switch"
    );
    let page = c.get(&format!("/riverton/es/s/{code}?src=qr")).await;
    assert!(
        page.body
            .contains(&format!("href=\"/riverton/en/s/{code}?src=qr\""))
    );
});
