//! Staff pages of the transparency slice: the stops overview with its imports, an import's
//! validation report, the disparity analyses and the veil-of-darkness test, each chart beside
//! its table, and CSV downloads of every table (audited).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::platform::audit::{self, Event};
use crate::platform::csv_out::CsvOut;
use crate::platform::error::{AppError, AppResult};
use crate::state::AppState;
use crate::transparency::analysis::{self, Benchmark, RateTable, Vod};
use crate::transparency::model::{STOP_TYPES, StopImport, race_label};
use crate::transparency::store::{self, Scope};
use crate::web::charts::{Bar, BarChart, percent_tick};
use crate::web::ctx::Ctx;
use crate::web::fmt::{self, STAFF, thousands};
use crate::web::i18n::Lang;
use crate::web::page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{agency}/staff/stops", get(overview))
        .route(
            "/{agency}/staff/stops/imports",
            axum::routing::post(upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::transparency::api::MAX_IMPORT_BYTES,
            )),
        )
        .route("/{agency}/staff/stops/imports/{id}", get(import_report))
        .route("/{agency}/staff/stops/analysis", get(analysis_page))
        .route("/{agency}/staff/stops/darkness", get(darkness_page))
        .route("/{agency}/staff/stops/export/{file}", get(export))
}

/// Checks a scope from the query string against what the store holds.
pub async fn checked_scope(state: &AppState, agency_id: i64, scope: Scope) -> AppResult<Scope> {
    let (years, districts) = store::dimensions(&state.db, agency_id).await?;
    // A filter that names no data is a slice that does not exist: not found, saying which.
    if !scope.year.is_empty() && !years.contains(&scope.year) {
        return Err(AppError::NoSuch(format!("No stops in {}.", scope.year)));
    }
    if !scope.district.is_empty() && !districts.contains(&scope.district) {
        return Err(AppError::NoSuch(format!(
            "No stops in district {}.",
            scope.district
        )));
    }
    if !scope.stop_type.is_empty() && !STOP_TYPES.contains(&scope.stop_type.as_str()) {
        return Err(AppError::NoSuch(format!(
            "No stops of type {}: the types are vehicular and pedestrian.",
            scope.stop_type
        )));
    }
    Ok(scope)
}

/// Everything the analysis page and its API show for one scope.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AnalysisResult {
    pub scope: Scope,
    pub small_cell_threshold: i64,
    pub stops: i64,
    pub benchmark: Option<Benchmark>,
    pub rates: Vec<RateTable>,
    /// The outcome test district by district (the pooled test is the `hit` table of `rates`).
    pub outcome_by_district: Vec<analysis::DistrictOutcome>,
    /// Where arrests, citations and warnings come from: the files' own columns, or `outcome`
    /// for imports whose file has no such column.
    pub outcome_sources: Vec<store::OutcomeSource>,
    /// How the rates are computed (denominators, missing values, outcome fields).
    pub method: String,
}

pub async fn compute_analysis(
    db: &crate::platform::db::Db,
    agency: &crate::platform::agencies::Agency,
    scope: &Scope,
) -> Result<AnalysisResult, sqlx::Error> {
    let cells = store::cells(db, agency.id, scope).await?;
    let totals = analysis::totals_by_group(&cells);
    let mut months: Vec<&str> = cells.iter().map(|c| c.month.as_str()).collect();
    months.sort_unstable();
    months.dedup();
    let geography = if scope.district.is_empty() {
        "agency"
    } else {
        scope.district.as_str()
    };
    let population = store::race_margin(db, agency.id, geography).await?;
    let threshold = agency.small_cell_threshold;
    let outcome_sources = store::outcome_sources(db, agency.id).await?;
    let mut rates = analysis::rate_tables(&totals, threshold);
    for table in &mut rates {
        let field = match table.key.as_str() {
            "arrest" => "arrest_made",
            "citation" => "citation_issued",
            "warning" => "warning_issued",
            _ => continue,
        };
        if let Some(source) = outcome_sources.iter().find(|s| s.field == field) {
            table.source = source.sentence();
        }
    }
    Ok(AnalysisResult {
        scope: scope.clone(),
        small_cell_threshold: threshold,
        stops: totals.iter().map(|t| t.stops).sum(),
        benchmark: analysis::benchmark(&totals, &population, geography, months.len(), threshold),
        rates,
        outcome_by_district: analysis::outcome_by_district(&cells, threshold),
        outcome_sources,
        method: analysis::RATES_METHOD.into(),
    })
}

pub async fn compute_darkness(
    db: &crate::platform::db::Db,
    agency: &crate::platform::agencies::Agency,
    scope: &Scope,
) -> Result<Vod, sqlx::Error> {
    let cells = store::vod_cells(db, agency.id, scope, "black", "white").await?;
    Ok(analysis::veil_of_darkness(&cells, "black", "white"))
}

struct ImportRow {
    import: StopImport,
    when: String,
}

#[derive(Template)]
#[template(path = "transparency/stops.html")]
struct Overview<'a> {
    ctx: &'a Ctx,
    stops: String,
    imports: Vec<ImportRow>,
    years: Vec<String>,
    districts: Vec<String>,
    population_source: Option<String>,
    can_import: bool,
}

fn when(agency: &crate::platform::agencies::Agency, at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| {
            t.with_timezone(&agency.tz())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

async fn overview(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let (stops, _) = store::counts(&state.db, agency.id).await?;
    let (years, districts) = store::dimensions(&state.db, agency.id).await?;
    let imports = store::imports(&state.db, agency.id)
        .await?
        .into_iter()
        .map(|i| ImportRow {
            when: when(agency, i.created_at),
            import: i,
        })
        .collect();
    let population_source = store::race_margin(&state.db, agency.id, "agency")
        .await?
        .first()
        .map(|(_, _, s)| s.clone());
    page(Overview {
        ctx: &ctx,
        stops: thousands(stops),
        imports,
        years,
        districts,
        population_source,
        can_import: ctx.can(crate::platform::policy::Permission::ImportStops),
    })
}

/// An upload from the stops page: the CSV, an optional mapping file, whether to skip invalid
/// rows. The import runs in the background; the browser goes to its report page, which says
/// whether it is still running. (The CSRF token comes in the form's action: the body is not
/// buffered to look for it.)
async fn upload(
    State(state): State<AppState>,
    ctx: Ctx,
    mut form: axum::extract::Multipart,
) -> AppResult<Response> {
    let agency = ctx.agency()?.clone();
    let mut file: Option<(String, axum::body::Bytes)> = None;
    let mut mapping_text: Option<String> = None;
    let mut skip_invalid = false;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?
    {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().unwrap_or("upload.csv").to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?;
        match name.as_str() {
            "file" if !bytes.is_empty() => file = Some((file_name, bytes)),
            "mapping" if !bytes.is_empty() => {
                mapping_text = Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            "skip_invalid" => skip_invalid = true,
            _ => {}
        }
    }
    let Some((file_name, bytes)) = file else {
        return Err(AppError::invalid("file", "Choose a CSV file to import."));
    };
    let mapping = match mapping_text {
        Some(text) => crate::transparency::mapping::Mapping::from_toml(&text)
            .map_err(|e| AppError::invalid("mapping", e))?,
        None => crate::transparency::mapping::Mapping::sopp(),
    };
    let now = state.clock.unix();
    let id = store::create_import(
        &state.db,
        agency.id,
        &file_name,
        &mapping.name,
        skip_invalid,
        ctx.actor().user_id(),
        "queued",
        now,
    )
    .await?;
    store::record_sha256(
        &state.db,
        agency.id,
        id,
        &crate::platform::secrets::sha256_hex(&bytes),
    )
    .await?;
    let actor = ctx.actor();
    let ip = ctx.ip();
    let task_state = state.clone();
    tokio::spawn(async move {
        let result = crate::transparency::import::run(
            crate::transparency::import::ImportRequest {
                db: &task_state.db,
                agency: &agency,
                import_id: id,
                mapping,
                skip_invalid,
                actor,
                ip,
                now: task_state.clock.unix(),
                progress: None,
                size: Some(bytes.len() as u64),
            },
            Box::new(std::io::Cursor::new(bytes)),
        )
        .await;
        if let Err(e) = result {
            tracing::warn!(import = id, error = %e, "stop import failed");
        }
    });
    Ok(
        axum::response::Redirect::to(&ctx.staff_url(&format!("/staff/stops/imports/{id}")))
            .into_response(),
    )
}

#[derive(Template)]
#[template(path = "transparency/import.html")]
struct ImportPage<'a> {
    ctx: &'a Ctx,
    import: StopImport,
    when: String,
    report: Option<crate::transparency::model::ImportReport>,
    failure: Option<String>,
}

async fn import_report(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let import = store::import(&state.db, agency.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    page(ImportPage {
        ctx: &ctx,
        when: when(agency, import.created_at),
        report: import.parsed_report(),
        failure: import.failure(),
        import,
    })
}

/// A rate table as the page shows it: formatted cells and the chart.
struct ShownTable {
    table: RateTable,
    chart: String,
    /// The table's caption in plain words ("Searches per stop").
    caption: String,
    /// Column headers in plain words (no field names).
    denominator: String,
    not_recorded: String,
    rows: Vec<ShownRate>,
}

struct ShownRate {
    label: String,
    numerator: String,
    denominator: String,
    /// The rate with its interval: "12.3% (95% CI 10.1%–14.6%)".
    rate: String,
    /// The ratio to the reference group with its interval.
    ratio: String,
    q: String,
    not_recorded: String,
    note: String,
}

/// Field names of the SOPP schema as the pages say them.
const PLAIN_FIELDS: [(&str, &str); 6] = [
    ("search_conducted", "whether a search was made"),
    ("frisk_performed", "whether a frisk was made"),
    ("arrest_made", "whether an arrest was made"),
    ("citation_issued", "whether a citation was issued"),
    ("warning_issued", "whether a warning was issued"),
    ("contraband_found", "whether contraband was found"),
];

/// A label of the analysis in plain words: "Stops without search_conducted" → "Stops not
/// recording whether a search was made".
fn plain_words(label: &str) -> String {
    let mut out = label.replace(" without ", " not recording ");
    for (field, words) in PLAIN_FIELDS {
        out = out.replace(field, words);
    }
    out
}

/// A rate table's caption: what is counted per what ("Searches per stop").
fn rate_caption(t: &RateTable) -> String {
    let per = if t.key == "hit" {
        "discretionary search with a recorded result"
    } else {
        "stop"
    };
    format!("{} per {per}, by race", t.numerator)
}

/// A value with its interval, the one way every page writes it (staff pages are in English).
fn with_interval(
    v: Option<f64>,
    lo: Option<f64>,
    hi: Option<f64>,
    f: fn(Lang, f64) -> String,
) -> String {
    match (v, lo, hi) {
        (Some(v), Some(l), Some(u)) => {
            fmt::with_interval(STAFF, &f(STAFF, v), &f(STAFF, l), &f(STAFF, u))
        }
        (Some(v), _, _) => f(STAFF, v),
        _ => "—".into(),
    }
}

/// A district's name from its code (the code itself when the roster does not know it).
fn district_name(names: &[(String, String)], code: &str) -> String {
    names
        .iter()
        .find(|(c, _)| c == code)
        .map_or_else(|| code.to_string(), |(_, n)| n.clone())
}

/// The agency's districts as (code, name).
async fn district_names(state: &AppState, agency_id: i64) -> AppResult<Vec<(String, String)>> {
    Ok(crate::platform::roster::districts(&state.db, agency_id)
        .await?
        .into_iter()
        .map(|d| (d.code, d.name))
        .collect())
}

fn fmt_p(p: Option<f64>) -> String {
    match p {
        None => "—".into(),
        Some(p) if p < 0.001 => "< 0.001".into(),
        Some(p) => format!("{p:.3}"),
    }
}

fn opt(v: Option<f64>, f: fn(Lang, f64) -> String) -> String {
    v.map(|v| f(STAFF, v)).unwrap_or_else(|| "—".into())
}

/// Two decimals, for ratios: 1.0 → "1.00", 0.714 → "0.71".
fn two_decimals(lang: Lang, x: f64) -> String {
    fmt::decimal(lang, x, 2)
}

/// One decimal: 12.34 → "12.3".
fn one_decimal(lang: Lang, x: f64) -> String {
    fmt::decimal(lang, x, 1)
}

/// What a withheld cell says: it is small, or it would give away one that is.
fn suppressed_text(threshold: i64) -> String {
    format!("withheld (under {threshold}, or would reveal one)")
}

fn show_table(t: &RateTable, threshold: i64) -> ShownTable {
    let bars = t
        .rows
        .iter()
        .map(|r| Bar {
            label: r.label.clone(),
            value: r.rate,
            interval: r.rate_lower.zip(r.rate_upper),
            text: if r.suppressed {
                suppressed_text(threshold)
            } else {
                opt(r.rate, fmt::percent)
            },
        })
        .collect();
    let mut chart = BarChart::new(
        format!("{} by race, with 95% intervals", t.title),
        bars,
        STAFF,
    );
    chart.tick_format = percent_tick;
    let rows = t
        .rows
        .iter()
        .map(|r| ShownRate {
            label: r.label.clone(),
            numerator: r.numerator.map(thousands).unwrap_or_else(|| "—".into()),
            denominator: r.denominator.map(thousands).unwrap_or_else(|| "—".into()),
            rate: with_interval(r.rate, r.rate_lower, r.rate_upper, fmt::percent),
            ratio: with_interval(r.ratio, r.ratio_lower, r.ratio_upper, two_decimals),
            q: fmt_p(r.q_value),
            not_recorded: r.not_recorded.map(thousands).unwrap_or_else(|| "—".into()),
            note: if r.suppressed {
                suppressed_text(threshold)
            } else if r.group == analysis::REFERENCE {
                "reference group".into()
            } else if r.denominator == Some(0) {
                "no cases".into()
            } else {
                String::new()
            },
        })
        .collect();
    ShownTable {
        table: t.clone(),
        chart: chart.svg(),
        caption: rate_caption(t),
        denominator: plain_words(&t.denominator),
        not_recorded: plain_words(&t.not_recorded_label),
        rows,
    }
}

struct ShownBenchmark {
    b: Benchmark,
    /// Where the residents were counted, by name ("the whole agency", "Northside").
    place: String,
    chart: String,
    rows: Vec<[String; 7]>,
}

fn show_benchmark(b: &Benchmark, threshold: i64, districts: &[(String, String)]) -> ShownBenchmark {
    let bars = b
        .rows
        .iter()
        .map(|r| Bar {
            label: r.label.clone(),
            value: r.stops_per_1000_per_year,
            interval: None,
            text: if r.suppressed {
                suppressed_text(threshold)
            } else {
                opt(r.stops_per_1000_per_year, one_decimal)
            },
        })
        .collect();
    let chart = BarChart::new("Stops per 1,000 residents per year, by race", bars, STAFF);
    let rows = b
        .rows
        .iter()
        .map(|r| {
            [
                r.label.clone(),
                r.stops
                    .map(thousands)
                    .unwrap_or_else(|| suppressed_text(threshold)),
                thousands(r.population),
                format!(
                    "{} / {}",
                    opt(r.stop_share, fmt::percent),
                    opt(r.population_share, fmt::percent)
                ),
                opt(r.stops_per_1000_per_year, one_decimal),
                match r.ratio {
                    None if r.group == analysis::REFERENCE => "reference group".into(),
                    _ => with_interval(r.ratio, r.ratio_lower, r.ratio_upper, two_decimals),
                },
                fmt_p(r.q_value),
            ]
        })
        .collect();
    let place = if b.geography == "agency" {
        "the whole agency".to_string()
    } else {
        district_name(districts, &b.geography)
    };
    ShownBenchmark {
        place,
        b: b.clone(),
        chart: chart.svg(),
        rows,
    }
}

#[derive(Template)]
#[template(path = "transparency/analysis.html")]
struct AnalysisPage<'a> {
    ctx: &'a Ctx,
    scope: Scope,
    years: Vec<String>,
    districts: Vec<(String, String)>,
    stops: String,
    threshold: i64,
    benchmark: Option<ShownBenchmark>,
    tables: Vec<ShownTable>,
    districts_outcome: ShownDistricts,
    query: String,
    method: String,
}

/// The outcome test by district as one table: a row per district, a column per group; each
/// cell the rate with its interval, and the number of searches under it.
struct ShownDistricts {
    groups: Vec<String>,
    rows: Vec<(String, Vec<(String, String)>)>,
}

fn show_districts(
    d: &[analysis::DistrictOutcome],
    threshold: i64,
    names: &[(String, String)],
) -> ShownDistricts {
    let groups = analysis::GROUPS.iter().map(|g| race_label(g)).collect();
    let rows = d
        .iter()
        .map(|o| {
            let cells = analysis::GROUPS
                .iter()
                .map(|g| match o.table.rows.iter().find(|r| r.group == *g) {
                    Some(r) if r.suppressed => (suppressed_text(threshold), String::new()),
                    Some(r) => match (r.rate, r.rate_lower, r.rate_upper, r.denominator) {
                        (Some(x), Some(l), Some(u), Some(n)) => (
                            with_interval(Some(x), Some(l), Some(u), fmt::percent),
                            format!("{} searches", thousands(n)),
                        ),
                        _ => ("no searches".into(), String::new()),
                    },
                    None => ("—".into(), String::new()),
                })
                .collect();
            (district_name(names, &o.district), cells)
        })
        .collect();
    ShownDistricts { groups, rows }
}

fn query_of(scope: &Scope) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("year", &scope.year)
        .append_pair("district", &scope.district)
        .append_pair("stop_type", &scope.stop_type)
        .finish()
}

async fn analysis_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(scope): Query<Scope>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let scope = checked_scope(&state, agency.id, scope).await?;
    let (years, districts) = store::dimensions(&state.db, agency.id).await?;
    let names = district_names(&state, agency.id).await?;
    let result = compute_analysis(&state.db, agency, &scope).await?;
    let threshold = result.small_cell_threshold;
    page(AnalysisPage {
        ctx: &ctx,
        query: query_of(&scope),
        scope,
        years,
        districts: districts
            .iter()
            .map(|d| (d.clone(), district_name(&names, d)))
            .collect(),
        stops: thousands(result.stops),
        threshold,
        benchmark: result
            .benchmark
            .as_ref()
            .map(|b| show_benchmark(b, threshold, &names)),
        tables: result
            .rates
            .iter()
            .map(|t| show_table(t, threshold))
            .collect(),
        districts_outcome: show_districts(&result.outcome_by_district, threshold, &names),
        method: result.method.clone(),
    })
}

struct ShownFit {
    label: &'static str,
    formula: String,
    coefficient: String,
    se: String,
    /// The odds ratio with its interval.
    odds_ratio: String,
    p: String,
    cells: usize,
}

#[derive(Template)]
#[template(path = "transparency/darkness.html")]
struct DarknessPage<'a> {
    ctx: &'a Ctx,
    scope: Scope,
    years: Vec<String>,
    districts: Vec<(String, String)>,
    vod: Vod,
    fits: Vec<ShownFit>,
    not_fitted: Vec<(&'static str, String)>,
    chart: String,
    located: bool,
    query: String,
}

async fn darkness_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(scope): Query<Scope>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let scope = checked_scope(&state, agency.id, scope).await?;
    let (years, districts) = store::dimensions(&state.db, agency.id).await?;
    let names = district_names(&state, agency.id).await?;
    let districts = districts
        .iter()
        .map(|d| (d.clone(), district_name(&names, d)))
        .collect();
    let vod = compute_darkness(&state.db, agency, &scope).await?;
    let fits: Vec<ShownFit> = vod
        .fits
        .iter()
        .map(|f| ShownFit {
            label: f.form.label(),
            formula: f.formula.clone(),
            coefficient: format!("{:.4}", f.coefficient),
            se: format!("{:.4}", f.std_error),
            odds_ratio: with_interval(
                Some(f.odds_ratio),
                Some(f.odds_ratio_lower),
                Some(f.odds_ratio_upper),
                fmt::number,
            ),
            p: fmt_p(Some(f.p_value)),
            cells: f.cells,
        })
        .collect();
    let mut chart = BarChart::new(
        "Odds that a stopped driver is Black rather than White, dark vs daylight, with 95% intervals",
        vod.fits
            .iter()
            .map(|f| Bar {
                label: match f.form {
                    analysis::VodForm::Plain => "Clock time",
                    analysis::VodForm::District => "Time + district",
                    analysis::VodForm::Interaction => "Time × district",
                }
                .to_string(),
                value: Some(f.odds_ratio),
                interval: Some((f.odds_ratio_lower, f.odds_ratio_upper)),
                text: fmt::number(STAFF, f.odds_ratio),
            })
            .collect(),
        STAFF,
    );
    chart.reference = Some((1.0, "no effect".into()));
    page(DarknessPage {
        ctx: &ctx,
        query: query_of(&scope),
        scope,
        years,
        districts,
        not_fitted: vod
            .not_fitted
            .iter()
            .map(|n| (n.form.label(), n.reason.clone()))
            .collect(),
        fits,
        chart: chart.svg(),
        located: agency.latitude.is_some() && agency.longitude.is_some(),
        vod,
    })
}

/// Builds one of the downloadable tables (numbers as numbers, texts neutralised against
/// spreadsheet formulas by the shared CSV writer).
pub async fn export_csv(
    state: &AppState,
    agency: &crate::platform::agencies::Agency,
    file: &str,
    scope: &Scope,
) -> AppResult<String> {
    let mut w = CsvOut::buffer();
    let threshold = agency.small_cell_threshold;
    let header = |w: &mut CsvOut<Vec<u8>>, names: &str| w.texts(names.split(','));
    match file {
        "rates.csv" => {
            let r = compute_analysis(&state.db, agency, scope).await?;
            header(
                &mut w,
                "table,group,numerator,denominator,rate,rate_lower,rate_upper,ratio_to_white,ratio_lower,ratio_upper,p_value,bh_adjusted_p,suppressed,not_recorded",
            )?;
            let by_district = r
                .outcome_by_district
                .iter()
                .map(|d| (format!("hit_by_district:{}", d.district), &d.table));
            for (key, t) in r
                .rates
                .iter()
                .map(|t| (t.key.clone(), t))
                .chain(by_district)
            {
                for row in &t.rows {
                    w.text(&key)?;
                    w.text(&row.group)?;
                    w.opt_int(row.numerator)?;
                    w.opt_int(row.denominator)?;
                    for x in [
                        row.rate,
                        row.rate_lower,
                        row.rate_upper,
                        row.ratio,
                        row.ratio_lower,
                        row.ratio_upper,
                        row.p_value,
                        row.q_value,
                    ] {
                        w.opt_number(x)?;
                    }
                    w.text(if row.suppressed { "true" } else { "false" })?;
                    w.opt_int(row.not_recorded)?;
                    w.end()?;
                }
            }
        }
        "benchmark.csv" => {
            let r = compute_analysis(&state.db, agency, scope).await?;
            header(
                &mut w,
                "geography,group,stops,population,stop_share,population_share,stops_per_1000_per_year,ratio_to_white,ratio_lower,ratio_upper,p_value,bh_adjusted_p,suppressed,population_source",
            )?;
            if let Some(b) = &r.benchmark {
                for row in &b.rows {
                    w.text(&b.geography)?;
                    w.text(&row.group)?;
                    w.opt_int(row.stops)?;
                    w.int(row.population)?;
                    for x in [
                        row.stop_share,
                        row.population_share,
                        row.stops_per_1000_per_year,
                        row.ratio,
                        row.ratio_lower,
                        row.ratio_upper,
                        row.p_value,
                        row.q_value,
                    ] {
                        w.opt_number(x)?;
                    }
                    w.text(if row.suppressed { "true" } else { "false" })?;
                    w.text(&b.source)?;
                    w.end()?;
                }
            }
        }
        "darkness.csv" => {
            let vod = compute_darkness(&state.db, agency, scope).await?;
            header(
                &mut w,
                "form,formula,coefficient_is_dark,std_error,z,p_value,odds_ratio,odds_ratio_lower,odds_ratio_upper,cells,stops,stops_dark",
            )?;
            for f in &vod.fits {
                w.text(
                    &serde_json::to_value(f.form)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                )?;
                w.text(&f.formula)?;
                for x in [
                    f.coefficient,
                    f.std_error,
                    f.z,
                    f.p_value,
                    f.odds_ratio,
                    f.odds_ratio_lower,
                    f.odds_ratio_upper,
                ] {
                    w.number(x)?;
                }
                w.int(f.cells as i64)?;
                w.int(vod.stops)?;
                w.int(vod.stops_dark)?;
                w.end()?;
            }
        }
        "cells.csv" => {
            let cells = store::cells(&state.db, agency.id, scope).await?;
            header(
                &mut w,
                "month,district,stop_type,subject_race,stops,searches,searches_with_outcome,hits,discretionary_searches_with_outcome,discretionary_hits,frisks,arrests,citations,warnings,search_missing,frisk_missing,arrest_missing,citation_missing,warning_missing,discretionary_searches_missing_result",
            )?;
            let withheld = format!("<{threshold}");
            for c in cells {
                w.text(&c.month)?;
                w.text(&c.district)?;
                w.text(&c.stop_type)?;
                w.text(&c.subject_race)?;
                for n in [
                    c.stops,
                    c.searches,
                    c.searches_with_outcome,
                    c.hits,
                    c.discretionary_searches,
                    c.discretionary_hits,
                    c.frisks,
                    c.arrests,
                    c.citations,
                    c.warnings,
                    c.search_missing,
                    c.frisk_missing,
                    c.arrest_missing,
                    c.citation_missing,
                    c.warning_missing,
                    c.discretionary_missing_result,
                ] {
                    if analysis::suppressed(n, threshold) {
                        w.text(&withheld)?;
                    } else {
                        w.int(n)?;
                    }
                }
                w.end()?;
            }
        }
        _ => return Err(AppError::NotFound),
    }
    let bytes = w.into_inner().map_err(anyhow::Error::from)?;
    Ok(String::from_utf8(bytes).map_err(anyhow::Error::from)?)
}

async fn export(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, file)): Path<(String, String)>,
    Query(scope): Query<Scope>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let scope = checked_scope(&state, agency.id, scope).await?;
    let body = export_csv(&state, agency, &file, &scope).await?;
    audit::record(
        &state.db,
        agency.id,
        state.clock.unix(),
        &Event::new(&ctx.actor(), "stops.export", format!("stops:{file}"))
            .detail(serde_json::json!({
                "year": scope.year,
                "district": scope.district,
                "stop_type": scope.stop_type,
            }))
            .ip(ctx.ip().as_deref()),
    )
    .await?;
    let disposition = format!("attachment; filename=\"{}-stops-{file}\"", agency.slug);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
