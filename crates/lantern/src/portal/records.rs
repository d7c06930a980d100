//! Record-level open data on the portal: a topic's de-identified record file as CSV
//! (`/{agency}/data/{topic}/records.csv`), Parquet (`records.parquet`) and its data
//! dictionary (`records-dictionary.json`). Published like a measure: only when the newest
//! publication names the file, and only the stops of its years; otherwise not found.
//!
//! The files are streamed: the topic hands over its rows a batch at a time, and each batch
//! is sent (as CSV lines, or as one Parquet row group) before the next is read.

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::platform::agencies::Agency;
use crate::platform::error::{AppError, AppResult};
use crate::portal::date;
use crate::publish::records::{self as rec, ParquetStream};
use crate::publish::store::Publication;
use crate::publish::{RecordFile, Topic};
use crate::state::AppState;
use crate::web::ctx::Ctx;

/// The file names' stems: `records.csv`, `records.parquet`, `records-dictionary.json`.
pub const FILE: &str = "records";
pub const DICTIONARY: &str = "records-dictionary";

/// The published years a topic's record file covers; `None` when the file is not published
/// (or no year with data is).
pub async fn published_years(
    state: &AppState,
    agency: &Agency,
    topic: &dyn Topic,
    file: &RecordFile,
    publication: &Publication,
    lang: crate::web::i18n::Lang,
) -> AppResult<Option<Vec<String>>> {
    if !publication.has_measure(file.id) {
        return Ok(None);
    }
    let years: Vec<String> = topic
        .choices(state, agency, lang)
        .await?
        .years
        .into_iter()
        .filter(|y| publication.has_year(y))
        .collect();
    Ok((!years.is_empty()).then_some(years))
}

/// The links of a published record file, for the open-data page and the catalogue.
pub struct RecordLinks {
    pub file: RecordFile,
    pub anchor: String,
    pub years: Vec<String>,
    pub csv: String,
    pub parquet: String,
    pub dictionary: String,
}

pub async fn links(
    state: &AppState,
    ctx: &Ctx,
    topic: &dyn Topic,
    publication: &Publication,
) -> AppResult<Option<RecordLinks>> {
    let agency = ctx.agency()?;
    let Some(file) = topic.records(ctx.lang()) else {
        return Ok(None);
    };
    let Some(years) = published_years(state, agency, topic, &file, publication, ctx.lang()).await?
    else {
        return Ok(None);
    };
    let url = |name: &str| ctx.url(&format!("/data/{}/{name}", topic.id()));
    Ok(Some(RecordLinks {
        anchor: file.id.replace('.', "-"),
        csv: url("records.csv"),
        parquet: url("records.parquet"),
        dictionary: url("records-dictionary.json"),
        file,
        years,
    }))
}

/// The record file `name` (`records.csv`, `records.parquet`, `records-dictionary.json`).
pub async fn download(
    state: &AppState,
    ctx: &Ctx,
    topic: &dyn Topic,
    file: &RecordFile,
    publication: &Publication,
    name: &str,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let years = published_years(state, agency, topic, file, publication, ctx.lang())
        .await?
        .ok_or(AppError::NotFound)?;
    let stem = format!("{}-{}-records", agency.slug, topic.id());
    let attachment = |ext: &str| format!("attachment; filename=\"{stem}.{ext}\"");
    match name {
        "records-dictionary.json" => {
            let doc = serde_json::json!({
                "file": file.id,
                "title": file.title,
                "description": file.description,
                "agency": agency.name,
                "published": date(agency, publication.published_at),
                "years": years,
                "small_cell_threshold": agency.small_cell_threshold,
                "de_identification": file.rules,
                "columns": file.columns,
                "formats": {
                    "csv": "UTF-8, comma-separated, CRLF line ends, a header of the column keys; an empty field is a missing value; a text that a spreadsheet would read as a formula starts with an apostrophe.",
                    "parquet": "One row group per batch of stored records, Snappy-compressed; every column optional (null is a missing value); texts are UTF-8 strings, whole numbers INT64, true/false BOOLEAN.",
                },
            });
            let body = serde_json::to_vec_pretty(&doc).map_err(|e| AppError::Internal(e.into()))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/json".to_string()),
                    (header::CONTENT_DISPOSITION, attachment("dictionary.json")),
                ],
                body,
            )
                .into_response())
        }
        "records.csv" => {
            let rows = topic.record_rows(state, agency, &years).await?;
            let columns = file.columns.clone();
            let header_line = rec::csv_header(&columns)?;
            let lines = rows.map(move |batch| rec::csv_rows(&columns, &batch?));
            let body = futures_util::stream::once(async move { Ok(header_line) }).chain(lines);
            Ok(streamed(body, "text/csv; charset=utf-8", attachment("csv")))
        }
        "records.parquet" => {
            let rows = topic.record_rows(state, agency, &years).await?;
            let writer = ParquetStream::new(file)?;
            // Each batch becomes one row group; the footer follows the last.
            let body = futures_util::stream::try_unfold(
                (rows, Some(writer)),
                |(mut rows, mut writer)| async move {
                    let Some(w) = writer.as_mut() else {
                        return Ok(None);
                    };
                    match rows.next().await {
                        Some(batch) => {
                            let bytes = w.write(&batch?)?;
                            Ok(Some((bytes, (rows, writer))))
                        }
                        None => {
                            let last = writer.take().expect("present").finish()?;
                            Ok(Some((last, (rows, None))))
                        }
                    }
                },
            );
            Ok(streamed(
                body,
                "application/vnd.apache.parquet",
                attachment("parquet"),
            ))
        }
        _ => Err(AppError::NotFound),
    }
}

/// A response whose body is sent as the stream gives it. A failure half-way ends the body
/// early (the client sees an incomplete download) and is logged.
fn streamed(
    body: impl futures_util::Stream<Item = Result<Bytes, AppError>> + Send + 'static,
    content_type: &str,
    disposition: String,
) -> Response {
    let body = body.map(|r| {
        r.map_err(|e| {
            tracing::error!(error = %e, "record file failed while streaming");
            std::io::Error::other(e.to_string())
        })
    });
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
