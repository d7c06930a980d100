//! Exports: one row per response, one column per question (codes, and labels beside them for
//! choice questions), streamed page by page so memory stays flat however many responses a
//! survey has. Every export is recorded in the audit chain.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::model::{Answer, Answers, Definition, Kind, QuestionKind};
use super::store::{self, Survey};
use crate::on_db;
use crate::platform::audit::{self, Event};
use crate::platform::db::Db;
use crate::platform::error::{AppError, AppResult};
use crate::web::AppState;
use crate::web::ctx::Ctx;

const PAGE: i64 = 5_000;

/// The columns of an export: fixed facts, then each question (choice questions twice: code
/// and label).
pub struct Layout {
    pub def: Arc<Definition>,
    pub employee: bool,
}

impl Layout {
    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = if self.employee {
            vec!["day".into(), "version".into(), "language".into()]
        } else {
            [
                "response_id",
                "submitted_at",
                "version",
                "channel",
                "language",
                "status",
                "officer_id",
                "call_type",
                "contact_district",
            ]
            .map(String::from)
            .to_vec()
        };
        for q in self.def.questions() {
            if matches!(q.kind, QuestionKind::Note) {
                continue;
            }
            h.push(q.key.clone());
            if q.kind.is_categorical() {
                h.push(format!("{}_label", q.key));
            }
        }
        h
    }

    pub fn answers(&self, answers: &Answers, out: &mut Vec<String>) {
        for q in self.def.questions() {
            if matches!(q.kind, QuestionKind::Note) {
                continue;
            }
            let a = answers.get(&q.key);
            out.push(a.map(Answer::to_cell).unwrap_or_default());
            if q.kind.is_categorical() {
                let choices = q.kind.choices();
                let labels: Vec<String> = a
                    .map(Answer::selected)
                    .unwrap_or_default()
                    .iter()
                    .map(|v| {
                        choices
                            .iter()
                            .find(|c| &c.value == v)
                            .map(|c| c.label.en.clone())
                            .unwrap_or_else(|| v.clone())
                    })
                    .collect();
                out.push(labels.join(";"));
            }
        }
    }
}

/// One exported response (the fixed part; answers are JSON until written).
#[derive(sqlx::FromRow)]
pub struct ExportRow {
    pub id: i64,
    pub submitted_at: i64,
    pub version: i64,
    pub channel: String,
    pub language: String,
    pub status: String,
    pub officer_id: Option<i64>,
    pub call_type: Option<String>,
    pub district: Option<String>,
    pub answers: String,
}

/// Reads responses after `after` (by id), a page at a time.
pub async fn page_of(db: &Db, survey: &Survey, after: i64) -> Result<Vec<ExportRow>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT r.id, r.submitted_at, v.number AS version, r.channel, r.language, r.status, r.officer_id, \
                    c.call_type, c.district, r.answers \
             FROM responses r \
             JOIN survey_versions v ON v.agency_id = r.agency_id AND v.id = r.version_id \
             LEFT JOIN contacts c ON c.agency_id = r.agency_id AND c.id = r.contact_id \
             WHERE r.agency_id = $1 AND r.survey_id = $2 AND r.id > $3 AND r.status <> 'rejected' \
             ORDER BY r.id LIMIT $4",
        )
        .bind(survey.agency_id)
        .bind(survey.id)
        .bind(after)
        .bind(PAGE)
        .fetch_all(pool)
        .await
    })
}

/// Employee responses in key order, which is random: row order says nothing about who
/// answered when. Only the day is known.
pub async fn employee_page(
    db: &Db,
    survey: &Survey,
    after: &str,
) -> Result<Vec<(String, String, i64, String, String)>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT e.token, e.day, v.number, e.language, e.answers FROM employee_responses e \
             JOIN survey_versions v ON v.agency_id = e.agency_id AND v.id = e.version_id \
             WHERE e.agency_id = $1 AND e.survey_id = $2 AND e.token > $3 ORDER BY e.token LIMIT $4",
        )
        .bind(survey.agency_id)
        .bind(survey.id)
        .bind(after)
        .bind(PAGE)
        .fetch_all(pool)
        .await
    })
}

fn iso(unix: i64, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| {
            t.with_timezone(&tz)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
}

/// `GET …/export.csv`: the survey's responses as CSV, streamed.
pub async fn csv(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    let agency = ctx.agency()?.clone();
    let survey = store::get(&state.db, agency.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let version_id = survey
        .current_version
        .ok_or_else(|| AppError::BadRequest("The survey has no published version yet".into()))?;
    let version = state
        .surveys
        .versions
        .get(&state.db, agency.id, version_id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        &state.db,
        agency.id,
        state.clock.unix(),
        &Event::new(
            &ctx.actor(),
            "survey.exported",
            format!("survey:{}", survey.id),
        )
        .detail(serde_json::json!({"format": "csv"}))
        .ip(ctx.ip().as_deref()),
    )
    .await?;
    let layout = Layout {
        def: version.definition.clone(),
        employee: survey.kind() == Kind::Employee,
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let db = state.db.clone();
    let tz = agency.tz();
    tokio::spawn(async move {
        if let Err(e) = stream_csv(&db, &survey, &layout, tz, &tx).await {
            tracing::error!(error = %e, survey = survey.id, "export failed part-way");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    let body = Body::from_stream(stream_of(rx));
    let name = format!("survey-{id}-responses.csv");
    Ok(super::staff::download(
        body,
        "text/csv; charset=utf-8",
        &name,
    ))
}

/// The receiving end of an export's channel, as a response body stream.
pub fn stream_of(
    mut rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn stream_csv(
    db: &Db,
    survey: &Survey,
    layout: &Layout,
    tz: chrono_tz::Tz,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> anyhow::Result<()> {
    // A fresh writer per page: its buffer is what goes down the wire.
    let mut w = csv::Writer::from_writer(Vec::with_capacity(1 << 16));
    w.write_record(layout.header())?;
    let mut record: Vec<String> = Vec::with_capacity(64);
    if layout.employee {
        let mut after = String::new();
        loop {
            let rows = employee_page(db, survey, &after).await?;
            let n = rows.len() as i64;
            for (token, day, version, language, answers) in rows {
                after = token;
                let answers: Answers = serde_json::from_str(&answers).unwrap_or_default();
                record.clear();
                record.extend([day, version.to_string(), language]);
                layout.answers(&answers, &mut record);
                w.write_record(&record)?;
            }
            flush(&mut w, tx).await?;
            if n < PAGE {
                break;
            }
        }
    } else {
        // Each page is read while the one before it is written out.
        let mut rows = page_of(db, survey, 0).await?;
        loop {
            let n = rows.len() as i64;
            let after = rows.last().map_or(0, |r| r.id);
            let next = async {
                if n < PAGE {
                    Ok(Vec::new())
                } else {
                    page_of(db, survey, after).await
                }
            };
            let (next, written) = tokio::join!(next, async {
                write_rows(&mut w, &mut record, rows, layout, tz)?;
                flush(&mut w, tx).await
            });
            written?;
            if n < PAGE {
                break;
            }
            rows = next?;
        }
    }
    flush(&mut w, tx).await?;
    Ok(())
}

/// Writes one page of responses to the CSV writer.
fn write_rows(
    w: &mut csv::Writer<Vec<u8>>,
    record: &mut Vec<String>,
    rows: Vec<ExportRow>,
    layout: &Layout,
    tz: chrono_tz::Tz,
) -> anyhow::Result<()> {
    for r in rows {
        let answers: Answers = serde_json::from_str(&r.answers).unwrap_or_default();
        record.clear();
        record.extend([
            r.id.to_string(),
            iso(r.submitted_at, tz),
            r.version.to_string(),
            r.channel,
            r.language,
            r.status,
            r.officer_id.map(|o| o.to_string()).unwrap_or_default(),
            r.call_type.unwrap_or_default(),
            r.district.unwrap_or_default(),
        ]);
        layout.answers(&answers, record);
        w.write_record(&*record)?;
    }
    Ok(())
}

async fn flush(
    w: &mut csv::Writer<Vec<u8>>,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> anyhow::Result<()> {
    let full = std::mem::replace(w, csv::Writer::from_writer(Vec::with_capacity(1 << 16)));
    let buf = full
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing CSV: {e}"))?;
    if !buf.is_empty() {
        tx.send(Ok(Bytes::from(buf)))
            .await
            .map_err(|_| anyhow::anyhow!("the client went away"))?;
    }
    Ok(())
}
