//! The staff side of surveys: list, create from a template or an XLSForm, publish and close,
//! links and QR codes, results with breakdowns and weighting, exports, flagged responses.

use askama::Template;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::aggregate::{Dim, Weighting};
use super::model::{Definition, Kind, QuestionKind};
use super::results::{self, Inputs, Results, Suppression};
use super::store::{self, Survey};
use super::templates::{Template as SurveyTemplate, resolve_demographics};
use super::{cache, links, xlsform};
use crate::on_db;
use crate::platform::audit::{self, Event};
use crate::platform::error::{AppError, AppResult, FieldError};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::forms::FormErrors;
use crate::web::i18n::Lang;
use crate::web::page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{agency}/staff/surveys", get(list).post(create))
        .route("/{agency}/staff/surveys/import", post(import))
        .route("/{agency}/staff/surveys/{id}", get(overview))
        .route("/{agency}/staff/surveys/{id}/publish", post(publish))
        .route("/{agency}/staff/surveys/{id}/status", post(set_status))
        .route("/{agency}/staff/surveys/{id}/options", post(options))
        .route("/{agency}/staff/surveys/{id}/results", get(results_page))
        .route(
            "/{agency}/staff/surveys/{id}/export.csv",
            get(super::export::csv),
        )
        .route(
            "/{agency}/staff/surveys/{id}/flagged",
            get(flagged).post(review),
        )
        .route("/{agency}/staff/surveys/{id}/cards", get(cards))
        .route(
            "/{agency}/staff/surveys/{id}/edit",
            get(super::builder::edit).post(super::builder::change),
        )
        .route(
            "/{agency}/staff/surveys/{id}/preview",
            get(super::builder::preview),
        )
        .route(
            "/{agency}/staff/surveys/{id}/staff-invitations",
            post(super::employee::invite),
        )
}

pub async fn load(state: &AppState, ctx: &Ctx, id: i64) -> AppResult<Survey> {
    store::get(&state.db, ctx.agency()?.id, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub struct Row {
    pub survey: Survey,
    pub responses: i64,
}

#[derive(Template)]
#[template(path = "surveys/list.html")]
struct ListPage<'a> {
    ctx: &'a Ctx,
    rows: Vec<Row>,
    templates: [SurveyTemplate; 4],
    errors: FormErrors,
    import_problems: Vec<String>,
}

async fn render_list(
    state: &AppState,
    ctx: &Ctx,
    errors: FormErrors,
    import_problems: Vec<String>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let counts = store::response_counts(&state.db, agency.id).await?;
    let rows = store::list(&state.db, agency.id)
        .await?
        .into_iter()
        .map(|s| Row {
            responses: *counts.get(&s.id).unwrap_or(&0),
            survey: s,
        })
        .collect();
    page(ListPage {
        ctx,
        rows,
        templates: SurveyTemplate::ALL,
        errors,
        import_problems,
    })
}

async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    render_list(&state, &ctx, FormErrors::default(), Vec::new()).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    template: String,
    #[serde(default)]
    name: String,
}

async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    axum::Form(f): axum::Form<CreateForm>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let Some(template) = SurveyTemplate::parse(&f.template) else {
        return render_list(
            &state,
            &ctx,
            FormErrors(vec![FieldError::new("template", "Choose a template")]),
            Vec::new(),
        )
        .await;
    };
    let name = f.name.trim();
    let name = if name.is_empty() {
        template.label()
    } else {
        name
    };
    if name.chars().count() > 120 {
        return render_list(
            &state,
            &ctx,
            FormErrors(vec![FieldError::new(
                "name",
                "Name must be at most 120 characters",
            )]),
            Vec::new(),
        )
        .await;
    }
    let definition = template.definition();
    let new = store::NewSurvey {
        kind: template.kind(),
        name,
        definition: &definition,
    };
    let survey = store::create(
        &state.db,
        agency.id,
        new,
        &ctx.actor(),
        ctx.ip().as_deref(),
        state.clock.unix(),
    )
    .await?;
    Ok(Redirect::to(&ctx.staff_url(&format!("/staff/surveys/{}", survey.id))).into_response())
}

/// An XLSForm upload (multipart: the CSRF token travels in the query string).
async fn import(
    State(state): State<AppState>,
    ctx: Ctx,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let mut file: Option<(String, Bytes)> = None;
    let mut kind = Kind::Community;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?
    {
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or("form.xlsx").to_string();
                let bytes = field.bytes().await.map_err(|e| {
                    AppError::BadRequest(format!("The upload could not be read: {e}"))
                })?;
                file = Some((name, bytes));
            }
            Some("kind") => {
                let text = field.text().await.unwrap_or_default();
                kind = Kind::parse(&text).unwrap_or(Kind::Community);
            }
            _ => {}
        }
    }
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return render_list(
            &state,
            &ctx,
            FormErrors(vec![FieldError::new(
                "file",
                "Choose an XLSForm file (.xlsx or .xls)",
            )]),
            Vec::new(),
        )
        .await;
    };
    match xlsform::import(&bytes, &name) {
        Ok(imported) => {
            let title = imported.definition.title.en.clone();
            let new = store::NewSurvey {
                kind,
                name: &title,
                definition: &imported.definition,
            };
            let survey = store::create(
                &state.db,
                agency.id,
                new,
                &ctx.actor(),
                ctx.ip().as_deref(),
                state.clock.unix(),
            )
            .await?;
            audit::record(
                &state.db,
                agency.id,
                state.clock.unix(),
                &Event::new(&ctx.actor(), "survey.imported", format!("survey:{}", survey.id))
                    .detail(serde_json::json!({"file": name, "questions": imported.definition.questions().count(), "notes": imported.notes}))
                    .ip(ctx.ip().as_deref()),
            )
            .await?;
            Ok(
                Redirect::to(&ctx.staff_url(&format!("/staff/surveys/{}?imported=1", survey.id)))
                    .into_response(),
            )
        }
        Err(problems) => {
            let text = problems.iter().map(|p| p.to_string()).collect();
            let mut r = render_list(&state, &ctx, FormErrors::default(), text).await?;
            *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(r)
        }
    }
}

pub struct ChannelLink {
    pub label: &'static str,
    pub url: String,
    pub qr_svg: String,
    pub qr_png: String,
}

#[derive(Template)]
#[template(path = "surveys/overview.html")]
struct Overview<'a> {
    ctx: &'a Ctx,
    survey: &'a Survey,
    kind: Kind,
    draft: Definition,
    versions: Vec<(i64, i64, String)>,
    responses: i64,
    flagged: i64,
    links: Vec<ChannelLink>,
    main_link: String,
    errors: FormErrors,
    message: Option<String>,
    invited: Option<(i64, i64)>,
}

#[derive(Deserialize, Default)]
pub struct OverviewQuery {
    #[serde(default)]
    imported: Option<String>,
    #[serde(default)]
    published: Option<i64>,
}

async fn render_overview(
    state: &AppState,
    ctx: &Ctx,
    survey: &Survey,
    errors: FormErrors,
    message: Option<String>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let tz = agency.tz();
    let versions = store::versions(&state.db, agency.id, survey.id)
        .await?
        .into_iter()
        .map(|(id, n, at)| (id, n, crate::platform::clock::format_unix(at, tz)))
        .collect();
    let responses = super::writer::count(&state.db, agency.id, survey.id).await?;
    let flagged: i64 = on_db!(&state.db, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM responses WHERE agency_id = $1 AND survey_id = $2 AND status = 'flagged'")
            .bind(agency.id)
            .bind(survey.id)
            .fetch_one(pool)
            .await
    })?;
    let base = format!("/{}/s/{}", agency.slug, survey.public_code);
    let links = if survey.kind() == Kind::Community {
        links::CHANNELS
            .iter()
            .map(|(tag, label)| ChannelLink {
                label,
                url: super::public::public_link(
                    state,
                    &agency.slug,
                    &survey.public_code,
                    &format!("src={tag}"),
                ),
                qr_svg: format!("{base}/qr.svg?src={tag}"),
                qr_png: format!("{base}/qr.png?src={tag}"),
            })
            .collect()
    } else {
        Vec::new()
    };
    let invited = if survey.kind() == Kind::Employee {
        Some(super::employee::counts(state, agency.id, survey.id).await?)
    } else {
        None
    };
    page(Overview {
        ctx,
        survey,
        kind: survey.kind(),
        draft: survey.draft(),
        versions,
        responses,
        flagged,
        links,
        main_link: super::public::public_link(state, &agency.slug, &survey.public_code, ""),
        errors,
        message,
        invited,
    })
}

async fn overview(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    Query(q): Query<OverviewQuery>,
) -> AppResult<Response> {
    let survey = load(&state, &ctx, id).await?;
    let message = if q.imported.is_some() {
        Some("Imported. Check the questions and their Spanish texts, then publish.".to_string())
    } else {
        q.published
            .map(|v| format!("Published as version {v}. It is open for answers."))
    };
    render_overview(&state, &ctx, &survey, FormErrors::default(), message).await
}

async fn publish(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let survey = load(&state, &ctx, id).await?;
    let mut definition = survey.draft();
    let districts = store::district_choices(&state.db, agency.id).await?;
    resolve_demographics(&mut definition, &districts);
    match store::publish(
        &state.db,
        &survey,
        &definition,
        &ctx.actor(),
        ctx.ip().as_deref(),
        state.clock.unix(),
    )
    .await?
    {
        Ok(number) => Ok(Redirect::to(
            &ctx.staff_url(&format!("/staff/surveys/{id}?published={number}")),
        )
        .into_response()),
        Err(errors) => render_overview(&state, &ctx, &survey, FormErrors(errors), None).await,
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
}

async fn set_status(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    axum::Form(f): axum::Form<StatusForm>,
) -> AppResult<Response> {
    let survey = load(&state, &ctx, id).await?;
    let status = match f.status.as_str() {
        "closed" => "closed",
        "open" if survey.current_version.is_some() => "open",
        _ => {
            return Err(AppError::BadRequest(
                "Choose open or closed (a survey opens when it is first published)".into(),
            ));
        }
    };
    store::set_status(
        &state.db,
        &survey,
        status,
        &ctx.actor(),
        ctx.ip().as_deref(),
        state.clock.unix(),
    )
    .await?;
    Ok(Redirect::to(&ctx.staff_url(&format!("/staff/surveys/{id}"))).into_response())
}

#[derive(Deserialize)]
pub struct OptionsForm {
    #[serde(default)]
    one_per_device: Option<String>,
    #[serde(default)]
    publish_results: Option<String>,
}

async fn options(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    axum::Form(f): axum::Form<OptionsForm>,
) -> AppResult<Response> {
    let survey = load(&state, &ctx, id).await?;
    // Employee results are never public: the whole point is who can see them.
    let publish = f.publish_results.is_some() && survey.kind() != Kind::Employee;
    store::set_options(
        &state.db,
        &survey,
        f.one_per_device.is_some(),
        publish,
        &ctx.actor(),
        ctx.ip().as_deref(),
        state.clock.unix(),
    )
    .await?;
    let survey = load(&state, &ctx, id).await?;
    render_overview(
        &state,
        &ctx,
        &survey,
        FormErrors::default(),
        Some("Options saved.".into()),
    )
    .await
}

/// What results can be broken down by, for this survey.
pub fn breakdowns(kind: Kind, def: &Definition, lang: Lang) -> Vec<(String, String)> {
    let mut out = vec![("month".to_string(), "Month".to_string())];
    match kind {
        Kind::Community => out.push(("channel".into(), "Channel".into())),
        Kind::OfficerCard => {
            out.push(("officer".into(), "Officer".into()));
            out.push(("unit".into(), "Unit".into()));
        }
        Kind::PostContact => {
            out.push(("call_type".into(), "Call type".into()));
            out.push(("contact_district".into(), "District of the contact".into()));
        }
        Kind::Employee => {}
    }
    for q in def.questions() {
        if matches!(
            q.kind,
            QuestionKind::SingleChoice { .. } | QuestionKind::Demographic { .. }
        ) {
            out.push((format!("q:{}", q.key), q.label.get(lang).to_string()));
        }
    }
    out
}

pub fn parse_dim(by: &str) -> Option<Dim> {
    Some(match by {
        "month" => Dim::Month,
        "channel" => Dim::Channel,
        "officer" => Dim::Officer,
        "unit" => Dim::Unit,
        "call_type" => Dim::CallType,
        "contact_district" => Dim::ContactDistrict,
        other => Dim::Answer(other.strip_prefix("q:")?.to_string()),
    })
}

/// The rules for hiding small groups in this survey's results: the anonymity threshold
/// (never below 3) for staff surveys, the small-cell threshold for the others.
pub fn suppression(kind: Kind, agency: &crate::platform::agencies::Agency) -> Suppression {
    match kind {
        Kind::Employee => Suppression {
            min: anonymity_threshold(agency),
        },
        _ => Suppression {
            min: agency.small_cell_threshold.max(1) as u64,
        },
    }
}

/// The smallest group of staff whose answers may be told apart: the agency's setting, never
/// below 3.
pub fn anonymity_threshold(agency: &crate::platform::agencies::Agency) -> u64 {
    agency.anonymity_threshold.max(3) as u64
}

/// Computes a survey's results for a page or the API.
pub async fn compute_results(
    state: &AppState,
    ctx: &Ctx,
    survey: &Survey,
    by: Option<Dim>,
    lang: Lang,
) -> AppResult<Option<(Results, std::sync::Arc<Definition>)>> {
    results_for(state, ctx.agency()?, survey, by, lang).await
}

/// A survey's results for its agency, as every page shows them (small cells withheld).
pub async fn results_for(
    state: &AppState,
    agency: &crate::platform::agencies::Agency,
    survey: &Survey,
    by: Option<Dim>,
    lang: Lang,
) -> AppResult<Option<(Results, std::sync::Arc<Definition>)>> {
    let Some(version_id) = survey.current_version else {
        return Ok(None);
    };
    let version = state
        .surveys()
        .versions
        .get(&state.db, agency.id, version_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let def = version.definition.clone();
    let (weighting, census) = if survey.kind() == Kind::Employee {
        (Weighting::default(), Default::default())
    } else {
        let census = cache::census(&state.db, agency.id).await?;
        (cache::weighting_for(&def, &census), census)
    };
    let agg = state
        .surveys()
        .results
        .aggregate(
            &state.db,
            &state.surveys().versions,
            survey,
            &weighting,
            agency.tz(),
        )
        .await?;
    let shares = results::census_shares(&weighting, &census, &def);
    let weights = results::rake_cells(&agg, &weighting, &shares);
    let results = results::compute(Inputs {
        def: &def,
        agg: &agg,
        weights,
        by,
        suppression: suppression(survey.kind(), agency),
        lang,
    });
    Ok(Some((results, def)))
}

#[derive(Deserialize, Default)]
pub struct ResultsQuery {
    #[serde(default)]
    by: String,
}

#[derive(Template)]
#[template(path = "surveys/results.html")]
struct ResultsPage<'a> {
    ctx: &'a Ctx,
    survey: &'a Survey,
    results: Results,
    breakdowns: Vec<(String, String)>,
    by: String,
    weighting_labels: Vec<String>,
}

async fn results_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    Query(q): Query<ResultsQuery>,
) -> AppResult<Response> {
    let survey = load(&state, &ctx, id).await?;
    let by = parse_dim(&q.by);
    let Some((results, def)) = compute_results(&state, &ctx, &survey, by, Lang::En).await? else {
        return render_overview(
            &state,
            &ctx,
            &survey,
            FormErrors(vec![FieldError::new(
                "publish",
                "Publish the survey to see results",
            )]),
            None,
        )
        .await;
    };
    let weighting_labels = results
        .weights
        .as_ref()
        .map(|w| {
            w.variables
                .iter()
                .map(|k| match def.question(k).map(|q| &q.kind) {
                    Some(QuestionKind::Demographic { field, .. }) => field.label().to_string(),
                    _ => k.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    page(ResultsPage {
        ctx: &ctx,
        breakdowns: breakdowns(survey.kind(), &def, Lang::En),
        by: q.by,
        survey: &survey,
        results,
        weighting_labels,
    })
}

#[derive(Template)]
#[template(path = "surveys/public_results.html")]
struct PublicResults<'a> {
    ctx: &'a Ctx,
    title: String,
    results: Results,
}

/// A survey's results summary on the public pages, when the agency publishes it.
pub async fn public_results(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, code)): Path<(String, String)>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let survey = store::by_code(&state.db, agency.id, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    if !survey.publish_results || survey.kind() == Kind::Employee {
        return Err(AppError::NotFound);
    }
    let Some((results, def)) = compute_results(&state, &ctx, &survey, None, ctx.lang()).await?
    else {
        return Err(AppError::NotFound);
    };
    page(PublicResults {
        ctx: &ctx,
        title: def.title.get(ctx.lang()).to_string(),
        results,
    })
}

pub struct FlaggedRow {
    pub id: i64,
    pub when: String,
    pub channel: String,
    pub reason: String,
    pub answers: String,
}

#[derive(Template)]
#[template(path = "surveys/flagged.html")]
struct FlaggedPage<'a> {
    ctx: &'a Ctx,
    survey: &'a Survey,
    rows: Vec<FlaggedRow>,
    message: Option<String>,
}

async fn render_flagged(
    state: &AppState,
    ctx: &Ctx,
    survey: &Survey,
    message: Option<String>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let rows: Vec<(i64, i64, String, Option<String>, String)> = on_db!(&state.db, |pool| {
        sqlx::query_as(
            "SELECT id, submitted_at, channel, flag_reason, answers FROM responses \
             WHERE agency_id = $1 AND survey_id = $2 AND status = 'flagged' ORDER BY id LIMIT 500",
        )
        .bind(agency.id)
        .bind(survey.id)
        .fetch_all(pool)
        .await
    })?;
    let tz = agency.tz();
    let rows = rows
        .into_iter()
        .map(|(id, at, channel, reason, answers)| FlaggedRow {
            id,
            when: crate::platform::clock::format_unix(at, tz),
            channel,
            reason: reason.unwrap_or_default(),
            answers: answers.chars().take(300).collect(),
        })
        .collect();
    page(FlaggedPage {
        ctx,
        survey,
        rows,
        message,
    })
}

async fn flagged(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    let survey = load(&state, &ctx, id).await?;
    render_flagged(&state, &ctx, &survey, None).await
}

/// Accepts flagged responses into the results, or rejects them for good.
async fn review(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    body: Bytes,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let survey = load(&state, &ctx, id).await?;
    let form = super::respond::form_values(&body);
    let decision = match form
        .get("decision")
        .and_then(|v| v.first())
        .map(String::as_str)
    {
        Some("accept") => "ok",
        Some("reject") => "rejected",
        _ => {
            return Err(AppError::BadRequest(
                "Choose to accept or reject the selected responses".into(),
            ));
        }
    };
    let ids: Vec<i64> = form
        .get("response")
        .map(|v| v.iter().filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_default();
    if ids.is_empty() {
        return render_flagged(
            &state,
            &ctx,
            &survey,
            Some("Select at least one response.".into()),
        )
        .await;
    }
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    let mut changed = 0u64;
    for response in &ids {
        changed += crate::on_tx!(&mut tx, |c| {
            sqlx::query("UPDATE responses SET status = $4 WHERE agency_id = $1 AND survey_id = $2 AND id = $3 AND status = 'flagged'")
                .bind(agency.id)
                .bind(survey.id)
                .bind(response)
                .bind(decision)
                .execute(&mut **c)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    crate::on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE surveys SET results_epoch = results_epoch + 1 WHERE agency_id = $1 AND id = $2",
        )
        .bind(agency.id)
        .bind(survey.id)
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
            "survey.flags_reviewed",
            format!("survey:{}", survey.id),
        )
        .detail(serde_json::json!({"decision": decision, "responses": ids}))
        .ip(ctx.ip().as_deref()),
    )
    .await?;
    tx.commit().await?;
    state.surveys().results.forget(agency.id, survey.id);
    let verb = if decision == "ok" {
        "accepted into the results"
    } else {
        "rejected"
    };
    render_flagged(
        &state,
        &ctx,
        &survey,
        Some(format!("{changed} responses {verb}.")),
    )
    .await
}

pub struct Card {
    pub name: String,
    pub badge: String,
    pub qr: String,
    pub url: String,
}

#[derive(Template)]
#[template(path = "surveys/cards.html")]
struct CardsPage<'a> {
    ctx: &'a Ctx,
    survey: &'a Survey,
    cards: Vec<Card>,
    units: Vec<String>,
    unit: String,
}

#[derive(Deserialize, Default)]
pub struct CardsQuery {
    #[serde(default)]
    unit: String,
}

/// A printable sheet of QR cards, one per officer (of a unit, or all), for officer-card surveys.
async fn cards(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    Query(q): Query<CardsQuery>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let survey = load(&state, &ctx, id).await?;
    if survey.kind() != Kind::OfficerCard {
        return Err(AppError::NotFound);
    }
    let officers = crate::platform::roster::officers(&state.db, agency.id).await?;
    let mut units: Vec<String> = officers.iter().filter_map(|o| o.unit.clone()).collect();
    units.sort();
    units.dedup();
    let cards = officers
        .into_iter()
        .filter(|o| o.active && (q.unit.is_empty() || o.unit.as_deref() == Some(q.unit.as_str())))
        .map(|o| {
            let token = links::officer_token(&state.key, survey.id, o.id);
            let url = super::public::public_link(
                &state,
                &agency.slug,
                &survey.public_code,
                &format!("o={token}"),
            );
            Card {
                name: format!("{} {}", o.first_name, o.last_name),
                badge: o.badge,
                qr: links::qr_svg(&url).unwrap_or_default(),
                url,
            }
        })
        .collect();
    page(CardsPage {
        ctx: &ctx,
        survey: &survey,
        cards,
        units,
        unit: q.unit,
    })
}

/// Sets the content type and a download name on an export.
pub fn download(body: Body, content_type: &'static str, file_name: &str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}
