//! How the columns of a file become a [`StopRef`]: the Stanford Open Policing Project's
//! standardised schema is built in; any other schema is described by a small TOML mapping file
//! that names the source column of each field, the date and time formats, the words the source
//! uses for yes, no and missing, and how its codes translate into SOPP's categories:
//!
//! ```toml
//! name = "Metro RMS export"
//! date_format = "%m/%d/%Y"          # chrono format; default %Y-%m-%d
//! time_format = "%H:%M"             # default: HH:MM:SS or HH:MM
//! true_values = ["Y", "YES"]        # default: TRUE, true, T, 1, Y, YES
//! false_values = ["N", "NO"]        # default: FALSE, false, F, 0, N, NO
//! missing_values = ["", "NA", "U"]  # default: "", NA, N/A, NULL
//!
//! [columns]                          # field = source column
//! date = "STOP_DATE"
//! time = "STOP_TIME"
//! subject_race = "RACE"
//! search_conducted = "SEARCHED"
//!
//! [values.subject_race]              # source code = SOPP category
//! W = "white"
//! B = "black"
//! ```
//!
//! Every field is optional except `date`. Unknown keys are refused, so a typo in a mapping
//! file is an error rather than a silently empty column.
//!
//! # Relations between fields
//!
//! Each value is checked alone, then the row's values against each other, as SOPP's
//! standardised data keeps them (its data readme and the predicated columns of its
//! standardisation code): a row that breaks one is invalid like a row with a bad value (the
//! file is refused, or the row skipped).
//!
//! - `contraband_found` is recorded only on a stop with a search: `search_conducted` TRUE.
//! - `search_basis` (the reason for the search) likewise needs `search_conducted` TRUE.
//! - `outcome` is the strictest action taken: outcome X needs X's own column (`arrest_made`,
//!   `citation_issued`, `warning_issued`) not FALSE, and no stricter action TRUE (arrest, then
//!   citation, then warning; a summons ranks below an arrest only).
//!
//! A frisk is not a search in SOPP's schema (`frisk_performed` is recorded apart from
//! `search_conducted`, and a frisk without a search is an ordinary stop), so no relation ties
//! the two.

use std::collections::{BTreeMap, HashMap};

use chrono::format::{Item, Parsed, StrftimeItems};
use serde::Deserialize;

use chrono::{NaiveDate, NaiveTime};

use crate::transparency::model::{
    FromOutcome, OUTCOMES, RACES, RowError, SEARCH_BASES, SEXES, STOP_TYPES, StopRef,
};

/// A field of a stop record, by its SOPP column name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    SourceId,
    Date,
    Time,
    Location,
    Lat,
    Lng,
    District,
    SubjectRace,
    SubjectSex,
    SubjectAge,
    OfficerId,
    StopType,
    ReasonForStop,
    Outcome,
    ArrestMade,
    CitationIssued,
    WarningIssued,
    FriskPerformed,
    SearchConducted,
    SearchBasis,
    ContrabandFound,
}

impl Field {
    pub const ALL: [Field; 21] = [
        Field::SourceId,
        Field::Date,
        Field::Time,
        Field::Location,
        Field::Lat,
        Field::Lng,
        Field::District,
        Field::SubjectRace,
        Field::SubjectSex,
        Field::SubjectAge,
        Field::OfficerId,
        Field::StopType,
        Field::ReasonForStop,
        Field::Outcome,
        Field::ArrestMade,
        Field::CitationIssued,
        Field::WarningIssued,
        Field::FriskPerformed,
        Field::SearchConducted,
        Field::SearchBasis,
        Field::ContrabandFound,
    ];

    /// The SOPP column name.
    pub fn name(self) -> &'static str {
        match self {
            Field::SourceId => "raw_row_number",
            Field::Date => "date",
            Field::Time => "time",
            Field::Location => "location",
            Field::Lat => "lat",
            Field::Lng => "lng",
            Field::District => "district",
            Field::SubjectRace => "subject_race",
            Field::SubjectSex => "subject_sex",
            Field::SubjectAge => "subject_age",
            Field::OfficerId => "officer_id_hash",
            Field::StopType => "type",
            Field::ReasonForStop => "reason_for_stop",
            Field::Outcome => "outcome",
            Field::ArrestMade => "arrest_made",
            Field::CitationIssued => "citation_issued",
            Field::WarningIssued => "warning_issued",
            Field::FriskPerformed => "frisk_performed",
            Field::SearchConducted => "search_conducted",
            Field::SearchBasis => "search_basis",
            Field::ContrabandFound => "contraband_found",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        // `officer_id` is accepted as well as SOPP's hashed column name.
        if name == "officer_id" {
            return Some(Field::OfficerId);
        }
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    fn is_boolean(self) -> bool {
        matches!(
            self,
            Field::ArrestMade
                | Field::CitationIssued
                | Field::WarningIssued
                | Field::FriskPerformed
                | Field::SearchConducted
                | Field::ContrabandFound
        )
    }

    /// The categories a coded field may take.
    fn categories(self) -> Option<&'static [&'static str]> {
        match self {
            Field::SubjectRace => Some(&RACES),
            Field::SubjectSex => Some(&SEXES),
            Field::StopType => Some(&STOP_TYPES),
            Field::Outcome => Some(&OUTCOMES),
            Field::SearchBasis => Some(&SEARCH_BASES),
            _ => None,
        }
    }
}

/// A mapping file as written (see the module documentation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    name: String,
    #[serde(default)]
    date_format: Option<String>,
    #[serde(default)]
    time_format: Option<String>,
    #[serde(default)]
    true_values: Option<Vec<String>>,
    #[serde(default)]
    false_values: Option<Vec<String>>,
    #[serde(default)]
    missing_values: Option<Vec<String>>,
    columns: BTreeMap<String, String>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
}

/// How to read one file format.
#[derive(Clone, Debug)]
pub struct Mapping {
    pub name: String,
    /// Field → source column name.
    columns: Vec<(Field, String)>,
    date_format: Option<String>,
    time_format: Option<String>,
    true_values: Vec<String>,
    false_values: Vec<String>,
    missing_values: Vec<String>,
    /// Field → (source code → category).
    values: HashMap<Field, HashMap<String, String>>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Mapping {
    /// The Stanford Open Policing Project's standardised schema, read as published.
    pub fn sopp() -> Mapping {
        Mapping {
            name: "sopp".into(),
            columns: Field::ALL.iter().map(|f| (*f, f.name().into())).collect(),
            date_format: None,
            time_format: None,
            true_values: strings(&["TRUE", "true", "T", "1"]),
            false_values: strings(&["FALSE", "false", "F", "0"]),
            missing_values: strings(&["", "NA", "N/A", "NULL"]),
            values: HashMap::new(),
        }
    }

    /// Reads a mapping file; the error names what is wrong with it.
    pub fn from_toml(text: &str) -> Result<Mapping, String> {
        let file: MappingFile =
            toml::from_str(text).map_err(|e| format!("mapping file: {}", e.message()))?;
        if file.name.trim().is_empty() {
            return Err("mapping file: name must not be empty".into());
        }
        let mut columns = Vec::new();
        for (field, column) in &file.columns {
            let f = Field::from_name(field).ok_or_else(|| {
                format!(
                    "mapping file: [columns] has unknown field {field:?}; fields are {}",
                    Field::ALL.map(Field::name).join(", ")
                )
            })?;
            if column.trim().is_empty() {
                return Err(format!(
                    "mapping file: [columns] {field} names an empty column"
                ));
            }
            columns.push((f, column.clone()));
        }
        if !columns.iter().any(|(f, _)| *f == Field::Date) {
            return Err("mapping file: [columns] must name the date column".into());
        }
        for (format, what) in [(&file.date_format, "date"), (&file.time_format, "time")] {
            if let Some(fmt) = format
                && StrftimeItems::new(fmt).parse_to_owned().is_err()
            {
                return Err(format!(
                    "mapping file: {what}_format {fmt:?} is not a valid format"
                ));
            }
        }
        let mut values = HashMap::new();
        for (field, codes) in file.values {
            let f = Field::from_name(&field)
                .ok_or_else(|| format!("mapping file: [values.{field}] names an unknown field"))?;
            if let Some(categories) = f.categories() {
                for (code, category) in &codes {
                    if !categories.contains(&category.as_str()) {
                        return Err(format!(
                            "mapping file: [values.{field}] maps {code:?} to {category:?}, which is not one of {}",
                            categories.join(", ")
                        ));
                    }
                }
            }
            values.insert(f, codes.into_iter().collect());
        }
        let defaults = Mapping::sopp();
        Ok(Mapping {
            name: file.name.trim().to_string(),
            columns,
            date_format: file.date_format,
            time_format: file.time_format,
            true_values: file
                .true_values
                .unwrap_or_else(|| strings(&["TRUE", "true", "T", "1", "Y", "YES"])),
            false_values: file
                .false_values
                .unwrap_or_else(|| strings(&["FALSE", "false", "F", "0", "N", "NO"])),
            missing_values: file.missing_values.unwrap_or(defaults.missing_values),
            values,
        })
    }

    /// Matches the mapping to a file's header: where each field is, and which columns are
    /// unused. Fails when the date column (or, for a mapping file, any named column) is absent.
    pub fn bind(&self, header: &csv::StringRecord) -> Result<BoundMapping, String> {
        let names: Vec<&str> = header.iter().map(str::trim).collect();
        let mut positions = Vec::new();
        let mut used = vec![false; names.len()];
        for (field, column) in &self.columns {
            let found = names.iter().position(|n| n == column).or_else(|| {
                // SOPP files name the officer column either way.
                (self.name == "sopp" && *field == Field::OfficerId)
                    .then(|| names.iter().position(|n| *n == "officer_id"))
                    .flatten()
            });
            match found {
                Some(i) => {
                    used[i] = true;
                    positions.push(Position {
                        field: *field,
                        index: i,
                        column: names[i].to_string(),
                        codes: self.values.get(field).cloned(),
                    });
                }
                None if *field == Field::Date || self.name != "sopp" => {
                    return Err(format!(
                        "the header has no column {column:?} (for {}); it has: {}",
                        field.name(),
                        names.join(", ")
                    ));
                }
                None => {}
            }
        }
        let ignored = names
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(n, _)| n.to_string())
            .collect();
        let items = |format: &str| {
            StrftimeItems::new(format)
                .parse_to_owned()
                .map_err(|e| format!("the format {format:?} is not a chrono format: {e}"))
        };
        let date_format = items(self.date_format.as_deref().unwrap_or("%Y-%m-%d"))?;
        let time_formats = match &self.time_format {
            Some(f) => vec![items(f)?],
            None => vec![items("%H:%M:%S")?, items("%H:%M")?],
        };
        Ok(BoundMapping {
            mapping: self.clone(),
            positions,
            ignored,
            date_format,
            time_formats,
        })
    }
}

/// A mapping matched to one file's header.
#[derive(Clone, Debug)]
pub struct BoundMapping {
    mapping: Mapping,
    /// Each field read, with its column's position and name in the file.
    positions: Vec<Position>,
    pub ignored: Vec<String>,
    /// The date and time formats, parsed once rather than for every row.
    date_format: Vec<Item<'static>>,
    time_formats: Vec<Vec<Item<'static>>>,
}

#[derive(Clone, Debug)]
struct Position {
    field: Field,
    index: usize,
    column: String,
    /// The mapping's codes for the field (source code → value), if it has any.
    codes: Option<HashMap<String, String>>,
}

fn parse_with(value: &str, items: &[Item<'static>]) -> Option<Parsed> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, value, items.iter()).ok()?;
    Some(parsed)
}

/// `value` without the white space around it; most values have none, which two bytes show.
fn trim(value: &str) -> &str {
    match value.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => value,
        [only] if only.is_ascii_graphic() => value,
        _ => value.trim(),
    }
}

/// `digits` as a number when it is only ASCII digits.
fn digits(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// YYYY-MM-DD, the common case of the default date format, without chrono's general parser
/// (other spellings the format allows fall through to it).
fn iso_date(v: &str) -> Option<NaiveDate> {
    let b = v.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(&b[..4])? as i32, digits(&b[5..7])?, digits(&b[8..])?)
}

/// HH:MM:SS or HH:MM, the common cases of the default time formats.
fn iso_time(v: &str) -> Option<NaiveTime> {
    let b = v.as_bytes();
    let (h, m) = match b.len() {
        5 | 8 if b[2] == b':' => (digits(&b[..2])?, digits(&b[3..5])?),
        _ => return None,
    };
    let s = match b.len() {
        8 if b[5] == b':' => digits(&b[6..])?,
        8 => return None,
        _ => 0,
    };
    // A leap second (:60) is left to chrono.
    if s > 59 {
        return None;
    }
    NaiveTime::from_hms_opt(h, m, s)
}

impl BoundMapping {
    /// Reads one data row (at file line `line`): the stop, or every problem with it.
    pub fn read<'a>(
        &'a self,
        row: &'a csv::StringRecord,
        line: u64,
    ) -> Result<StopRef<'a>, Vec<RowError>> {
        let m = &self.mapping;
        let mut r = StopRef::default();
        let mut errors = Vec::new();
        let mut have_date = false;
        for Position {
            field,
            index,
            column,
            codes,
        } in &self.positions
        {
            let raw = trim(row.get(*index).unwrap_or(""));
            if m.missing_values.iter().any(|v| v == raw) {
                continue;
            }
            let mut err = |message: String| {
                errors.push(RowError {
                    line,
                    column: column.to_string(),
                    value: raw.chars().take(80).collect(),
                    message,
                })
            };
            // Recode first (a mapping's codes), then check against the categories.
            let value: &str = match codes {
                Some(codes) => codes.get(raw).map_or(raw, String::as_str),
                None => raw,
            };
            if field.is_boolean() {
                let b = if m.true_values.iter().any(|v| v == value) {
                    true
                } else if m.false_values.iter().any(|v| v == value) {
                    false
                } else {
                    err(format!(
                        "is not yes or no (expected one of {} or {})",
                        m.true_values.join("/"),
                        m.false_values.join("/")
                    ));
                    continue;
                };
                let slot = match field {
                    Field::ArrestMade => &mut r.arrest_made,
                    Field::CitationIssued => &mut r.citation_issued,
                    Field::WarningIssued => &mut r.warning_issued,
                    Field::FriskPerformed => &mut r.frisk_performed,
                    Field::SearchConducted => &mut r.search_conducted,
                    _ => &mut r.contraband_found,
                };
                *slot = Some(b);
                continue;
            }
            if let Some(categories) = field.categories() {
                match categories
                    .iter()
                    .position(|c| c.eq_ignore_ascii_case(value))
                {
                    Some(c) => {
                        let v = Some(c as u8);
                        match field {
                            Field::SubjectRace => r.subject_race = v,
                            Field::SubjectSex => r.subject_sex = v,
                            Field::StopType => r.stop_type = v,
                            Field::Outcome => r.outcome = v,
                            _ => r.search_basis = v,
                        }
                    }
                    None => err(format!("is not one of {}", categories.join(", "))),
                }
                continue;
            }
            match field {
                Field::Date => {
                    let parsed = match m.date_format {
                        None => iso_date(value),
                        Some(_) => None,
                    }
                    .or_else(|| {
                        parse_with(value, &self.date_format).and_then(|p| p.to_naive_date().ok())
                    });
                    match parsed {
                        Some(d) if (1900..=2200).contains(&chrono::Datelike::year(&d)) => {
                            r.date = d;
                            have_date = true;
                        }
                        _ => err(format!(
                            "is not a date (expected {})",
                            m.date_format.as_deref().unwrap_or("YYYY-MM-DD")
                        )),
                    }
                }
                Field::Time => {
                    let parsed = match m.time_format {
                        None => iso_time(value),
                        Some(_) => None,
                    }
                    .or_else(|| {
                        self.time_formats.iter().find_map(|items| {
                            parse_with(value, items).and_then(|p| p.to_naive_time().ok())
                        })
                    });
                    match parsed {
                        Some(t) => r.time = Some(t),
                        None => err(format!(
                            "is not a time of day (expected {})",
                            m.time_format.as_deref().unwrap_or("HH:MM:SS or HH:MM")
                        )),
                    }
                }
                Field::Lat | Field::Lng => {
                    let limit = if *field == Field::Lat { 90.0 } else { 180.0 };
                    match value.parse::<f64>() {
                        Ok(x) if x.is_finite() && x.abs() <= limit => {
                            if *field == Field::Lat {
                                r.lat = Some(x)
                            } else {
                                r.lng = Some(x)
                            }
                        }
                        _ => err(format!("is not a coordinate between -{limit} and {limit}")),
                    }
                }
                Field::SubjectAge => match value.parse::<f64>() {
                    Ok(x) if x.is_finite() && (0.0..=120.0).contains(&x) => {
                        r.subject_age = Some(x.round() as i64)
                    }
                    _ => err("is not an age between 0 and 120".into()),
                },
                _ => {
                    if value.len() > 500 && value.chars().count() > 500 {
                        err("is longer than 500 characters".into());
                        continue;
                    }
                    let v = Some(value);
                    match field {
                        Field::SourceId => r.source_id = v,
                        Field::Location => r.location = v,
                        Field::District => r.district = v,
                        Field::OfficerId => r.officer_id = v,
                        _ => r.reason_for_stop = v,
                    }
                }
            }
        }
        if !have_date && !errors.iter().any(|e| e.column == self.date_column()) {
            errors.push(RowError {
                line,
                column: self.date_column().to_string(),
                value: String::new(),
                message: "is missing: every stop needs a date".into(),
            });
        }
        self.check_relations(&r, row, line, &mut errors);
        if errors.is_empty() {
            Ok(r)
        } else {
            Err(errors)
        }
    }

    /// The relations between fields that SOPP's standardised schema keeps (the module
    /// documentation lists them): a few comparisons of values already read.
    fn check_relations(
        &self,
        r: &StopRef,
        row: &csv::StringRecord,
        line: u64,
        errors: &mut Vec<RowError>,
    ) {
        let searched = r.search_conducted == Some(true);
        let mut refuse = |field: Field, message: String| {
            let (column, value) = self.column_value(field, row);
            errors.push(RowError {
                line,
                column,
                value,
                message,
            });
        };
        if !searched {
            let search = self.described(Field::SearchConducted, row);
            if r.contraband_found.is_some() {
                refuse(
                    Field::ContrabandFound,
                    format!(
                        "is recorded on a stop without a search ({search}): contraband_found is recorded only when search_conducted is TRUE"
                    ),
                );
            }
            if r.search_basis.is_some() {
                refuse(
                    Field::SearchBasis,
                    format!(
                        "is recorded on a stop without a search ({search}): search_basis is recorded only when search_conducted is TRUE"
                    ),
                );
            }
        }
        // `outcome` is the strictest action taken: arrest, then citation, then warning.
        let Some(outcome) = r.outcome.map(|o| OUTCOMES[usize::from(o)]) else {
            return;
        };
        let actions = [
            (Field::ArrestMade, r.arrest_made),
            (Field::CitationIssued, r.citation_issued),
            (Field::WarningIssued, r.warning_issued),
        ];
        let rank = ["arrest", "citation", "warning"]
            .iter()
            .position(|a| *a == outcome);
        for (i, (field, value)) in actions.into_iter().enumerate() {
            let said = match (rank, value) {
                // The outcome's own action, recorded as not taken.
                (Some(k), Some(false)) if k == i => "FALSE",
                // A stricter action than the outcome, recorded as taken (a summons is not
                // ranked against a citation or a warning, only against an arrest).
                (Some(k), Some(true)) if i < k => "TRUE",
                (None, Some(true)) if i == 0 => "TRUE",
                _ => continue,
            };
            let other = self.described(field, row);
            refuse(
                Field::Outcome,
                format!(
                    "does not agree with {other}: outcome is the strictest action taken (arrest, then citation, then warning), so {} cannot be {said} when outcome is {outcome:?}",
                    field.name()
                ),
            );
        }
    }

    /// The file's column of a field and its value in `row` ("" when the file has no column).
    fn column_value(&self, field: Field, row: &csv::StringRecord) -> (String, String) {
        match self.positions.iter().find(|p| p.field == field) {
            Some(p) => (
                p.column.clone(),
                trim(row.get(p.index).unwrap_or(""))
                    .chars()
                    .take(80)
                    .collect(),
            ),
            None => (field.name().to_string(), String::new()),
        }
    }

    /// A field's column and value as a report names them: `search_conducted "FALSE"`, or that
    /// the file has no such column.
    fn described(&self, field: Field, row: &csv::StringRecord) -> String {
        match self.positions.iter().find(|p| p.field == field) {
            Some(p) => format!(
                "{} {:?}",
                p.column,
                trim(row.get(p.index).unwrap_or(""))
                    .chars()
                    .take(80)
                    .collect::<String>()
            ),
            None => format!("the file has no {} column", field.name()),
        }
    }

    /// Which of arrest, citation and warning the file's stops count from `outcome`: those the
    /// file has no column for.
    pub fn from_outcome(&self) -> FromOutcome {
        let has = |field: Field| self.positions.iter().any(|p| p.field == field);
        FromOutcome {
            arrest: !has(Field::ArrestMade),
            citation: !has(Field::CitationIssued),
            warning: !has(Field::WarningIssued),
        }
    }

    fn date_column(&self) -> &str {
        self.mapping
            .columns
            .iter()
            .find(|(f, _)| *f == Field::Date)
            .map(|(_, c)| c.as_str())
            .unwrap_or("date")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(cols.to_vec())
    }

    #[test]
    fn sopp_rows_are_read_and_bad_values_named() {
        let bound = Mapping::sopp()
            .bind(&header(&[
                "date",
                "time",
                "subject_race",
                "search_conducted",
                "extra",
            ]))
            .unwrap();
        assert_eq!(bound.ignored, vec!["extra".to_string()]);
        let row = header(&["2017-06-27", "20:34:40", "black", "TRUE", "x"]);
        let r = bound.read(&row, 2).unwrap().to_record();
        assert_eq!(r.subject_race.as_deref(), Some("black"));
        assert_eq!(r.search_conducted, Some(true));
        assert_eq!(r.time, NaiveTime::from_hms_opt(20, 34, 40));
        let errors = bound
            .read(&header(&["2017-13-01", "25:00", "purple", "maybe", ""]), 9)
            .unwrap_err();
        let cols: Vec<&str> = errors.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(cols, ["date", "time", "subject_race", "search_conducted"]);
        assert!(
            errors[0]
                .to_string()
                .starts_with("line 9, column date: \"2017-13-01\"")
        );
        // NA is missing, not an error; a missing date is.
        let errors = bound
            .read(&header(&["NA", "NA", "NA", "NA", ""]), 3)
            .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("needs a date"));
    }

    /// The quick readings of the default formats agree with chrono's wherever they answer,
    /// and leave the rest to it.
    #[test]
    fn quick_dates_and_times_agree_with_chrono() {
        let items = |f: &str| StrftimeItems::new(f).parse_to_owned().unwrap();
        let date = items("%Y-%m-%d");
        let times = [items("%H:%M:%S"), items("%H:%M")];
        let chrono_date = |v: &str| parse_with(v, &date).and_then(|p| p.to_naive_date().ok());
        let chrono_time = |v: &str| {
            times
                .iter()
                .find_map(|t| parse_with(v, t).and_then(|p| p.to_naive_time().ok()))
        };
        for v in [
            "2017-06-27",
            "2016-02-29",
            "2017-02-29",
            "2017-13-01",
            "2017-00-10",
            "0000-01-01",
            "2017-1-05",
            "2017/06/27",
            "20x7-06-27",
            "2017-06-2x",
            "+2017-06-27",
        ] {
            if let Some(d) = iso_date(v) {
                assert_eq!(Some(d), chrono_date(v), "{v}");
            }
        }
        assert!(iso_date("2017-06-27").is_some() && iso_date("2017-1-05").is_none());
        for v in [
            "20:34:40", "00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:30:60", "7:05:00",
            "07:05", "07:5", "07-05-00", "ab:cd:ef", "12:30:4x",
        ] {
            if let Some(t) = iso_time(v) {
                assert_eq!(Some(t), chrono_time(v), "{v}");
            }
        }
        assert!(iso_time("12:30:60").is_none(), "leap seconds are chrono's");
        assert_eq!(iso_time("07:05"), NaiveTime::from_hms_opt(7, 5, 0));
    }

    #[test]
    fn values_are_trimmed_as_str_trim_does() {
        for v in [
            "",
            " ",
            "a",
            " a",
            "a ",
            " a b ",
            "\u{a0}x\u{a0}",
            "x\u{2003}",
            "é",
            "\té\n",
            "ab",
        ] {
            assert_eq!(trim(v), v.trim(), "{v:?}");
        }
    }

    #[test]
    fn a_file_without_a_date_column_is_refused() {
        let err = Mapping::sopp()
            .bind(&header(&["time", "subject_race"]))
            .unwrap_err();
        assert!(err.contains("\"date\""), "{err}");
    }

    #[test]
    fn mapping_files_recode_and_refuse_typos() {
        let m = Mapping::from_toml(
            r#"
            name = "Metro"
            date_format = "%m/%d/%Y"
            time_format = "%H%M"
            [columns]
            date = "STOP_DATE"
            time = "HHMM"
            subject_race = "RACE"
            search_conducted = "SRCH"
            [values.subject_race]
            W = "white"
            B = "black"
            "#,
        )
        .unwrap();
        let bound = m
            .bind(&header(&["STOP_DATE", "HHMM", "RACE", "SRCH"]))
            .unwrap();
        let row = header(&["06/27/2017", "2107", "B", "Y"]);
        let r = bound.read(&row, 2).unwrap().to_record();
        assert_eq!(r.date, NaiveDate::from_ymd_opt(2017, 6, 27).unwrap());
        assert_eq!(r.time, NaiveTime::from_hms_opt(21, 7, 0));
        assert_eq!(r.subject_race.as_deref(), Some("black"));
        assert_eq!(r.search_conducted, Some(true));
        let e = bound
            .read(&header(&["06/27/2017", "2107", "Q", "Y"]), 5)
            .unwrap_err();
        assert_eq!(e[0].column, "RACE");

        assert!(
            Mapping::from_toml("name = \"x\"\n[columns]\ndate = \"D\"\nrace = \"R\"\n")
                .unwrap_err()
                .contains("unknown field \"race\"")
        );
        assert!(
            Mapping::from_toml("name = \"x\"\n[columns]\ntime = \"T\"\n")
                .unwrap_err()
                .contains("date")
        );
        assert!(
            Mapping::from_toml(
                "name = \"x\"\n[columns]\ndate = \"D\"\n[values.subject_race]\nW = \"caucasian\"\n"
            )
            .unwrap_err()
            .contains("caucasian")
        );
        // A mapped column the file lacks is an error naming it.
        let err = m.bind(&header(&["STOP_DATE", "RACE", "SRCH"])).unwrap_err();
        assert!(err.contains("HHMM"), "{err}");
    }
}
