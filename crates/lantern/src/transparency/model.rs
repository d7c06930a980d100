//! The shapes of stop data: one stop record as Lantern keeps it (the Stanford Open Policing
//! Project's standardised schema, the subset the analyses and open data use), the categories
//! each coded field may take, and what an import reports back.

use chrono::{NaiveDate, NaiveTime};
use serde::Serialize;

/// Race/ethnicity categories, as SOPP codes them (Hispanic of any race is "hispanic").
pub const RACES: [&str; 6] = [
    "white",
    "black",
    "hispanic",
    "asian/pacific islander",
    "other",
    "unknown",
];
pub const SEXES: [&str; 2] = ["male", "female"];
pub const STOP_TYPES: [&str; 2] = ["vehicular", "pedestrian"];
pub const OUTCOMES: [&str; 4] = ["arrest", "citation", "warning", "summons"];
pub const SEARCH_BASES: [&str; 5] = ["k9", "plain view", "consent", "probable cause", "other"];

/// A race label for people: "asian/pacific islander" → "Asian/Pacific Islander".
pub fn race_label(race: &str) -> String {
    match race {
        "white" => "White".into(),
        "black" => "Black".into(),
        "hispanic" => "Hispanic".into(),
        "asian/pacific islander" => "Asian/Pacific Islander".into(),
        "other" => "Other".into(),
        "unknown" | "" => "Unknown".into(),
        other => other.to_string(),
    }
}

/// One stop of one subject, validated. `None` means the source did not say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StopRecord {
    /// The source system's own row id, when it has one (SOPP `raw_row_number`).
    pub source_id: Option<String>,
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
    pub location: Option<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub district: Option<String>,
    pub subject_race: Option<String>,
    pub subject_sex: Option<String>,
    pub subject_age: Option<i64>,
    pub officer_id: Option<String>,
    pub stop_type: Option<String>,
    pub reason_for_stop: Option<String>,
    pub outcome: Option<String>,
    pub arrest_made: Option<bool>,
    pub citation_issued: Option<bool>,
    pub warning_issued: Option<bool>,
    pub frisk_performed: Option<bool>,
    pub search_conducted: Option<bool>,
    pub search_basis: Option<String>,
    pub contraband_found: Option<bool>,
}

/// A stop as an import reads it, before it is stored: texts borrowed from the file's row (or
/// the mapping), coded fields as indexes into their category lists ([`RACES`], [`SEXES`],
/// [`STOP_TYPES`], [`OUTCOMES`], [`SEARCH_BASES`]), so that reading a row allocates nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StopRef<'a> {
    pub source_id: Option<&'a str>,
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
    pub location: Option<&'a str>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub district: Option<&'a str>,
    pub subject_race: Option<u8>,
    pub subject_sex: Option<u8>,
    pub subject_age: Option<i64>,
    pub officer_id: Option<&'a str>,
    pub stop_type: Option<u8>,
    pub reason_for_stop: Option<&'a str>,
    pub outcome: Option<u8>,
    pub arrest_made: Option<bool>,
    pub citation_issued: Option<bool>,
    pub warning_issued: Option<bool>,
    pub frisk_performed: Option<bool>,
    pub search_conducted: Option<bool>,
    pub search_basis: Option<u8>,
    pub contraband_found: Option<bool>,
}

/// The index of `value` in `categories`, as [`StopRef`] codes it.
pub fn category_code(categories: &[&str], value: &str) -> Option<u8> {
    categories.iter().position(|c| *c == value).map(|i| i as u8)
}

impl StopRecord {
    /// The record as an import writes it; fails naming the first coded field whose value is
    /// not one of its categories.
    pub fn as_ref(&self) -> Result<StopRef<'_>, String> {
        fn code(
            field: &str,
            categories: &[&str],
            value: &Option<String>,
        ) -> Result<Option<u8>, String> {
            value
                .as_deref()
                .map(|v| {
                    category_code(categories, v).ok_or_else(|| {
                        format!("{field} {v:?} is not one of {}", categories.join(", "))
                    })
                })
                .transpose()
        }
        Ok(StopRef {
            source_id: self.source_id.as_deref(),
            date: self.date,
            time: self.time,
            location: self.location.as_deref(),
            lat: self.lat,
            lng: self.lng,
            district: self.district.as_deref(),
            subject_race: code("subject_race", &RACES, &self.subject_race)?,
            subject_sex: code("subject_sex", &SEXES, &self.subject_sex)?,
            subject_age: self.subject_age,
            officer_id: self.officer_id.as_deref(),
            stop_type: code("type", &STOP_TYPES, &self.stop_type)?,
            reason_for_stop: self.reason_for_stop.as_deref(),
            outcome: code("outcome", &OUTCOMES, &self.outcome)?,
            arrest_made: self.arrest_made,
            citation_issued: self.citation_issued,
            warning_issued: self.warning_issued,
            frisk_performed: self.frisk_performed,
            search_conducted: self.search_conducted,
            search_basis: code("search_basis", &SEARCH_BASES, &self.search_basis)?,
            contraband_found: self.contraband_found,
        })
    }
}

impl StopRef<'_> {
    pub fn to_record(&self) -> StopRecord {
        let text = |v: Option<&str>| v.map(str::to_string);
        let category =
            |categories: &[&str], v: Option<u8>| v.map(|c| categories[usize::from(c)].to_string());
        StopRecord {
            source_id: text(self.source_id),
            date: self.date,
            time: self.time,
            location: text(self.location),
            lat: self.lat,
            lng: self.lng,
            district: text(self.district),
            subject_race: category(&RACES, self.subject_race),
            subject_sex: category(&SEXES, self.subject_sex),
            subject_age: self.subject_age,
            officer_id: text(self.officer_id),
            stop_type: category(&STOP_TYPES, self.stop_type),
            reason_for_stop: text(self.reason_for_stop),
            outcome: category(&OUTCOMES, self.outcome),
            arrest_made: self.arrest_made,
            citation_issued: self.citation_issued,
            warning_issued: self.warning_issued,
            frisk_performed: self.frisk_performed,
            search_conducted: self.search_conducted,
            search_basis: category(&SEARCH_BASES, self.search_basis),
            contraband_found: self.contraband_found,
        }
    }
}

/// One problem with one value of one row, named as the file names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// Line of the file (the header is line 1).
    pub line: u64,
    /// The column as the file names it.
    pub column: String,
    pub value: String,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {:?} {}",
            self.line, self.column, self.value, self.message
        )
    }
}

/// What an import did, or would have done.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Data rows read (the header not counted).
    pub rows_read: u64,
    /// Stops added.
    pub rows_inserted: u64,
    /// Valid rows already in the database (from an earlier import): skipped.
    pub rows_duplicate: u64,
    /// Rows with at least one invalid value.
    pub rows_invalid: u64,
    /// The first problems found (at most [`MAX_REPORTED_ERRORS`]), in file order.
    pub errors: Vec<ReportedError>,
    /// Problems found beyond those listed.
    pub more_errors: u64,
    /// Columns of the file the format does not use.
    pub ignored_columns: Vec<String>,
    /// Whether invalid rows were skipped (true) or made the whole import fail (false).
    pub skip_invalid: bool,
    /// True when nothing was written because of invalid rows.
    pub rejected: bool,
}

/// A row error as reports store it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReportedError {
    pub line: u64,
    pub column: String,
    pub value: String,
    pub message: String,
}

impl From<RowError> for ReportedError {
    fn from(e: RowError) -> Self {
        ReportedError {
            line: e.line,
            column: e.column,
            value: e.value,
            message: e.message,
        }
    }
}

impl std::fmt::Display for ReportedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {:?} {}",
            self.line, self.column, self.value, self.message
        )
    }
}

pub const MAX_REPORTED_ERRORS: usize = 100;

/// A stored import, as the staff pages and the API show it.
#[derive(Clone, Debug, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct StopImport {
    pub id: i64,
    pub file_name: String,
    pub format: String,
    pub sha256: String,
    /// queued, running, done or failed.
    pub status: String,
    pub skip_invalid: bool,
    pub rows_read: i64,
    pub rows_inserted: i64,
    pub rows_duplicate: i64,
    pub rows_invalid: i64,
    /// The validation report (JSON), empty while queued.
    #[serde(skip)]
    pub report: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl StopImport {
    pub fn parsed_report(&self) -> Option<ImportReport> {
        serde_json::from_str(&self.report).ok()
    }

    /// The report's message when the import failed for a reason other than invalid rows.
    pub fn failure(&self) -> Option<String> {
        serde_json::from_str::<serde_json::Value>(&self.report)
            .ok()
            .and_then(|v| v.get("failure").and_then(|f| f.as_str()).map(String::from))
    }
}

/// One cell of the analysis store.
#[derive(Clone, Debug, Default, sqlx::FromRow, Serialize, PartialEq)]
pub struct Cell {
    pub month: String,
    pub district: String,
    pub stop_type: String,
    pub subject_race: String,
    pub stops: i64,
    pub searches: i64,
    pub searches_with_outcome: i64,
    pub hits: i64,
    /// Searches whose basis is not `other` (incident to arrest, inventory, warrant), with a
    /// recorded result; a search of unrecorded basis counts as discretionary.
    pub discretionary_searches: i64,
    pub discretionary_hits: i64,
    pub frisks: i64,
    pub arrests: i64,
    pub citations: i64,
    pub warnings: i64,
    /// Stops that did not record `search_conducted`, `frisk_performed`, arrest, citation and
    /// warning: each rate is over the stops that recorded its field (SOPP's convention, R's
    /// `mean(x, na.rm = TRUE)`), not counting a missing value as "no".
    pub search_missing: i64,
    pub frisk_missing: i64,
    pub arrest_missing: i64,
    pub citation_missing: i64,
    pub warning_missing: i64,
    /// Discretionary searches that did not record `contraband_found` (left out of the hit rate).
    pub discretionary_missing_result: i64,
}

/// Which of arrest, citation and warning an import counts from `outcome` (SOPP's strictest
/// action taken) because its file has no `arrest_made`, `citation_issued` or `warning_issued`
/// column. Where the file has the column, its value is what counts, and a missing value is
/// missing whatever `outcome` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FromOutcome {
    pub arrest: bool,
    pub citation: bool,
    pub warning: bool,
}

impl FromOutcome {
    /// The fields, each with its SOPP column and its `outcome` category.
    pub const FIELDS: [(&'static str, &'static str); 3] = [
        ("arrest_made", "arrest"),
        ("citation_issued", "citation"),
        ("warning_issued", "warning"),
    ];

    fn flags(self) -> [bool; 3] {
        [self.arrest, self.citation, self.warning]
    }

    /// As `stop_imports.derived_from_outcome` holds it: the columns counted from `outcome`,
    /// comma-separated ("" for none).
    pub fn to_text(self) -> String {
        Self::FIELDS
            .iter()
            .zip(self.flags())
            .filter(|(_, on)| *on)
            .map(|((column, _), _)| *column)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn from_text(text: &str) -> FromOutcome {
        let has = |column: &str| text.split(',').any(|c| c == column);
        FromOutcome {
            arrest: has("arrest_made"),
            citation: has("citation_issued"),
            warning: has("warning_issued"),
        }
    }

    /// Whether the `i`-th field (in [`FromOutcome::FIELDS`] order) is counted from `outcome`.
    pub fn derived(self, i: usize) -> bool {
        self.flags()[i]
    }
}
