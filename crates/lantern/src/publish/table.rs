//! A published table: named columns and rows whose numbers are [`Disclosed`]. The page's
//! `<table>`, the chart, the CSV and the JSON download of a measure are all written from one
//! of these, so a cell withheld in one is withheld in all.

use serde::Serialize;
use serde::ser::SerializeMap;
use stats::disclosure::Disclosed;

use crate::platform::csv_out::CsvOut;
use crate::web::fmt;
use crate::web::i18n::Lang;

/// What a column holds, which decides how it is written for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Text,
    /// A whole number of people or events.
    Count,
    /// A share, 0 to 1, written as a percentage.
    Share,
    /// A ratio of two rates (1 = the same).
    Ratio,
    /// A score from 0 to 100 (a survey's trust score), written with one decimal.
    Score,
    /// Any other number (a rate per 1,000 residents, a p-value).
    Number,
}

impl Kind {
    /// A value of this kind written for people, in their language.
    pub fn format(self, lang: Lang, x: f64) -> String {
        match self {
            Kind::Count => fmt::int(lang, x.round() as i64),
            Kind::Share => fmt::percent(lang, x),
            Kind::Ratio => fmt::decimal(lang, x, 2),
            Kind::Score => fmt::decimal(lang, x, 1),
            Kind::Number if x != 0.0 && x.abs() < 0.001 => {
                format!("< {}", fmt::decimal(lang, 0.001, 3))
            }
            Kind::Number | Kind::Text => {
                fmt::decimal(lang, x, if x.abs() >= 100.0 { 0 } else { 2 })
            }
        }
    }
}

/// A column: its machine name (CSV header, JSON key), its label for people, its kind, and
/// what it means (the data dictionary).
#[derive(Clone, Debug, Serialize)]
pub struct Column {
    pub key: &'static str,
    pub label: String,
    pub kind: Kind,
    pub description: String,
    /// The next two columns are this one's 95% interval: pages write the three as one cell,
    /// "12.3% (10.1%–14.6%)"; downloads keep three columns.
    pub with_interval: bool,
}

impl Column {
    pub fn new(key: &'static str, label: impl Into<String>, kind: Kind) -> Column {
        Column {
            key,
            label: label.into(),
            kind,
            description: String::new(),
            with_interval: false,
        }
    }

    pub fn with_interval(mut self) -> Column {
        self.with_interval = true;
        self
    }

    pub fn described(mut self, description: impl Into<String>) -> Column {
        self.description = description.into();
        self
    }
}

/// One cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Number(Disclosed<f64>),
    /// Not applicable or not computed (a ratio of the reference group to itself).
    Empty,
}

impl Value {
    pub fn count(n: i64) -> Value {
        Value::Number(Disclosed::Shown(n as f64))
    }

    /// A number, or withheld when `None` (the analyses give withheld cells as `None`).
    pub fn maybe(x: Option<f64>, withheld: bool) -> Value {
        match (x, withheld) {
            (_, true) => Value::Number(Disclosed::Withheld),
            (Some(v), false) => Value::Number(Disclosed::Shown(v)),
            (None, false) => Value::Empty,
        }
    }

    pub fn number(&self) -> Option<f64> {
        match self {
            Value::Number(Disclosed::Shown(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn is_withheld(&self) -> bool {
        matches!(self, Value::Number(Disclosed::Withheld))
    }
}

/// A table as the public sees it.
#[derive(Clone, Debug)]
pub struct PublicTable {
    pub caption: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    /// The small-cell threshold the table was withheld by (said under the table).
    pub threshold: i64,
}

impl PublicTable {
    pub fn has_withheld(&self) -> bool {
        self.rows.iter().flatten().any(Value::is_withheld)
    }

    /// The table as CSV: a header of column keys, then the rows. Numbers are written as
    /// they are; a withheld cell is empty (the data dictionary says so). All text goes
    /// through the formula-safe writer.
    pub fn to_csv(&self) -> csv::Result<Vec<u8>> {
        let mut out = CsvOut::buffer();
        for c in &self.columns {
            out.text(c.key)?;
        }
        out.end()?;
        for row in &self.rows {
            for cell in row {
                match cell {
                    Value::Text(t) => out.text(t)?,
                    Value::Number(Disclosed::Shown(v)) => out.number(*v)?,
                    Value::Number(Disclosed::Withheld) | Value::Empty => out.text("")?,
                }
            }
            out.end()?;
        }
        out.take()
    }

    /// The rows as JSON objects keyed by column; a withheld number is `null` and the row
    /// says `"withheld": true`.
    pub fn json_rows(&self) -> Vec<JsonRow<'_>> {
        self.rows
            .iter()
            .map(|cells| JsonRow {
                columns: &self.columns,
                cells,
            })
            .collect()
    }
}

/// A row of a [`PublicTable`] written as a JSON object.
pub struct JsonRow<'a> {
    columns: &'a [Column],
    cells: &'a [Value],
}

impl Serialize for JsonRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.columns.len() + 1))?;
        for (c, v) in self.columns.iter().zip(self.cells) {
            match v {
                Value::Text(t) => map.serialize_entry(c.key, t)?,
                Value::Number(Disclosed::Shown(x)) => map.serialize_entry(c.key, x)?,
                Value::Number(Disclosed::Withheld) | Value::Empty => {
                    map.serialize_entry(c.key, &None::<f64>)?
                }
            }
        }
        map.serialize_entry("withheld", &self.cells.iter().any(Value::is_withheld))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PublicTable {
        PublicTable {
            caption: "Searches per stop".into(),
            columns: vec![
                Column::new("group", "Group", Kind::Text),
                Column::new("searches", "Searches", Kind::Count),
                Column::new("search_rate", "Search rate", Kind::Share),
            ],
            rows: vec![
                vec![
                    Value::Text("White".into()),
                    Value::count(120),
                    Value::maybe(Some(0.05), false),
                ],
                vec![
                    Value::Text("=cmd|' /C calc'!A0".into()),
                    Value::Number(Disclosed::Withheld),
                    Value::maybe(Some(0.2), true),
                ],
            ],
            threshold: 10,
        }
    }

    #[test]
    fn each_kind_is_written_for_people_in_their_language() {
        assert_eq!(Kind::Count.format(Lang::En, 3201.0), "3,201");
        assert_eq!(Kind::Count.format(Lang::Es, 3201.0), "3.201");
        assert_eq!(Kind::Share.format(Lang::Es, 0.007), "0,7\u{a0}%");
        assert_eq!(Kind::Ratio.format(Lang::En, 1.946), "1.95");
        assert_eq!(Kind::Number.format(Lang::En, 0.0004), "< 0.001");
        assert_eq!(Kind::Number.format(Lang::Es, 0.0004), "< 0,001");
        assert_eq!(Kind::Number.format(Lang::Es, 245.3), "245");
        assert_eq!(Kind::Score.format(Lang::Es, 62.349), "62,3");
    }

    #[test]
    fn withheld_cells_are_empty_in_csv_and_null_in_json() {
        let csv = String::from_utf8(table().to_csv().unwrap()).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "group,searches,search_rate");
        assert_eq!(lines[1], "White,120,0.05");
        // The formula is neutralised and the withheld numbers are not there.
        assert_eq!(lines[2], "\"'=cmd|' /C calc'!A0\",,");
        let t = table();
        let json = serde_json::to_value(t.json_rows()).unwrap();
        assert_eq!(json[0]["searches"], 120.0);
        assert_eq!(json[0]["withheld"], false);
        assert!(json[1]["searches"].is_null());
        assert!(json[1]["search_rate"].is_null());
        assert_eq!(json[1]["withheld"], true);
        assert!(!json.to_string().contains("0.2"));
    }
}
