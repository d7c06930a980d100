//! Open data: the page listing every published table with its downloads and data dictionary,
//! and the same list as a DCAT-US catalogue (`data.json`, Project Open Data schema 1.1) for
//! open-data portals to harvest.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::platform::error::AppResult;
use crate::portal::records::{self, RecordLinks};
use crate::portal::{ShownView, date, published, show};
use crate::publish::store;
use crate::publish::{Column, Selection};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::page;

/// One published table on the open-data page.
pub struct Dataset {
    pub view: ShownView,
    pub columns: Vec<Column>,
}

#[derive(Template)]
#[template(path = "portal/open_data.html")]
struct OpenDataPage<'a> {
    ctx: &'a Ctx,
    /// (topic title, its datasets)
    topics: Vec<(String, Vec<Dataset>)>,
    /// The published record-level files.
    records: Vec<RecordLinks>,
    published: String,
    catalogue: String,
}

/// Every topic's published record file.
async fn record_files(state: &AppState, ctx: &Ctx) -> AppResult<Vec<RecordLinks>> {
    let agency = ctx.agency()?;
    let Some(publication) = store::latest(&state.db, agency.id).await? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for topic in state.measures().all() {
        out.extend(records::links(state, ctx, topic, &publication).await?);
    }
    Ok(out)
}

/// Every published measure of every topic, computed for the default selection (the newest
/// published year, or all years when all are published).
async fn datasets(state: &AppState, ctx: &Ctx) -> AppResult<Vec<(String, Vec<Dataset>)>> {
    let agency = ctx.agency()?;
    let lang = ctx.lang();
    let Some(publication) = store::latest(&state.db, agency.id).await? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for topic in state.measures().all() {
        let Some(p) = published(state, agency, topic, Some(&publication), lang).await? else {
            continue;
        };
        let selection = p.check(Selection::default())?;
        let computed = topic
            .compute(state, agency, &selection, &p.years, &p.measures, lang)
            .await?;
        let sets = computed
            .views
            .iter()
            .map(|v| Dataset {
                view: show(ctx, topic.id(), v, &selection.query()),
                columns: v.table.columns.clone(),
            })
            .collect();
        out.push((topic.title(lang), sets));
    }
    Ok(out)
}

pub async fn open_data(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let published = store::latest(&state.db, agency.id)
        .await?
        .map(|p| date(agency, p.published_at))
        .unwrap_or_default();
    let topics = datasets(&state, &ctx).await?;
    let records = record_files(&state, &ctx).await?;
    page(OpenDataPage {
        catalogue: ctx.url("/data.json"),
        ctx: &ctx,
        topics,
        records,
        published,
    })
}

/// The address people reach Lantern at, for absolute links in the catalogue: the configured
/// public address, else the request's own host.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

pub async fn data_json(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let base = base_url(&state, &headers);
    let modified = store::latest(&state.db, agency.id)
        .await?
        .map(|p| date(agency, p.published_at))
        .unwrap_or_default();
    let contact_email = if agency.contact_email.is_empty() {
        serde_json::Value::Null
    } else {
        format!("mailto:{}", agency.contact_email).into()
    };
    let dataset: Vec<serde_json::Value> = datasets(&state, &ctx)
        .await?
        .into_iter()
        .flat_map(|(topic, sets)| {
            let base = base.clone();
            let agency_name = agency.name.clone();
            let modified = modified.clone();
            let contact_email = contact_email.clone();
            sets.into_iter().map(move |d| {
                serde_json::json!({
                    "@type": "dcat:Dataset",
                    "identifier": format!("{base}{}#{}", ctx_path(&d.view.csv), d.view.id),
                    "title": d.view.title,
                    "description": if d.view.summary.is_empty() { d.view.caption.clone() } else { d.view.summary.clone() },
                    "keyword": [topic.clone(), "police".to_string(), "transparency".to_string()],
                    "modified": modified,
                    "publisher": { "@type": "org:Organization", "name": agency_name },
                    "contactPoint": { "@type": "vcard:Contact", "fn": agency_name, "hasEmail": contact_email },
                    "accessLevel": "public",
                    "distribution": [
                        { "@type": "dcat:Distribution", "downloadURL": format!("{base}{}", d.view.csv), "mediaType": "text/csv", "format": "CSV" },
                        { "@type": "dcat:Distribution", "downloadURL": format!("{base}{}", d.view.json), "mediaType": "application/json", "format": "JSON" }
                    ]
                })
            })
        })
        .collect();
    let mut dataset = dataset;
    for r in record_files(&state, &ctx).await? {
        dataset.push(serde_json::json!({
            "@type": "dcat:Dataset",
            "identifier": format!("{base}{}#{}", r.csv, r.file.id),
            "title": r.file.title,
            "description": r.file.description,
            "keyword": ["police".to_string(), "transparency".to_string(), "open data".to_string(), "records".to_string()],
            "modified": modified,
            "publisher": { "@type": "org:Organization", "name": agency.name },
            "contactPoint": { "@type": "vcard:Contact", "fn": agency.name, "hasEmail": contact_email },
            "accessLevel": "public",
            "temporal": match (r.years.first(), r.years.last()) {
                (Some(a), Some(b)) => format!("{a}-01-01/{b}-12-31").into(),
                _ => serde_json::Value::Null,
            },
            "describedBy": format!("{base}{}", r.dictionary),
            "describedByType": "application/json",
            "distribution": [
                { "@type": "dcat:Distribution", "downloadURL": format!("{base}{}", r.csv), "mediaType": "text/csv", "format": "CSV", "describedBy": format!("{base}{}", r.dictionary), "describedByType": "application/json" },
                { "@type": "dcat:Distribution", "downloadURL": format!("{base}{}", r.parquet), "mediaType": "application/vnd.apache.parquet", "format": "Parquet", "describedBy": format!("{base}{}", r.dictionary), "describedByType": "application/json" }
            ]
        }));
    }
    Ok(Json(serde_json::json!({
        "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
        "@type": "dcat:Catalog",
        "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
        "describedBy": "https://project-open-data.cio.gov/v1.1/schema/catalog.json",
        "dataset": dataset,
    }))
    .into_response())
}

/// A link without its query string (identifiers name the table, not one selection of it).
fn ctx_path(href: &str) -> &str {
    href.split_once('?').map_or(href, |(p, _)| p)
}
