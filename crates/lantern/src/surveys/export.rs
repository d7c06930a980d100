//! Exports: one row per response, one column per question (codes, and labels beside them for
//! choice questions), streamed page by page so memory stays flat however many responses a
//! survey has. Every export is recorded in the audit chain.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::mpsc;

use serde::Deserialize;

use super::model::{Answer, Definition, Kind, QuestionKind};
use super::store::{self, Survey};
use crate::on_db;
use crate::platform::audit::{self, Event};
use crate::platform::csv_out::CsvOut;
use crate::platform::db::Db;
use crate::platform::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::ctx::Ctx;

const PAGE: i64 = 5_000;

/// The columns of an export: fixed facts, then each question (choice questions twice: code
/// and label).
pub struct Layout {
    pub def: Arc<Definition>,
    pub employee: bool,
    /// Per exported question: its choices' English labels by value (none for a question
    /// without choices). Worked out once, not for each of a million rows.
    labels: Vec<(String, Option<HashMap<String, String>>)>,
    /// Indexes into `labels`, in key order (stored answers come in key order).
    by_key: Vec<usize>,
}

impl Layout {
    pub fn new(def: Arc<Definition>, employee: bool) -> Layout {
        let labels: Vec<(String, Option<HashMap<String, String>>)> = def
            .questions()
            .filter(|q| !matches!(q.kind, QuestionKind::Note))
            .map(|q| {
                let labels = q.kind.is_categorical().then(|| {
                    q.kind
                        .choices()
                        .into_iter()
                        .map(|c| (c.value, c.label.en))
                        .collect()
                });
                (q.key.clone(), labels)
            })
            .collect();
        let mut by_key: Vec<usize> = (0..labels.len()).collect();
        by_key.sort_by(|a: &usize, b: &usize| labels[*a].0.cmp(&labels[*b].0));
        Layout {
            def,
            employee,
            labels,
            by_key,
        }
    }

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

    /// Writes the answer columns of one row from its stored JSON (the caller ends the record).
    pub fn answers<W: std::io::Write>(&self, json: &str, w: &mut CsvOut<W>) -> csv::Result<()> {
        let mut stored: StoredAnswers = serde_json::from_str(json).unwrap_or_default();
        if !stored.0.is_sorted_by(|a, b| a.0 <= b.0) {
            stored.0.sort_by(|a, b| a.0.cmp(&b.0));
        }
        // Both lists in key order: one walk finds each question's answer.
        let mut slots: Vec<Option<&RawAnswer>> = vec![None; self.labels.len()];
        let mut answers = stored.0.iter().peekable();
        for &i in &self.by_key {
            let key = self.labels[i].0.as_str();
            while answers.next_if(|(k, _)| k.as_ref() < key).is_some() {}
            if let Some((_, a)) = answers.next_if(|(k, _)| k.as_ref() == key) {
                slots[i] = Some(a);
            }
        }
        for ((_, labels), a) in self.labels.iter().zip(slots) {
            match a {
                Some(RawAnswer::One(v)) => w.text(v)?,
                Some(RawAnswer::Number(x)) => w.number(*x)?,
                Some(RawAnswer::Many(values)) => w.text(
                    &values
                        .iter()
                        .map(|v| v.as_ref())
                        .collect::<Vec<_>>()
                        .join(";"),
                )?,
                None => w.empty()?,
            }
            if let Some(labels) = labels {
                let label = |v: &str| labels.get(v).map_or(v, String::as_str).to_string();
                match a {
                    Some(RawAnswer::One(v)) => w.text(&label(v))?,
                    Some(RawAnswer::Many(values)) => w.text(
                        &values
                            .iter()
                            .map(|v| label(v))
                            .collect::<Vec<_>>()
                            .join(";"),
                    )?,
                    _ => w.empty()?,
                }
            }
        }
        Ok(())
    }
}

/// A stored answer read without copying its text where the JSON has no escapes: the same
/// three shapes as [`Answer`].
#[derive(Debug, PartialEq)]
enum RawAnswer<'a> {
    Number(f64),
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

/// A response's stored answers, in the order stored (key order).
#[derive(Debug, Default)]
struct StoredAnswers<'a>(Vec<(Cow<'a, str>, RawAnswer<'a>)>);

/// A string that borrows from the JSON text when it can.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for RawAnswer<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawAnswer<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, a string or a list of strings")
            }
            fn visit_f64<E>(self, v: f64) -> Result<RawAnswer<'de>, E> {
                Ok(RawAnswer::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<RawAnswer<'de>, E> {
                Ok(RawAnswer::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RawAnswer<'de>, E> {
                Ok(RawAnswer::Number(v as f64))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<RawAnswer<'de>, E> {
                Ok(RawAnswer::One(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<RawAnswer<'de>, E> {
                Ok(RawAnswer::One(Cow::Owned(v.to_string())))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawAnswer<'de>, A::Error> {
                let mut values = Vec::new();
                while let Some(Text(v)) = seq.next_element()? {
                    values.push(v);
                }
                Ok(RawAnswer::Many(values))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for StoredAnswers<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StoredAnswers<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("answers by question key")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<StoredAnswers<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((Text(k), v)) = map.next_entry()? {
                    out.push((k, v));
                }
                Ok(StoredAnswers(out))
            }
        }
        d.deserialize_map(V)
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

/// Local ISO 8601 times (`2026-05-31T14:05:00-07:00`) for many instants in a row: the zone's
/// offset is looked up once per quarter hour of UTC time, not for every row.
struct IsoTimes {
    tz: chrono_tz::Tz,
    hour: i64,
    offset: i32,
}

impl IsoTimes {
    fn new(tz: chrono_tz::Tz) -> IsoTimes {
        IsoTimes {
            tz,
            hour: i64::MIN,
            offset: 0,
        }
    }

    fn format(&mut self, unix: i64) -> String {
        use chrono::{Offset, TimeZone};
        let Some(utc) = chrono::DateTime::from_timestamp(unix, 0) else {
            return String::new();
        };
        // Zone offsets change on a quarter hour of UTC time, never within one.
        let hour = unix.div_euclid(900);
        if hour != self.hour {
            self.offset = self
                .tz
                .offset_from_utc_datetime(&utc.naive_utc())
                .fix()
                .local_minus_utc();
            self.hour = hour;
        }
        let local = utc.naive_utc() + chrono::TimeDelta::seconds(i64::from(self.offset));
        let (sign, off) = if self.offset < 0 {
            ('-', -self.offset)
        } else {
            ('+', self.offset)
        };
        use chrono::{Datelike, Timelike};
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            local.year(),
            local.month(),
            local.day(),
            local.hour(),
            local.minute(),
            local.second(),
            off / 3600,
            off % 3600 / 60
        )
    }
}

#[derive(Deserialize, Default)]
pub struct ExportQuery {
    /// `comments`: a staff survey's free-text answers, apart from everything else.
    #[serde(default)]
    part: String,
}

/// `GET …/export.csv`: the survey's responses as CSV, streamed. A staff survey's export is
/// made anonymous first ([`staff_export`]); `?part=comments` gives its free text.
pub async fn csv(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    Query(q): Query<ExportQuery>,
) -> AppResult<Response> {
    let agency = ctx.agency()?.clone();
    let survey = store::get(&state.db, agency.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let version_id = survey
        .current_version
        .ok_or_else(|| AppError::BadRequest("The survey has no published version yet".into()))?;
    let version = state
        .surveys()
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
        .detail(serde_json::json!({"format": "csv", "part": q.part}))
        .ip(ctx.ip().as_deref()),
    )
    .await?;
    if survey.kind() == Kind::Employee {
        let k = super::staff::anonymity_threshold(&agency);
        let export = staff_export(&state.db, &survey, &version.definition, k).await?;
        let (body, name) = if q.part == "comments" {
            (export.comments_csv()?, format!("survey-{id}-comments.csv"))
        } else {
            (export.rows_csv()?, format!("survey-{id}-responses.csv"))
        };
        return Ok(super::staff::download(
            Body::from(body),
            "text/csv; charset=utf-8",
            &name,
        ));
    }
    if !q.part.is_empty() {
        return Err(AppError::invalid(
            "part",
            "Only staff surveys export their comments apart.",
        ));
    }
    let layout = Layout::new(version.definition.clone(), false);
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
    let mut w = CsvOut::buffer();
    w.texts(layout.header().iter().map(String::as_str))?;
    let mut iso = IsoTimes::new(tz);
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
            write_rows(&mut w, &mut iso, rows, layout)?;
            flush(&mut w, tx).await
        });
        written?;
        if n < PAGE {
            break;
        }
        rows = next?;
    }
    flush(&mut w, tx).await?;
    Ok(())
}

/// Writes one page of responses to the CSV writer.
fn write_rows(
    w: &mut CsvOut<Vec<u8>>,
    iso: &mut IsoTimes,
    rows: Vec<ExportRow>,
    layout: &Layout,
) -> anyhow::Result<()> {
    for r in rows {
        w.int(r.id)?;
        w.text(&iso.format(r.submitted_at))?;
        w.int(r.version)?;
        w.text(&r.channel)?;
        w.text(&r.language)?;
        w.text(&r.status)?;
        w.opt_int(r.officer_id)?;
        w.text(r.call_type.as_deref().unwrap_or_default())?;
        w.text(r.district.as_deref().unwrap_or_default())?;
        layout.answers(&r.answers, w)?;
        w.end()?;
    }
    Ok(())
}

async fn flush(
    w: &mut CsvOut<Vec<u8>>,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> anyhow::Result<()> {
    let buf = w.take()?;
    if !buf.is_empty() {
        tx.send(Ok(Bytes::from(buf)))
            .await
            .map_err(|_| anyhow::anyhow!("the client went away"))?;
    }
    Ok(())
}

/// A column of a staff survey's rows that a colleague could know about a person, and so
/// could pick them out by: the month they answered (the stored day is too fine to give at
/// all), the survey version (versions follow one another in time), the language, and the
/// answer to a question that places a person (a choice, such as assignment or tenure, or a
/// date). Scales and numbers describe an opinion, not a person, and are not among them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identifying {
    Question(String),
    Language,
    Version,
    Month,
}

impl Identifying {
    pub fn name(&self) -> &str {
        match self {
            Identifying::Question(key) => key,
            Identifying::Language => "language",
            Identifying::Version => "version",
            Identifying::Month => "month",
        }
    }
}

/// One staff response as it is stored (only the day is known).
#[derive(Clone, Debug)]
pub struct StaffResponse {
    pub day: String,
    pub version: i64,
    pub language: String,
    pub answers: super::model::Answers,
}

impl StaffResponse {
    fn value(&self, column: &Identifying) -> String {
        match column {
            Identifying::Question(key) => self
                .answers
                .get(key)
                .map(Answer::to_cell)
                .unwrap_or_default(),
            Identifying::Language => self.language.clone(),
            Identifying::Version => self.version.to_string(),
            Identifying::Month => self.day.get(..7).unwrap_or_default().to_string(),
        }
    }
}

/// A staff survey's responses as its exports give them, so that no one can be singled out:
///
/// - every combination of the identifying columns left in the rows is shared by at least
///   `k` respondents (the anonymity threshold): columns are kept in order (the survey's
///   identifying questions, then language, version and month) only while that holds, and the
///   others are left out of the file; with fewer than `k` responses there are no rows at all;
/// - free text is not in the rows: it goes to a list of its own, in random order, with
///   nothing else from the response beside it;
/// - the day is never given, at most the month.
pub struct StaffExport {
    pub k: u64,
    /// The identifying columns kept in the rows.
    pub kept: Vec<Identifying>,
    /// Identifying columns left out, because a group smaller than `k` would show.
    pub dropped: Vec<Identifying>,
    /// The other questions of the rows (opinions on scales, numbers).
    pub answer_columns: Vec<String>,
    /// The questions in the rows, in the survey's order, with their choices' English labels
    /// by value for choice questions.
    columns: Vec<(String, Option<HashMap<String, String>>)>,
    pub rows: Vec<StaffResponse>,
    /// (question key, comment), shuffled.
    pub comments: Vec<(String, String)>,
}

/// Whether every combination of `columns` among `rows` is shared by at least `k` of them.
pub fn k_anonymous(rows: &[StaffResponse], columns: &[Identifying], k: u64) -> bool {
    let mut classes: HashMap<Vec<String>, u64> = HashMap::new();
    for r in rows {
        *classes
            .entry(columns.iter().map(|c| r.value(c)).collect())
            .or_insert(0) += 1;
    }
    classes.values().all(|n| *n >= k)
}

/// Makes a staff survey's rows anonymous (see [`StaffExport`]).
pub fn anonymise(def: &Definition, mut rows: Vec<StaffResponse>, k: u64) -> StaffExport {
    let k = k.max(1);
    let mut candidates: Vec<Identifying> = def
        .questions()
        .filter(|q| {
            matches!(
                q.kind,
                QuestionKind::SingleChoice { .. }
                    | QuestionKind::MultipleChoice { .. }
                    | QuestionKind::Demographic { .. }
                    | QuestionKind::Date
            )
        })
        .map(|q| Identifying::Question(q.key.clone()))
        .collect();
    candidates.extend([
        Identifying::Language,
        Identifying::Version,
        Identifying::Month,
    ]);
    let answer_columns: Vec<String> = def
        .questions()
        .filter(|q| {
            !matches!(q.kind, QuestionKind::Note | QuestionKind::Text { .. })
                && !candidates.contains(&Identifying::Question(q.key.clone()))
        })
        .map(|q| q.key.clone())
        .collect();
    let text_keys: Vec<&str> = def
        .questions()
        .filter(|q| matches!(q.kind, QuestionKind::Text { .. }))
        .map(|q| q.key.as_str())
        .collect();
    let mut kept: Vec<Identifying> = Vec::new();
    let mut dropped = Vec::new();
    if (rows.len() as u64) < k {
        rows.clear();
        dropped = candidates;
    } else {
        for c in candidates {
            kept.push(c);
            if !k_anonymous(&rows, &kept, k) {
                dropped.extend(kept.pop());
            }
        }
    }
    let columns = def
        .questions()
        .filter(|q| {
            answer_columns.contains(&q.key) || kept.contains(&Identifying::Question(q.key.clone()))
        })
        .map(|q| {
            let labels = q.kind.is_categorical().then(|| {
                q.kind
                    .choices()
                    .into_iter()
                    .map(|c| (c.value, c.label.en))
                    .collect()
            });
            (q.key.clone(), labels)
        })
        .collect();
    let mut comments = Vec::new();
    for r in &mut rows {
        for key in &text_keys {
            if let Some(Answer::One(text)) = r.answers.remove(*key)
                && !text.trim().is_empty()
            {
                comments.push((key.to_string(), text));
            }
        }
        r.answers.retain(|key, _| {
            answer_columns.contains(key) || kept.contains(&Identifying::Question(key.clone()))
        });
    }
    let mut rng = fastrand::Rng::with_seed(u64::from_le_bytes(
        crate::platform::secrets::random_bytes::<8>(),
    ));
    rng.shuffle(&mut comments);
    rng.shuffle(&mut rows);
    StaffExport {
        k,
        kept,
        dropped,
        answer_columns,
        columns,
        rows,
        comments,
    }
}

/// Reads a staff survey's responses and makes them anonymous. Staff surveys are small (a
/// wave is at most an agency's staff), so they are read whole: whether a column may be kept
/// depends on every row.
pub async fn staff_export(
    db: &Db,
    survey: &Survey,
    def: &Definition,
    k: u64,
) -> anyhow::Result<StaffExport> {
    let mut rows = Vec::new();
    let mut after = String::new();
    loop {
        let page = employee_page(db, survey, &after).await?;
        let n = page.len() as i64;
        for (token, day, version, language, answers) in page {
            after = token;
            rows.push(StaffResponse {
                day,
                version,
                language,
                answers: serde_json::from_str(&answers)?,
            });
        }
        if n < PAGE {
            break;
        }
    }
    Ok(anonymise(def, rows, k))
}

impl StaffExport {
    /// The identifying columns that are not questions, in the file's order.
    fn fact_columns(&self) -> Vec<Identifying> {
        [
            Identifying::Month,
            Identifying::Version,
            Identifying::Language,
        ]
        .into_iter()
        .filter(|c| self.kept.contains(c))
        .collect()
    }

    /// The header of the rows: the facts kept, then each question (choice questions twice:
    /// code and label).
    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = self
            .fact_columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        for (key, labels) in &self.columns {
            h.push(key.clone());
            if labels.is_some() {
                h.push(format!("{key}_label"));
            }
        }
        h
    }

    pub fn rows_csv(&self) -> csv::Result<Vec<u8>> {
        let mut w = CsvOut::buffer();
        w.texts(self.header().iter().map(String::as_str))?;
        let facts = self.fact_columns();
        for r in &self.rows {
            for c in &facts {
                match c {
                    Identifying::Version => w.int(r.version)?,
                    c => w.text(&r.value(c))?,
                }
            }
            for (key, labels) in &self.columns {
                let a = r.answers.get(key);
                match a {
                    Some(Answer::Number(x)) => w.number(*x)?,
                    Some(a) => w.text(&a.to_cell())?,
                    None => w.empty()?,
                }
                if let Some(labels) = labels {
                    let label = |v: &String| labels.get(v).unwrap_or(v).clone();
                    match a {
                        Some(Answer::One(v)) => w.text(&label(v))?,
                        Some(Answer::Many(values)) => {
                            w.text(&values.iter().map(label).collect::<Vec<_>>().join(";"))?
                        }
                        _ => w.empty()?,
                    }
                }
            }
            w.end()?;
        }
        w.into_inner()
    }

    pub fn comments_csv(&self) -> csv::Result<Vec<u8>> {
        let mut w = CsvOut::buffer();
        w.texts(["question", "comment"])?;
        for (key, text) in &self.comments {
            w.text(key)?;
            w.text(text)?;
            w.end()?;
        }
        w.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surveys::model::Answers;

    /// The borrowed reading of stored answers writes the same columns as the owned one,
    /// escapes and all.
    #[test]
    fn stored_answers_read_like_answers() {
        let answers: Answers = [
            ("b_num".to_string(), Answer::Number(7.0)),
            (
                "a_text".to_string(),
                Answer::One("say \"hi\"\nthere".into()),
            ),
            (
                "c_many".to_string(),
                Answer::Many(vec!["x".into(), "y\\z".into()]),
            ),
        ]
        .into_iter()
        .collect();
        let json = serde_json::to_string(&answers).unwrap();
        let stored: StoredAnswers = serde_json::from_str(&json).unwrap();
        assert_eq!(
            stored.0,
            vec![
                (
                    Cow::Borrowed("a_text"),
                    RawAnswer::One(Cow::Owned("say \"hi\"\nthere".into()))
                ),
                (Cow::Borrowed("b_num"), RawAnswer::Number(7.0)),
                (
                    Cow::Borrowed("c_many"),
                    RawAnswer::Many(vec![Cow::Borrowed("x"), Cow::Owned("y\\z".into())])
                ),
            ]
        );
        assert!(matches!(stored.0[1].0, Cow::Borrowed(_)), "keys borrowed");
    }

    /// Generated staff surveys with small groups (random assignments, tenures, languages and
    /// days, skewed so that some groups are tiny): after anonymising, every combination of
    /// the identifying columns left in the rows, taken any number at a time, is shared by at
    /// least k respondents, no day or comment is left in a row, and every comment is listed.
    #[test]
    fn staff_rows_are_k_anonymous_over_every_combination_of_columns() {
        use crate::surveys::templates::Template;
        let def = Template::EmployeeEngagement.definition();
        let pick = |rng: &mut fastrand::Rng, options: &[&str]| -> String {
            // Skewed: the first option most often, the last rarely.
            let i = (rng.f64().powi(2) * options.len() as f64) as usize;
            options[i.min(options.len() - 1)].to_string()
        };
        for seed in 0..300u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let k = rng.u64(3..=6);
            let n = rng.usize(0..40);
            let rows: Vec<StaffResponse> = (0..n)
                .map(|i| {
                    let mut answers = crate::surveys::model::Answers::new();
                    for (key, options) in [
                        (
                            "assignment",
                            &["patrol", "investigations", "support", "command"][..],
                        ),
                        ("tenure", &["5-14", "0-4", "15+"][..]),
                        ("stress", &["sometimes", "often", "rarely", "always"][..]),
                    ] {
                        if rng.u8(0..10) > 0 {
                            answers.insert(key.into(), Answer::One(pick(&mut rng, options)));
                        }
                    }
                    answers.insert(
                        "morale_proud".into(),
                        Answer::One(rng.u8(1..=5).to_string()),
                    );
                    answers.insert("comments".into(), Answer::One(format!("comment {i}")));
                    StaffResponse {
                        day: format!("2026-{:02}-{:02}", rng.u8(5..=6), rng.u8(1..=28)),
                        version: if rng.u8(0..8) == 0 { 2 } else { 1 },
                        language: pick(&mut rng, &["en", "es"]),
                        answers,
                    }
                })
                .collect();
            let export = anonymise(&def, rows, k);
            if (n as u64) < k {
                assert!(
                    export.rows.is_empty() && export.comments.is_empty(),
                    "seed {seed}"
                );
                continue;
            }
            assert_eq!(export.rows.len(), n);
            assert_eq!(export.comments.len(), n, "seed {seed}");
            let m = export.kept.len();
            for subset in 0u32..(1 << m) {
                let columns: Vec<Identifying> = (0..m)
                    .filter(|i| subset & (1 << i) != 0)
                    .map(|i| export.kept[i].clone())
                    .collect();
                assert!(
                    k_anonymous(&export.rows, &columns, k),
                    "seed {seed}, k {k}: {columns:?} singles out a group"
                );
            }
            // What the file holds is what was checked: its identifying columns are the kept
            // ones, and its rows carry no day and no comment.
            let csv = String::from_utf8(export.rows_csv().unwrap()).unwrap();
            let header = csv.lines().next().unwrap();
            for c in &export.dropped {
                assert!(
                    !header.split(',').any(|h| h == c.name()),
                    "seed {seed}: {header}"
                );
            }
            assert!(!csv.contains("comment "), "seed {seed}");
            assert!(
                !csv.lines().any(|l| l
                    .split(',')
                    .any(|f| f.len() == 10 && f.starts_with("2026-"))),
                "seed {seed}: a day in {csv}"
            );
        }
    }

    /// The fast formatter writes what chrono's own formatting writes, across daylight-saving
    /// changes in both directions and in a zone with a half-hour offset.
    #[test]
    fn iso_times_match_chrono() {
        for tz in [
            chrono_tz::America::Los_Angeles,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::UTC,
        ] {
            let mut iso = IsoTimes::new(tz);
            // Every 7 minutes through 2026, which crosses both US changes.
            let start = 1_767_225_600; // 2026-01-01T00:00:00Z
            for unix in (start..start + 366 * 86_400).step_by(7 * 60) {
                let want = chrono::DateTime::from_timestamp(unix, 0)
                    .unwrap()
                    .with_timezone(&tz)
                    .format("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string();
                assert_eq!(iso.format(unix), want, "{tz} at {unix}");
            }
        }
    }
}
