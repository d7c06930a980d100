//! The pages and the API of post-contact invitations: a survey's contacts page (CSV upload,
//! counts by status, masked recent contacts, send now, retry failed), the delivery settings
//! page under Settings, `POST /api/v1/contacts`, and the resident's opt-out page.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::contacts::{self, ImportSummary, REASONS, Refusal};
use super::delivery::{self, Settings};
use super::model::Kind;
use super::store::{self, Survey};
use super::{links, respond};
use crate::platform::audit::{self, Event};
use crate::platform::error::{AppError, AppResult, FieldError};
use crate::platform::policy::Permission;
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::errors::Problem;
use crate::web::forms::FormErrors;
use crate::web::page;
use crate::{on_db, on_tx};

/// Largest CSV upload the contacts page takes.
const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/{agency}/staff/surveys/{id}/contacts",
            get(contacts_page)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route(
            "/{agency}/staff/surveys/{id}/contacts/deliver",
            post(deliver_now),
        )
        .route("/{agency}/staff/surveys/{id}/contacts/retry", post(retry))
        .route(
            "/{agency}/staff/settings/post-contact",
            get(settings_page).post(save_settings),
        )
        .route(
            "/{agency}/i/{token}/opt-out",
            get(opt_out_form).post(opt_out),
        )
        .route(
            "/api/v1/contacts",
            post(api_import).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
}

/// A post-contact survey of the agency (anything else is not found here).
async fn post_contact(state: &AppState, ctx: &Ctx, id: i64) -> AppResult<Survey> {
    let survey = super::staff::load(state, ctx, id).await?;
    if survey.kind() != Kind::PostContact {
        return Err(AppError::NotFound);
    }
    Ok(survey)
}

/// Imports need an open survey: invitations to a draft or closed one could not be answered.
fn check_open(survey: &Survey) -> Result<(), String> {
    if survey.is_open() {
        Ok(())
    } else {
        Err("Publish the survey (or reopen it) before importing contacts: invitations to a survey that is not open cannot be answered.".into())
    }
}

// ---------------------------------------------------------------------------------------------
// The contacts page

/// One line of the counts table.
pub struct Count {
    pub key: String,
    pub label: &'static str,
    pub count: i64,
}

pub struct ContactRow {
    pub incident: String,
    pub occurred: String,
    pub call_type: String,
    pub district: String,
    pub officer: String,
    pub address: String,
    pub language: String,
    pub status: String,
    pub bad: bool,
    pub sent: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "surveys/contacts.html")]
struct ContactsPage<'a> {
    ctx: &'a Ctx,
    survey: &'a Survey,
    counts: Vec<Count>,
    rows: Vec<ContactRow>,
    filter: String,
    filter_label: String,
    settings: Settings,
    email_to: Option<String>,
    sms_to: Option<String>,
    transport_problems: Vec<String>,
    public_url_missing: bool,
    can_edit_settings: bool,
    message: Option<String>,
    summary: Option<ImportSummary>,
    problems: Vec<String>,
    errors: FormErrors,
}

/// Statuses an invitation can be in, as the page counts and filters them.
const STATUSES: [(&str, &str); 7] = [
    ("pending", "Waiting to be sent"),
    ("sent", "Sent, not answered"),
    ("reminded", "Reminded, not answered"),
    ("responded", "Answered"),
    ("expired", "Expired unanswered"),
    ("opted_out", "Opted out"),
    ("failed", "Failed"),
];

fn label_of(key: &str) -> Option<&'static str> {
    STATUSES
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .or_else(|| {
            key.strip_prefix("skip:")
                .and_then(|r| REASONS.iter().find(|(k, _)| *k == r))
                .map(|(_, l)| *l)
        })
}

/// Invitations by status and contacts not invited by reason, for one survey.
pub async fn counts(state: &AppState, agency_id: i64, survey_id: i64) -> AppResult<Vec<Count>> {
    let invitations: Vec<(String, i64, i64)> = on_db!(&state.db, |pool| {
        sqlx::query_as(
            "SELECT status, CAST(CASE WHEN reminded_at IS NULL THEN 0 ELSE 1 END AS BIGINT), COUNT(*) \
             FROM invitations WHERE agency_id = $1 AND survey_id = $2 GROUP BY 1, 2",
        )
        .bind(agency_id)
        .bind(survey_id)
        .fetch_all(pool)
        .await
    })?;
    let skipped: Vec<(String, i64)> = on_db!(&state.db, |pool| {
        sqlx::query_as(
            "SELECT excluded_reason, COUNT(*) FROM contacts \
             WHERE agency_id = $1 AND survey_id = $2 AND excluded_reason IS NOT NULL GROUP BY 1",
        )
        .bind(agency_id)
        .bind(survey_id)
        .fetch_all(pool)
        .await
    })?;
    let mut out: Vec<Count> = STATUSES
        .iter()
        .map(|(key, label)| Count {
            key: key.to_string(),
            label,
            count: 0,
        })
        .collect();
    for (status, reminded, n) in invitations {
        let key = if status == "sent" && reminded == 1 {
            "reminded"
        } else {
            status.as_str()
        };
        if let Some(c) = out.iter_mut().find(|c| c.key == key) {
            c.count += n;
        }
    }
    for (reason, label) in REASONS {
        out.push(Count {
            key: format!("skip:{reason}"),
            label,
            count: skipped
                .iter()
                .filter(|(r, _)| r == reason)
                .map(|(_, n)| *n)
                .sum(),
        });
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct Listed {
    incident_number: String,
    occurred_at: i64,
    call_type: String,
    district: String,
    officer_badge: String,
    phone: Option<String>,
    email: Option<String>,
    language: String,
    excluded_reason: Option<String>,
    purged_at: Option<i64>,
    status: Option<String>,
    channel: Option<String>,
    sent_at: Option<i64>,
    reminded_at: Option<i64>,
    responded_at: Option<i64>,
    error: Option<String>,
}

/// The newest contacts of a survey, optionally of one status.
async fn recent(
    state: &AppState,
    agency: &crate::platform::agencies::Agency,
    survey_id: i64,
    filter: &str,
) -> AppResult<Vec<ContactRow>> {
    let condition = match filter {
        "" => "",
        "reminded" => " AND i.status = 'sent' AND i.reminded_at IS NOT NULL",
        "sent" => " AND i.status = 'sent' AND i.reminded_at IS NULL",
        f if f.starts_with("skip:") => " AND c.excluded_reason = $3",
        _ => " AND i.status = $3",
    };
    let value = filter.strip_prefix("skip:").unwrap_or(filter).to_string();
    let sql = format!(
        "SELECT c.incident_number, c.occurred_at, c.call_type, c.district, c.officer_badge, c.phone, c.email, \
         c.language, c.excluded_reason, c.purged_at, i.status, i.channel, i.sent_at, i.reminded_at, i.responded_at, i.error \
         FROM contacts c LEFT JOIN invitations i \
         ON i.agency_id = c.agency_id AND i.contact_id = c.id AND i.survey_id = c.survey_id \
         WHERE c.agency_id = $1 AND c.survey_id = $2{condition} ORDER BY c.id DESC LIMIT 100"
    );
    let rows: Vec<Listed> = on_db!(&state.db, |pool| {
        let q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(agency.id)
            .bind(survey_id);
        let q = if condition.contains("$3") {
            q.bind(value.as_str())
        } else {
            q
        };
        q.fetch_all(pool).await
    })?;
    let tz = agency.tz();
    let when = |t: Option<i64>| {
        t.map(|t| crate::platform::clock::format_unix(t, tz))
            .unwrap_or_default()
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let status_key = match (&r.status, &r.excluded_reason) {
                (Some(s), _) if s == "sent" && r.reminded_at.is_some() => "reminded".to_string(),
                (Some(s), _) => s.clone(),
                (None, Some(reason)) => format!("skip:{reason}"),
                (None, None) => String::new(),
            };
            let address = if r.phone.is_none() && r.email.is_none() {
                if r.excluded_reason.is_some() {
                    "not kept".to_string()
                } else if r.purged_at.is_some() {
                    "erased".to_string()
                } else {
                    String::new()
                }
            } else {
                contacts::mask(r.phone.as_deref(), r.email.as_deref())
            };
            let sent = match (r.responded_at, r.reminded_at, r.sent_at) {
                (Some(t), _, _) => format!("answered {}", when(Some(t))),
                (None, Some(t), _) => format!("reminded {}", when(Some(t))),
                (None, None, Some(t)) => format!(
                    "{} {}",
                    if r.channel.as_deref() == Some("sms") {
                        "texted"
                    } else {
                        "e-mailed"
                    },
                    when(Some(t))
                ),
                _ => String::new(),
            };
            ContactRow {
                incident: r.incident_number,
                occurred: when(Some(r.occurred_at)),
                call_type: r.call_type,
                district: r.district,
                officer: r.officer_badge,
                address,
                language: r.language,
                bad: status_key == "failed",
                status: label_of(&status_key).unwrap_or("").to_string(),
                sent,
                error: r.error.unwrap_or_default(),
            }
        })
        .collect())
}

#[derive(Deserialize, Default)]
pub struct ContactsQuery {
    #[serde(default)]
    status: String,
}

struct Shown {
    message: Option<String>,
    summary: Option<ImportSummary>,
    problems: Vec<String>,
    errors: FormErrors,
}

async fn render(
    state: &AppState,
    ctx: &Ctx,
    survey: &Survey,
    filter: &str,
    shown: Shown,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let filter = if label_of(filter).is_some() {
        filter
    } else {
        ""
    };
    let transports = &state.surveys().delivery.transports;
    page(ContactsPage {
        ctx,
        survey,
        counts: counts(state, agency.id, survey.id).await?,
        rows: recent(state, agency, survey.id, filter).await?,
        filter: filter.to_string(),
        filter_label: label_of(filter).unwrap_or("").to_string(),
        settings: delivery::settings(&state.db, agency.id).await?,
        email_to: transports.describe("email"),
        sms_to: transports.describe("sms"),
        transport_problems: transports.problems.clone(),
        public_url_missing: state.config.public_url.is_none(),
        can_edit_settings: ctx.can(Permission::ManageSettings),
        message: shown.message,
        summary: shown.summary,
        problems: shown.problems,
        errors: shown.errors,
    })
}

async fn contacts_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    Query(q): Query<ContactsQuery>,
) -> AppResult<Response> {
    let survey = post_contact(&state, &ctx, id).await?;
    let shown = Shown {
        message: None,
        summary: None,
        problems: Vec::new(),
        errors: FormErrors::default(),
    };
    render(&state, &ctx, &survey, &q.status, shown).await
}

/// A CSV upload (multipart: the CSRF token travels in the query string).
async fn upload(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let survey = post_contact(&state, &ctx, id).await?;
    let mut file: Option<(String, Bytes)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?
    {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("contacts.csv").to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?;
            file = Some((name, bytes));
        }
    }
    let refuse = |problems: Vec<String>, errors: FormErrors| Shown {
        message: None,
        summary: None,
        problems,
        errors,
    };
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        let shown = refuse(
            Vec::new(),
            FormErrors(vec![FieldError::new(
                "file",
                "Choose a CSV file of contacts",
            )]),
        );
        return unprocessable(render(&state, &ctx, &survey, "", shown).await);
    };
    if let Err(e) = check_open(&survey) {
        return unprocessable(
            render(
                &state,
                &ctx,
                &survey,
                "",
                refuse(vec![e], FormErrors::default()),
            )
            .await,
        );
    }
    let now = state.clock.unix();
    let (events, ignored) = match contacts::parse_csv(&bytes, agency.tz(), now) {
        Ok(parsed) => parsed,
        Err(refusal) => {
            let shown = refuse(refusal.lines(), FormErrors::default());
            return unprocessable(render(&state, &ctx, &survey, "", shown).await);
        }
    };
    let settings = delivery::settings(&state.db, agency.id).await?;
    let summary = contacts::import(
        &state.db,
        &state.key,
        &survey,
        &settings,
        events,
        &name,
        &ctx.actor(),
        ctx.ip().as_deref(),
        now,
    )
    .await?;
    state.surveys().delivery.wake();
    let mut message = format!("Imported {name}.");
    if !ignored.is_empty() {
        message.push_str(&format!(" Columns not used: {}.", ignored.join(", ")));
    }
    let shown = Shown {
        message: Some(message),
        summary: Some(summary),
        problems: Vec::new(),
        errors: FormErrors::default(),
    };
    render(&state, &ctx, &survey, "", shown).await
}

fn unprocessable(r: AppResult<Response>) -> AppResult<Response> {
    let mut r = r?;
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(r)
}

/// Runs a delivery pass now and shows what it did.
async fn deliver_now(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    let survey = post_contact(&state, &ctx, id).await?;
    let pass = delivery::deliver(&state, ctx.agency()?).await?;
    let mut message = format!("Delivery pass: {pass}.");
    for w in &pass.waiting {
        message.push_str(&format!(" {w}."));
    }
    let shown = Shown {
        message: Some(message),
        summary: None,
        problems: Vec::new(),
        errors: FormErrors::default(),
    };
    render(&state, &ctx, &survey, "", shown).await
}

/// Puts this survey's failed invitations back in the queue (after fixing the mail settings,
/// say) and asks for a pass.
async fn retry(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let survey = post_contact(&state, &ctx, id).await?;
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    let n = on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE invitations SET status = 'pending', claimed_at = NULL \
             WHERE agency_id = $1 AND survey_id = $2 AND status = 'failed' AND expires_at > $3",
        )
        .bind(agency.id)
        .bind(survey.id)
        .bind(now)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(
            &ctx.actor(),
            "invitations.retried",
            format!("survey:{}", survey.id),
        )
        .detail(serde_json::json!({"invitations": n}))
        .ip(ctx.ip().as_deref()),
    )
    .await?;
    tx.commit().await?;
    state.surveys().delivery.wake();
    let shown = Shown {
        message: Some(format!(
            "{n} failed invitations are waiting to be sent again."
        )),
        summary: None,
        problems: Vec::new(),
        errors: FormErrors::default(),
    };
    render(&state, &ctx, &survey, "", shown).await
}

// ---------------------------------------------------------------------------------------------
// Settings → Post-contact surveys

#[derive(Template)]
#[template(path = "surveys/delivery_settings.html")]
struct SettingsPage<'a> {
    ctx: &'a Ctx,
    s: Settings,
    excluded: String,
    errors: FormErrors,
    saved: Option<Vec<String>>,
}

async fn settings_page(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let s = delivery::settings(&state.db, ctx.agency()?.id).await?;
    page(SettingsPage {
        ctx: &ctx,
        excluded: s.excluded_text(),
        s,
        errors: FormErrors::default(),
        saved: None,
    })
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    excluded_call_types: String,
    #[serde(default)]
    expiry_days: String,
    #[serde(default)]
    reminder_days: String,
    #[serde(default)]
    retention_days: String,
    #[serde(default)]
    dedupe_days: String,
}

async fn save_settings(
    State(state): State<AppState>,
    ctx: Ctx,
    axum::Form(f): axum::Form<SettingsForm>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let mut errors = Vec::new();
    let mut number = |field: &str, label: &str, raw: &str| -> i64 {
        raw.trim().parse().unwrap_or_else(|_| {
            errors.push(FieldError::new(
                field,
                format!("{label} must be a whole number of days"),
            ));
            -1
        })
    };
    let s = Settings {
        excluded_call_types: Settings::parse_excluded(&f.excluded_call_types),
        expiry_days: number("expiry_days", "Link lifetime", &f.expiry_days),
        reminder_days: number("reminder_days", "Reminder", &f.reminder_days),
        retention_days: number("retention_days", "Retention", &f.retention_days),
        dedupe_days: number("dedupe_days", "Dedupe window", &f.dedupe_days),
    };
    let outcome = if errors.is_empty() {
        delivery::save_settings(
            &state.db,
            agency,
            &s,
            &ctx.actor(),
            ctx.ip().as_deref(),
            state.clock.unix(),
        )
        .await?
    } else {
        Err(errors)
    };
    let (errors, saved) = match outcome {
        Ok(changed) => (FormErrors::default(), Some(changed)),
        Err(errors) => (FormErrors(errors), None),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut r = page(SettingsPage {
        ctx: &ctx,
        excluded: f.excluded_call_types,
        s,
        errors,
        saved,
    })?;
    *r.status_mut() = status;
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// The API

#[derive(OpenApi)]
#[openapi(
    paths(api_import),
    components(schemas(ContactIn, ImportSummary)),
    tags((name = "contacts", description = "Contact events for post-contact surveys"))
)]
pub struct ContactsApi;

/// A contact event from CAD or RMS. Unknown fields are refused, so a misspelt field is
/// caught instead of dropped. This type documents what `contacts::parse_json` reads; text
/// fields also take numbers, as exports often write incident numbers and badges as numbers.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ContactIn {
    /// The incident's number in CAD/RMS. With the person, it makes the event unique: sending
    /// it again adds nothing.
    #[schema(example = "P26-004512")]
    incident_number: TextOrNumber,
    /// When the contact happened: RFC 3339 (`2026-05-31T14:05:00-05:00`), or `2026-05-31 14:05`
    /// on the agency's clock; not more than a day ahead.
    #[schema(
        example = "2026-05-31 14:05",
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
    )]
    occurred_at: String,
    /// The call type. Types the agency excludes (domestic violence and sexual assault by
    /// default) are stored without contact details and never invited.
    #[schema(example = "Traffic stop")]
    call_type: TextOrNumber,
    /// The district code.
    #[schema(example = "D3")]
    district: Option<TextOrNumber>,
    /// The officer's badge number.
    #[schema(example = "1187")]
    officer: Option<TextOrNumber>,
    /// A phone number (10 digits for North America, else with its +country code). Used for a
    /// text message when there is no e-mail address.
    #[schema(example = "515-555-0123")]
    phone: Option<TextOrNumber>,
    /// An e-mail address; preferred over the phone when both are given.
    email: Option<String>,
    /// The language of the messages and of the survey (default `en`).
    #[schema(example = "es")]
    language: Option<LanguageCode>,
}

/// A language Lantern writes in.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum LanguageCode {
    En,
    Es,
}

/// A text field that also takes a JSON number (written out as the number's digits).
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum TextOrNumber {
    Text(String),
    Number(f64),
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// The post-contact survey to invite to. May be left out when the agency has exactly one
    /// open post-contact survey.
    pub survey: Option<i64>,
}

/// Sends contact events; each new one gets a single-use invitation unless excluded.
///
/// All or nothing: when any event is invalid, nothing is stored and the problem document
/// lists each problem as `[index].field`. Invitations go out by e-mail or text message in the
/// background; the response counts what was stored and why events were not invited.
#[utoipa::path(
    post,
    path = "/api/v1/contacts",
    tag = "contacts",
    params(ImportParams),
    request_body(content = Vec<ContactIn>, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored; what happened to the events", body = ImportSummary),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not import contacts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No post-contact survey with that id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The survey is not open, or the agency has no open post-contact survey", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid events (nothing stored), or several open post-contact surveys and none named", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn api_import(
    State(state): State<AppState>,
    ctx: Ctx,
    crate::web::extract::Query(params): crate::web::extract::Query<ImportParams>,
    body: Bytes,
) -> AppResult<Json<ImportSummary>> {
    let agency = ctx.agency()?;
    let survey = match params.survey {
        Some(id) => {
            let survey = store::get(&state.db, agency.id, id)
                .await?
                .filter(|s| s.kind() == Kind::PostContact)
                .ok_or_else(|| AppError::NoSuch(format!("No post-contact survey {id}.")))?;
            check_open(&survey).map_err(AppError::Conflict)?;
            survey
        }
        None => {
            let open: Vec<Survey> = store::list(&state.db, agency.id)
                .await?
                .into_iter()
                .filter(|s| s.kind() == Kind::PostContact && s.is_open())
                .collect();
            match <[Survey; 1]>::try_from(open) {
                Ok([s]) => s,
                Err(v) if v.is_empty() => {
                    return Err(AppError::Conflict(
                        "The agency has no open post-contact survey to invite to.".into(),
                    ));
                }
                Err(_) => {
                    return Err(AppError::invalid(
                        "survey",
                        "the agency has several open post-contact surveys: name one with ?survey=ID",
                    ));
                }
            }
        }
    };
    let now = state.clock.unix();
    let events = contacts::parse_json(&body, agency.tz(), now).map_err(refused)?;
    let settings = delivery::settings(&state.db, agency.id).await?;
    let summary = contacts::import(
        &state.db,
        &state.key,
        &survey,
        &settings,
        events,
        "api",
        &ctx.actor(),
        ctx.ip().as_deref(),
        now,
    )
    .await?;
    state.surveys().delivery.wake();
    Ok(Json(summary))
}

fn refused(r: Refusal) -> AppError {
    let mut problems = r.problems;
    if r.more > 0 {
        problems.push(FieldError::new(
            "body",
            format!("… and {} more problems", r.more),
        ));
    }
    AppError::Invalid(problems)
}

// ---------------------------------------------------------------------------------------------
// Opting out

#[derive(Template)]
#[template(path = "surveys/opt_out.html")]
struct OptOutPage<'a> {
    ctx: &'a Ctx,
    done: bool,
    action: String,
}

/// The invitation a token names, and the person behind it: (invitation id, contact key).
async fn invitation_of(
    state: &AppState,
    ctx: &Ctx,
    token: &str,
) -> AppResult<(i64, String, String)> {
    let agency = ctx.agency()?;
    let row: Option<(i64, String, String)> = on_db!(&state.db, |pool| {
        sqlx::query_as(
            "SELECT i.id, c.contact_key, i.status FROM invitations i \
             JOIN contacts c ON c.agency_id = i.agency_id AND c.id = i.contact_id \
             WHERE i.agency_id = $1 AND i.token_hash = $2",
        )
        .bind(agency.id)
        .bind(links::token_hash(token))
        .fetch_optional(pool)
        .await
    })?;
    row.ok_or(AppError::NotFound)
}

async fn opted_out(state: &AppState, agency_id: i64, contact_key: &str) -> AppResult<bool> {
    let found: Option<i64> = on_db!(&state.db, |pool| {
        sqlx::query_scalar(
            "SELECT created_at FROM opt_outs WHERE agency_id = $1 AND contact_key = $2",
        )
        .bind(agency_id)
        .bind(contact_key)
        .fetch_optional(pool)
        .await
    })?;
    Ok(found.is_some())
}

async fn opt_out_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, token)): Path<(String, String)>,
) -> AppResult<Response> {
    let (_, contact_key, _) = invitation_of(&state, &ctx, &token).await?;
    let done = opted_out(&state, ctx.agency()?.id, &contact_key).await?;
    page(OptOutPage {
        action: ctx.url(&format!("/i/{token}/opt-out")),
        ctx: &ctx,
        done,
    })
}

/// Records the opt-out: no invitation or reminder goes to this person again, their waiting
/// invitations are withdrawn, and their phone and e-mail are erased now.
async fn opt_out(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, token)): Path<(String, String)>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let (invitation, contact_key, _) = invitation_of(&state, &ctx, &token).await?;
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    let new = on_tx!(&mut tx, |c| {
        sqlx::query(
            "INSERT INTO opt_outs (agency_id, contact_key, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (agency_id, contact_key) DO NOTHING",
        )
        .bind(agency.id)
        .bind(&contact_key)
        .bind(now)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if new == 1 {
        on_tx!(&mut tx, |c| {
            sqlx::query(
                "UPDATE invitations SET status = 'opted_out', claimed_at = NULL \
                 WHERE agency_id = $1 AND status IN ('pending', 'sent', 'failed') AND contact_id IN \
                 (SELECT id FROM contacts WHERE agency_id = $1 AND contact_key = $2)",
            )
            .bind(agency.id)
            .bind(&contact_key)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
        })?;
        on_tx!(&mut tx, |c| {
            sqlx::query(
                "UPDATE contacts SET phone = NULL, email = NULL, purged_at = $3 \
                 WHERE agency_id = $1 AND contact_key = $2 AND purged_at IS NULL",
            )
            .bind(agency.id)
            .bind(&contact_key)
            .bind(now)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
        })?;
        audit::append(
            &mut tx,
            agency.id,
            now,
            &Event::new(
                &ctx.actor(),
                "contact.opted_out",
                format!("invitation:{invitation}"),
            )
            .ip(ctx.ip().as_deref()),
        )
        .await?;
    }
    tx.commit().await?;
    page(OptOutPage {
        action: ctx.url(&format!("/i/{token}/opt-out")),
        ctx: &ctx,
        done: true,
    })
}

/// The message page a spent or withdrawn invitation shows (used by the respondent side).
pub fn opted_out_message(ctx: &Ctx) -> AppResult<Response> {
    respond::message(ctx, StatusCode::GONE, "optout.done_title", "optout.done")
}
