//! Import of XLSForm workbooks (the spreadsheet form format of ODK, KoboToolbox and
//! SurveyCTO), so an agency can bring a survey it already has.
//!
//! Supported: the `survey`, `choices` and `settings` sheets; the types `select_one`,
//! `select_multiple` (also the older `select one from`), `integer`, `decimal`, `text`, `note`,
//! `date`, `begin group`/`end group` (a group becomes a page), and the metadata types
//! (`start`, `today`, …), which are skipped; `label`, `hint` and `required` columns, with
//! `::English (en)` / `::Spanish (es)` language suffixes; `relevant` expressions of the forms
//! `${q} = 'x'`, `selected(${q}, 'x')` joined with `and`/`or` and parentheses; `constraint`
//! bounds on numbers (`. >= 5`, `. <= 72`, joined with `and`). Anything else is refused with
//! the sheet, row and column that holds it, so nothing is silently dropped.

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Data, Reader, open_workbook_auto_from_rs};

use super::model::{
    Choice, Condition, Definition, Question, QuestionKind, Section, Text, valid_key,
};

/// One problem, located as a person would find it in the workbook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub sheet: String,
    /// 1-based, as the spreadsheet shows it (0 when the problem is the sheet itself).
    pub row: usize,
    pub column: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.row, self.column.is_empty()) {
            (0, _) => write!(f, "sheet {}: {}", self.sheet, self.message),
            (r, true) => write!(f, "sheet {}, row {r}: {}", self.sheet, self.message),
            (r, false) => write!(
                f,
                "sheet {}, row {r}, column {}: {}",
                self.sheet, self.column, self.message
            ),
        }
    }
}

/// What an import produced: the definition, and what was skipped (worth telling the person).
#[derive(Clone, Debug)]
pub struct Imported {
    pub definition: Definition,
    pub notes: Vec<String>,
}

const SUPPORTED: &str =
    "select_one, select_multiple, integer, decimal, text, note, date, begin group, end group";
const METADATA: &[&str] = &[
    "start",
    "end",
    "today",
    "deviceid",
    "subscriberid",
    "simserial",
    "phonenumber",
    "username",
    "email",
    "audit",
    "start-geopoint",
];

/// A sheet as rows of trimmed text, with its header row turned into column names.
struct Sheet {
    name: String,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

impl Sheet {
    fn column(&self, wanted: &str) -> Option<usize> {
        self.header.iter().position(|h| h == wanted)
    }

    fn cell<'a>(&self, row: &'a [String], column: Option<usize>) -> &'a str {
        column
            .and_then(|c| row.get(c))
            .map(String::as_str)
            .unwrap_or("")
    }
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        other => other.to_string().trim().to_string(),
    }
}

/// Header names compare without case and with `label:English` and `label::English` alike.
fn normalise_header(h: &str) -> String {
    let h = h.trim().to_lowercase();
    let h = h.replace("::", ":");
    match h.split_once(':') {
        Some((a, b)) => format!("{}::{}", a.trim(), b.trim()),
        None => h.replace('_', " ").trim().replace(' ', "_"),
    }
}

fn read_sheet(book: &mut calamine::Sheets<Cursor<Vec<u8>>>, name: &str) -> Option<Sheet> {
    let range = book.worksheet_range(name).ok()?;
    let mut rows = range.rows().enumerate();
    let header: Vec<String> = loop {
        let (_, r) = rows.next()?;
        let h: Vec<String> = r.iter().map(|c| normalise_header(&cell_text(c))).collect();
        if h.iter().any(|c| !c.is_empty()) {
            break h;
        }
    };
    let start = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let rows = rows
        .map(|(i, r)| (start + i + 1, r.iter().map(cell_text).collect::<Vec<_>>()))
        .filter(|(_, r)| r.iter().any(|c| !c.is_empty()))
        .collect();
    Some(Sheet {
        name: name.to_string(),
        header,
        rows,
    })
}

/// Which language a column suffix names: `english (en)`, `spanish`, `español (es)`.
fn language_of(suffix: &str) -> Option<&'static str> {
    let s = suffix.trim().to_lowercase();
    let code = s
        .rsplit_once('(')
        .map(|(_, c)| c.trim_end_matches(')').trim().to_string());
    match code.as_deref() {
        Some("en") => return Some("en"),
        Some("es") => return Some("es"),
        Some(_) => return None,
        None => {}
    }
    match s.as_str() {
        "english" | "en" | "inglés" | "ingles" => Some("en"),
        "spanish" | "es" | "español" | "espanol" => Some("es"),
        _ => None,
    }
}

/// Reads a `label`/`hint` style text from its language columns.
fn text(sheet: &Sheet, row: &[String], base: &str, default_lang: &str) -> Text {
    let mut t = Text::default();
    for (i, h) in sheet.header.iter().enumerate() {
        let lang = if h == base {
            Some(default_lang)
        } else if let Some(suffix) = h.strip_prefix(&format!("{base}::")) {
            language_of(suffix)
        } else {
            None
        };
        let value = row.get(i).map(String::as_str).unwrap_or("");
        match lang {
            Some("en") if t.en.is_empty() => t.en = value.to_string(),
            Some("es") if t.es.is_empty() => t.es = value.to_string(),
            _ => {}
        }
    }
    t
}

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_lowercase().as_str(),
        "yes" | "true" | "true()" | "1" | "y"
    )
}

/// XLSForm names may use capitals, dots and hyphens; our keys may not.
fn key_of(name: &str) -> String {
    let mut k: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !k.starts_with(|c: char| c.is_ascii_lowercase()) {
        k.insert(0, 'q');
    }
    k.truncate(64);
    k
}

/// Imports a workbook. `file_name` titles a form whose settings give none.
pub fn import(bytes: &[u8], file_name: &str) -> Result<Imported, Vec<Problem>> {
    let problem = |sheet: &str, row: usize, column: &str, message: String| Problem {
        sheet: sheet.to_string(),
        row,
        column: column.to_string(),
        message,
    };
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes.to_vec())).map_err(|e| {
        vec![problem(
            "",
            0,
            "",
            format!("this is not a spreadsheet Lantern can read (.xlsx, .xls or .ods): {e}"),
        )]
    })?;
    let names: Vec<String> = book.sheet_names().to_vec();
    let find = |wanted: &str| {
        names
            .iter()
            .find(|n| n.trim().eq_ignore_ascii_case(wanted))
            .cloned()
    };
    let survey_name = match find("survey") {
        Some(n) => n,
        // A single-sheet workbook is taken as the survey sheet.
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(vec![problem(
                "",
                0,
                "",
                "the workbook has no sheet named survey".into(),
            )]);
        }
    };
    let survey = read_sheet(&mut book, &survey_name).ok_or_else(|| {
        vec![problem(
            &survey_name,
            0,
            "",
            "the survey sheet is empty".into(),
        )]
    })?;
    let choices = find("choices").and_then(|n| read_sheet(&mut book, &n));
    let settings = find("settings").and_then(|n| read_sheet(&mut book, &n));
    let mut notes = Vec::new();
    for n in &names {
        let lower = n.trim().to_lowercase();
        if !["survey", "choices", "settings"].contains(&lower.as_str()) && *n != survey_name {
            notes.push(format!("Sheet {n} was ignored."));
        }
    }

    // Settings: title and default language.
    let mut title = String::new();
    let mut default_lang = "en";
    if let Some(s) = &settings
        && let Some((_, row)) = s.rows.first()
    {
        title = s.cell(row, s.column("form_title")).to_string();
        if let Some(l) = language_of(s.cell(row, s.column("default_language"))) {
            default_lang = l;
        }
    }
    if title.is_empty() {
        title = file_name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(file_name)
            .trim_end_matches(".xlsx")
            .trim_end_matches(".xls")
            .trim_end_matches(".ods")
            .replace(['_', '-'], " ");
    }

    let mut problems = Vec::new();

    // Choice lists.
    let mut lists: HashMap<String, Vec<Choice>> = HashMap::new();
    if let Some(c) = &choices {
        let list_col = c.column("list_name").or_else(|| c.column("list_name_"));
        let list_col = list_col.or_else(|| {
            c.header
                .iter()
                .position(|h| h == "list name" || h == "list_name")
        });
        let name_col = c.column("name").or_else(|| c.column("value"));
        for unsupported in [
            "image",
            "media::image",
            "audio",
            "video",
            "media::audio",
            "media::video",
        ] {
            if let Some(col) = c.column(unsupported)
                && let Some((r, _)) = c
                    .rows
                    .iter()
                    .find(|(_, row)| !c.cell(row, Some(col)).is_empty())
            {
                problems.push(problem(
                    &c.name,
                    *r,
                    unsupported,
                    "choice images and media are not supported".into(),
                ));
            }
        }
        for (r, row) in &c.rows {
            let list = c.cell(row, list_col);
            let value = c.cell(row, name_col);
            if list.is_empty() && value.is_empty() {
                continue;
            }
            if list.is_empty() || value.is_empty() {
                problems.push(problem(
                    &c.name,
                    *r,
                    if list.is_empty() { "list_name" } else { "name" },
                    "every choice needs a list_name and a name".into(),
                ));
                continue;
            }
            let mut label = text(c, row, "label", default_lang);
            if label.en.is_empty() {
                label.en = if label.es.is_empty() {
                    value.to_string()
                } else {
                    label.es.clone()
                };
            }
            let entry = lists.entry(list.to_string()).or_default();
            if entry.iter().any(|e| e.value == value) {
                problems.push(problem(
                    &c.name,
                    *r,
                    "name",
                    format!("choice {value:?} appears twice in list {list}"),
                ));
            }
            entry.push(Choice {
                value: value.to_string(),
                label,
            });
        }
    }

    // Columns we cannot honour: refuse any row that uses them.
    for column in [
        "choice_filter",
        "calculation",
        "repeat_count",
        "trigger",
        "default",
        "readonly",
        "media::image",
        "image",
        "audio",
        "video",
    ] {
        if let Some(col) = survey.column(column)
            && let Some((r, _)) = survey
                .rows
                .iter()
                .find(|(_, row)| !survey.cell(row, Some(col)).is_empty())
        {
            problems.push(problem(
                &survey.name,
                *r,
                column,
                format!("the column {column} is not supported"),
            ));
        }
    }

    let type_col = survey.column("type");
    let name_col = survey.column("name");
    let relevant_col = survey
        .column("relevant")
        .or_else(|| survey.column("bind::relevant"));
    let required_col = survey
        .column("required")
        .or_else(|| survey.column("bind::required"));
    let constraint_col = survey
        .column("constraint")
        .or_else(|| survey.column("bind::constraint"));
    if type_col.is_none() {
        return Err(vec![problem(
            &survey.name,
            1,
            "type",
            "the survey sheet has no type column".into(),
        )]);
    }

    let mut sections: Vec<Section> = vec![Section {
        key: "main".into(),
        title: Text::new(&title, ""),
        questions: Vec::new(),
    }];
    // Original XLSForm names to our keys, for relevant expressions.
    let mut names_to_keys: HashMap<String, String> = HashMap::new();
    let mut group: Option<(String, Option<Condition>)> = None;

    for (r, row) in &survey.rows {
        let r = *r;
        let raw_type = survey.cell(row, type_col).to_string();
        let kind_text = raw_type.split_whitespace().collect::<Vec<_>>().join(" ");
        let lowered = kind_text.to_lowercase();
        let name = survey.cell(row, name_col).to_string();
        if lowered.is_empty() {
            continue;
        }
        let relevant = survey.cell(row, relevant_col);
        let parsed_relevant = if relevant.is_empty() {
            None
        } else {
            match parse_relevant(relevant, &names_to_keys) {
                Ok(c) => Some(c),
                Err(m) => {
                    problems.push(problem(&survey.name, r, "relevant", m));
                    None
                }
            }
        };
        match lowered.as_str() {
            "begin group" | "begin_group" => {
                if group.is_some() {
                    problems.push(problem(
                        &survey.name,
                        r,
                        "type",
                        "groups inside groups are not supported".into(),
                    ));
                    continue;
                }
                let mut label = text(&survey, row, "label", default_lang);
                if label.en.is_empty() {
                    label.en = if name.is_empty() {
                        format!("Part {}", sections.len() + 1)
                    } else {
                        name.replace('_', " ")
                    };
                }
                let key = if name.is_empty() {
                    format!("group_{r}")
                } else {
                    key_of(&name)
                };
                sections.push(Section {
                    key: key.clone(),
                    title: label,
                    questions: Vec::new(),
                });
                group = Some((key, parsed_relevant));
                continue;
            }
            "end group" | "end_group" => {
                if group.take().is_none() {
                    problems.push(problem(
                        &survey.name,
                        r,
                        "type",
                        "end group without begin group".into(),
                    ));
                }
                // Questions after a group go on a page of their own.
                sections.push(Section {
                    key: format!("after_{r}"),
                    title: Text::new(&title, ""),
                    questions: Vec::new(),
                });
                continue;
            }
            t if METADATA.contains(&t) => {
                notes.push(format!(
                    "Row {r}: metadata field {name:?} ({t}) is not asked and was skipped."
                ));
                continue;
            }
            _ => {}
        }

        if name.is_empty() {
            problems.push(problem(
                &survey.name,
                r,
                "name",
                "every question needs a name".into(),
            ));
            continue;
        }
        let key = key_of(&name);
        if !valid_key(&key) {
            problems.push(problem(
                &survey.name,
                r,
                "name",
                format!("{name:?} cannot be used as a question name"),
            ));
            continue;
        }
        if names_to_keys.values().any(|k| *k == key) {
            problems.push(problem(
                &survey.name,
                r,
                "name",
                format!("the name {name:?} is used twice"),
            ));
            continue;
        }

        let words: Vec<&str> = kind_text.split(' ').collect();
        let list_of = |words: &[&str]| -> Result<Vec<Choice>, String> {
            let list = match words {
                [_, list] => list.to_string(),
                [_, "from", list]
                | ["select", "one", "from", list]
                | ["select", "multiple", "from", list] => list.to_string(),
                [_, _, "or_other"] | [_, _, "or", "other"] => {
                    return Err("\"or_other\" choices are not supported".into());
                }
                _ if words.contains(&"specify") => {
                    return Err("\"or specify other\" choices are not supported".into());
                }
                _ => return Err(format!("{kind_text:?} does not name a choice list")),
            };
            lists
                .get(&list)
                .cloned()
                .ok_or_else(|| format!("the choice list {list:?} is not on the choices sheet"))
        };
        let kind = match words.first().map(|w| w.to_lowercase()).as_deref() {
            Some("select_one") | Some("select1") if words.len() >= 2 => {
                list_of(&words).map(|choices| QuestionKind::SingleChoice { choices })
            }
            Some("select_multiple") if words.len() >= 2 => {
                list_of(&words).map(|choices| QuestionKind::MultipleChoice { choices })
            }
            Some("select") if words.get(1) == Some(&"one") => {
                list_of(&words[1..]).map(|choices| QuestionKind::SingleChoice { choices })
            }
            Some("select") if words.get(1) == Some(&"multiple") => {
                list_of(&words[1..]).map(|choices| QuestionKind::MultipleChoice { choices })
            }
            Some("integer") | Some("int") if words.len() == 1 => Ok(QuestionKind::Number {
                min: None,
                max: None,
                integer: true,
            }),
            Some("decimal") if words.len() == 1 => Ok(QuestionKind::Number {
                min: None,
                max: None,
                integer: false,
            }),
            Some("text") | Some("string") if words.len() == 1 => {
                Ok(QuestionKind::Text { long: false })
            }
            Some("note") if words.len() == 1 => Ok(QuestionKind::Note),
            Some("date") if words.len() == 1 => Ok(QuestionKind::Date),
            _ => Err(format!(
                "{raw_type:?} is not a supported question type (supported: {SUPPORTED})"
            )),
        };
        let mut kind = match kind {
            Ok(k) => k,
            Err(m) => {
                problems.push(problem(&survey.name, r, "type", m));
                continue;
            }
        };
        let constraint = survey.cell(row, constraint_col);
        if !constraint.is_empty() {
            match (&mut kind, parse_bounds(constraint)) {
                (QuestionKind::Number { min, max, .. }, Ok((lo, hi))) => {
                    *min = lo;
                    *max = hi;
                }
                (QuestionKind::Number { .. }, Err(m)) => {
                    problems.push(problem(&survey.name, r, "constraint", m))
                }
                _ => problems.push(problem(
                    &survey.name,
                    r,
                    "constraint",
                    format!("constraints are supported on numbers only, not {constraint:?}"),
                )),
            }
        }
        let mut label = text(&survey, row, "label", default_lang);
        if label.en.is_empty() {
            if label.es.is_empty() && !matches!(kind, QuestionKind::Note) {
                problems.push(problem(
                    &survey.name,
                    r,
                    "label",
                    format!("question {name} has no label"),
                ));
                continue;
            }
            label.en = label.es.clone();
        }
        let hint = text(&survey, row, "hint", default_lang);
        let show_if = match (&group, parsed_relevant) {
            (Some((_, Some(g))), Some(own)) => Some(Condition::All {
                of: vec![g.clone(), own],
            }),
            (Some((_, Some(g))), None) => Some(g.clone()),
            (_, own) => own,
        };
        let required =
            truthy(survey.cell(row, required_col)) && !matches!(kind, QuestionKind::Note);
        names_to_keys.insert(name.clone(), key.clone());
        sections
            .last_mut()
            .expect("there is always a section")
            .questions
            .push(Question {
                key,
                kind,
                label,
                hint,
                required,
                show_if,
                score: None,
            });
    }
    if group.is_some() {
        problems.push(problem(
            &survey.name,
            survey.rows.last().map_or(0, |(r, _)| *r),
            "type",
            "a group is never ended (end group missing)".into(),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    sections.retain(|s| !s.questions.is_empty());
    let definition = Definition {
        title: Text::new(&title, ""),
        intro: Text::default(),
        thanks: Text::new("Thank you for your answers.", "Gracias por sus respuestas."),
        sections,
    };
    definition.validate().map_err(|errors| {
        errors
            .into_iter()
            .map(|e| problem(&survey.name, 0, "", format!("{}: {}", e.field, e.message)))
            .collect::<Vec<_>>()
    })?;
    Ok(Imported { definition, notes })
}

/// `. >= 5`, `. <= 72`, `. >= 0 and . <= 120` → (min, max).
fn parse_bounds(expr: &str) -> Result<(Option<f64>, Option<f64>), String> {
    let mut min = None;
    let mut max = None;
    for part in expr.split(" and ") {
        let p = part
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .replace(' ', "");
        let (op, value) = if let Some(v) = p.strip_prefix(".>=") {
            (">=", v)
        } else if let Some(v) = p.strip_prefix(".<=") {
            ("<=", v)
        } else {
            return Err(format!(
                "the constraint {expr:?} is not supported (only . >= N and . <= N)"
            ));
        };
        let v: f64 = value.parse().map_err(|_| {
            format!("the constraint {expr:?} is not supported (only . >= N and . <= N)")
        })?;
        if op == ">=" {
            min = Some(v)
        } else {
            max = Some(v)
        }
    }
    Ok((min, max))
}

/// Parses a `relevant` expression into a condition over earlier questions.
pub fn parse_relevant(expr: &str, names: &HashMap<String, String>) -> Result<Condition, String> {
    let tokens = tokenize(expr).map_err(|m| format!("{m} in {expr:?}"))?;
    let mut p = Parser {
        tokens,
        pos: 0,
        names,
        expr,
    };
    let c = p.or()?;
    if p.pos != p.tokens.len() {
        return Err(p.unsupported());
    }
    Ok(c)
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ref(String),
    Str(String),
    Ident(String),
    Eq,
    LParen,
    RParen,
    Comma,
    Other(String),
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '$' if chars.get(i + 1) == Some(&'{') => {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or("an unclosed ${")?
                    + i;
                out.push(Token::Ref(chars[i + 2..end].iter().collect()));
                i = end + 1;
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&q| q == c)
                    .ok_or("an unclosed quote")?
                    + i
                    + 1;
                out.push(Token::Str(chars[i + 1..end].iter().collect()));
                i = end + 1;
            }
            '=' => {
                out.push(Token::Eq);
                i += 1;
            }
            '(' => {
                out.push(Token::LParen);
                i += 1;
            }
            ')' => {
                out.push(Token::RParen);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            c if c.is_alphanumeric() || c == '_' || c == '-' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '-')
                {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => {
                let start = i;
                i += 1;
                while i < chars.len() && "<>!=".contains(chars[i]) {
                    i += 1;
                }
                let _ = other;
                out.push(Token::Other(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    names: &'a HashMap<String, String>,
    expr: &'a str,
}

impl Parser<'_> {
    fn unsupported(&self) -> String {
        format!(
            "the expression {:?} is not supported: use ${{question}} = 'value', selected(${{question}}, 'value'), and, or and parentheses",
            self.expr
        )
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Condition, String> {
        let mut parts = vec![self.and()?];
        while self.keyword("or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::Any { of: parts }
        })
    }

    fn and(&mut self) -> Result<Condition, String> {
        let mut parts = vec![self.atom()?];
        while self.keyword("and") {
            self.pos += 1;
            parts.push(self.atom()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::All { of: parts }
        })
    }

    fn question(&self, name: &str) -> Result<String, String> {
        self.names
            .get(name)
            .cloned()
            .ok_or_else(|| format!("${{{name}}} in {:?} is not an earlier question", self.expr))
    }

    fn atom(&mut self) -> Result<Condition, String> {
        match self.next() {
            Some(Token::LParen) => {
                let c = self.or()?;
                match self.next() {
                    Some(Token::RParen) => Ok(c),
                    _ => Err(self.unsupported()),
                }
            }
            Some(Token::Ref(name)) => {
                let question = self.question(&name)?;
                match (self.next(), self.next()) {
                    (Some(Token::Eq), Some(Token::Str(value))) => {
                        Ok(Condition::Equals { question, value })
                    }
                    _ => Err(self.unsupported()),
                }
            }
            Some(Token::Ident(f)) if f.eq_ignore_ascii_case("selected") => {
                match (
                    self.next(),
                    self.next(),
                    self.next(),
                    self.next(),
                    self.next(),
                ) {
                    (
                        Some(Token::LParen),
                        Some(Token::Ref(name)),
                        Some(Token::Comma),
                        Some(Token::Str(value)),
                        Some(Token::RParen),
                    ) => Ok(Condition::Selected {
                        question: self.question(&name)?,
                        value,
                    }),
                    _ => Err(self.unsupported()),
                }
            }
            _ => Err(self.unsupported()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> HashMap<String, String> {
        [("q1", "q1"), ("Sex", "sex"), ("age", "age")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn relevant_expressions_of_the_common_forms() {
        assert_eq!(
            parse_relevant("${q1} = 'yes'", &names()).unwrap(),
            Condition::Equals {
                question: "q1".into(),
                value: "yes".into()
            }
        );
        assert_eq!(
            parse_relevant("selected(${Sex}, \"female\")", &names()).unwrap(),
            Condition::Selected {
                question: "sex".into(),
                value: "female".into()
            }
        );
        let c = parse_relevant(
            "${q1}='yes' and (selected(${Sex}, 'f') or ${age} = '3')",
            &names(),
        )
        .unwrap();
        assert_eq!(
            c.describe(),
            "q1 = 'yes' and (selected(sex, 'f')) or (age = '3')"
        );
    }

    #[test]
    fn other_expressions_are_refused_by_name() {
        for bad in [
            "${age} >= 15",
            "not(selected(${q1}, 'yes'))",
            "../zone = '1_NW'",
            "${q1} = 'yes' and",
        ] {
            let e = parse_relevant(bad, &names()).unwrap_err();
            assert!(e.contains("not supported"), "{bad}: {e}");
        }
        assert!(
            parse_relevant("${later} = 'x'", &names())
                .unwrap_err()
                .contains("not an earlier question")
        );
    }

    #[test]
    fn number_bounds() {
        assert_eq!(parse_bounds(". >= 5").unwrap(), (Some(5.0), None));
        assert_eq!(parse_bounds(".<=72").unwrap(), (None, Some(72.0)));
        assert_eq!(
            parse_bounds(". >= 0 and . <= 120").unwrap(),
            (Some(0.0), Some(120.0))
        );
        assert!(parse_bounds(". <= ${a_integer}").is_err());
    }

    fn file(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/data/xlsform/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn a_bilingual_form_with_every_supported_feature_imports() {
        let imported = import(&file("lantern_bilingual.xlsx"), "lantern_bilingual.xlsx").unwrap();
        let d = &imported.definition;
        assert_eq!(d.title.en, "Neighbourhood safety");
        assert_eq!(d.sections.len(), 2, "the group is a page of its own");
        assert_eq!(d.sections[1].title, Text::new("About you", "Sobre usted"));
        let keys: Vec<&str> = d.questions().map(|q| q.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "intro",
                "felt_safe",
                "worries",
                "worry_other",
                "age",
                "years_here",
                "moved_in"
            ]
        );
        let safe = d.question("felt_safe").unwrap();
        assert!(safe.required);
        assert_eq!(
            safe.label,
            Text::new("Do you feel safe at night?", "¿Se siente seguro de noche?")
        );
        assert_eq!(safe.kind.choices()[0].label, Text::new("Yes", "Sí"));
        let worries = d.question("worries").unwrap();
        assert!(matches!(worries.kind, QuestionKind::MultipleChoice { .. }));
        assert_eq!(worries.hint.es, "Elija todas las que correspondan");
        assert_eq!(
            worries.show_if.as_ref().unwrap().describe(),
            "felt_safe = 'no'"
        );
        assert_eq!(
            d.question("worry_other")
                .unwrap()
                .show_if
                .as_ref()
                .unwrap()
                .describe(),
            "(selected(worries, 'other')) or (selected(worries, 'traffic'))"
        );
        assert!(matches!(
            d.question("age").unwrap().kind,
            QuestionKind::Number {
                min: Some(18.0),
                max: Some(110.0),
                integer: true
            }
        ));
        assert!(d.question("age").unwrap().required, "true() means required");
        assert!(matches!(
            d.question("years_here").unwrap().kind,
            QuestionKind::Number {
                min: Some(0.0),
                max: None,
                integer: false
            }
        ));
        assert!(matches!(
            d.question("moved_in").unwrap().kind,
            QuestionKind::Date
        ));
        assert!(
            imported
                .notes
                .iter()
                .any(|n| n.contains("metadata field \"start\"")),
            "{:?}",
            imported.notes
        );
    }

    #[test]
    fn plain_pyxform_examples_import() {
        let d = import(&file("text_and_integer.xlsx"), "text_and_integer.xlsx")
            .unwrap()
            .definition;
        let kinds: Vec<&str> = d.questions().map(|q| q.kind.name()).collect();
        assert_eq!(kinds, ["text", "number"]);
        assert_eq!(
            d.question("your_age").unwrap().label.en,
            "How many years old are you?"
        );
        let imported = import(&file("extra_sheet_names.xlsx"), "extra_sheet_names.xlsx").unwrap();
        assert!(
            imported.notes.iter().any(|n| n.contains("my_sheet")),
            "{:?}",
            imported.notes
        );
    }

    #[test]
    fn a_form_without_a_title_takes_the_file_name() {
        let d = import(&file("survey_no_name.xlsx"), "uploads/survey_no_name.xlsx")
            .unwrap()
            .definition;
        assert_eq!(d.title.en, "survey no name");
        assert_eq!(d.question("state").unwrap().label.en, "The State");
    }

    #[test]
    fn unsupported_features_are_refused_with_their_place() {
        let cases: &[(&str, &str)] = &[
            (
                "unknown_question_type.xls",
                "\"set form title\" is not a supported question type",
            ),
            (
                "tutorial.xls",
                "\"begin repeat\" is not a supported question type",
            ),
            ("or_other.xlsx", "\"or_other\" choices are not supported"),
            (
                "specify_other.xlsx",
                "\"or specify other\" choices are not supported",
            ),
            (
                "choice_filter_test.xlsx",
                "the column choice_filter is not supported",
            ),
            (
                "group.xlsx",
                "\"phone number\" is not a supported question type",
            ),
            (
                "case_insensitivity.xlsx",
                "\"select_one_external c1\" is not a supported question type",
            ),
            ("xlsform_spec_test.xlsx", "is not supported"),
        ];
        for (name, expected) in cases {
            let problems = import(&file(name), name).unwrap_err();
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            assert!(
                text.iter().any(|t| t.contains(expected)),
                "{name}: {text:#?}"
            );
            assert!(
                problems.iter().all(|p| !p.sheet.is_empty() || p.row == 0),
                "{name}: problems are located"
            );
        }
        let problems = import(&file("lantern_unsupported.xlsx"), "x.xlsx").unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 2, "{text:#?}");
        assert!(
            text[0].starts_with("sheet survey, row 3, column type: \"geopoint\""),
            "{}",
            text[0]
        );
        assert!(
            text[1].starts_with("sheet survey, row 5, column type: \"calculate\""),
            "{}",
            text[1]
        );
    }

    #[test]
    fn not_a_spreadsheet() {
        let problems = import(b"type,name,label\ntext,a,A\n", "form.csv").unwrap_err();
        assert!(problems[0].message.contains("not a spreadsheet"));
    }

    #[test]
    fn headers_and_languages() {
        assert_eq!(
            normalise_header("label::English (en)"),
            "label::english (en)"
        );
        assert_eq!(normalise_header("label:English"), "label::english");
        assert_eq!(normalise_header("List name"), "list_name");
        assert_eq!(language_of("english (en)"), Some("en"));
        assert_eq!(language_of("Español (es)"), Some("es"));
        assert_eq!(language_of("chinese"), None);
    }
}
