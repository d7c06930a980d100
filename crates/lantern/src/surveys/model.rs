//! What a survey is: its definition (sections, questions, choices, conditions, texts in
//! English and Spanish), and the answers a response carries. Pure types and rules, no I/O.
//!
//! A definition is stored as JSON. A published version is frozen; editing works on a draft
//! and publishing the draft makes a new version. Question keys are stable across versions,
//! so results can be compared over versions that kept a question.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::platform::error::FieldError;
use crate::web::i18n::Lang;

/// What kind of survey: decides how it is reached and how anonymous it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Anyone, through a public link or QR code.
    Community,
    /// People the agency had contact with, through a single-use invitation.
    PostContact,
    /// A QR card an officer hands out; responses roll up by officer and unit.
    OfficerCard,
    /// The agency's own staff, anonymously.
    Employee,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Community,
        Kind::PostContact,
        Kind::OfficerCard,
        Kind::Employee,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Community => "community",
            Kind::PostContact => "post_contact",
            Kind::OfficerCard => "officer_card",
            Kind::Employee => "employee",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Community => "Community survey",
            Kind::PostContact => "Post-contact survey",
            Kind::OfficerCard => "Officer feedback card",
            Kind::Employee => "Employee survey",
        }
    }
}

/// A text in both languages. Spanish falls back to English while it is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pub en: String,
    #[serde(default)]
    pub es: String,
}

impl Text {
    pub fn new(en: &str, es: &str) -> Text {
        Text {
            en: en.to_string(),
            es: es.to_string(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Es if !self.es.trim().is_empty() => &self.es,
            _ => &self.en,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.en.trim().is_empty() && self.es.trim().is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: Text,
}

impl Choice {
    pub fn new(value: &str, en: &str, es: &str) -> Choice {
        Choice {
            value: value.to_string(),
            label: Text::new(en, es),
        }
    }
}

/// The demographic questions Lantern knows, so results can be weighted to the census and
/// broken down the same way in every survey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Demographic {
    AgeGroup,
    Gender,
    Race,
    District,
    Language,
}

impl Demographic {
    pub const ALL: [Demographic; 5] = [
        Demographic::AgeGroup,
        Demographic::Gender,
        Demographic::Race,
        Demographic::District,
        Demographic::Language,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Demographic::AgeGroup => "age_group",
            Demographic::Gender => "gender",
            Demographic::Race => "race",
            Demographic::District => "district",
            Demographic::Language => "language",
        }
    }

    /// A short name for sentences ("weighted by age, gender, …").
    pub fn label(self) -> &'static str {
        match self {
            Demographic::AgeGroup => "age",
            Demographic::Gender => "gender",
            Demographic::Race => "race or ethnicity",
            Demographic::District => "district",
            Demographic::Language => "language",
        }
    }

    /// The census dimension this question is weighted to, if any.
    pub fn census_dimension(self) -> Option<&'static str> {
        match self {
            Demographic::AgeGroup => Some("age_group"),
            Demographic::Gender => Some("sex"),
            Demographic::Race => Some("race"),
            Demographic::District => Some("district"),
            Demographic::Language => None,
        }
    }
}

/// The question types a survey may use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuestionKind {
    SingleChoice {
        choices: Vec<Choice>,
    },
    MultipleChoice {
        choices: Vec<Choice>,
    },
    /// Five points from "strongly disagree" (1) to "strongly agree" (5).
    Agreement,
    /// A whole-number scale, 0–10 for community items or 1–5 for feedback cards.
    Rating {
        min: i64,
        max: i64,
        low: Text,
        high: Text,
    },
    Text {
        #[serde(default)]
        long: bool,
    },
    Number {
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
        #[serde(default)]
        integer: bool,
    },
    Date,
    /// A demographic question; its choices are filled in when the survey is published
    /// (districts come from the agency).
    Demographic {
        field: Demographic,
        #[serde(default)]
        choices: Vec<Choice>,
    },
    /// Text shown to the respondent, no answer.
    Note,
}

impl QuestionKind {
    pub fn name(&self) -> &'static str {
        match self {
            QuestionKind::SingleChoice { .. } => "single_choice",
            QuestionKind::MultipleChoice { .. } => "multiple_choice",
            QuestionKind::Agreement => "agreement",
            QuestionKind::Rating { .. } => "rating",
            QuestionKind::Text { .. } => "text",
            QuestionKind::Number { .. } => "number",
            QuestionKind::Date => "date",
            QuestionKind::Demographic { .. } => "demographic",
            QuestionKind::Note => "note",
        }
    }

    /// The choices of a choice-like question (agreement has its fixed five).
    pub fn choices(&self) -> Vec<Choice> {
        match self {
            QuestionKind::SingleChoice { choices }
            | QuestionKind::MultipleChoice { choices }
            | QuestionKind::Demographic { choices, .. } => choices.clone(),
            QuestionKind::Agreement => agreement_choices(),
            _ => Vec::new(),
        }
    }

    /// Answers that are one value from a fixed list (counted as shares).
    pub fn is_categorical(&self) -> bool {
        matches!(
            self,
            QuestionKind::SingleChoice { .. }
                | QuestionKind::MultipleChoice { .. }
                | QuestionKind::Agreement
                | QuestionKind::Demographic { .. }
        )
    }

    /// Answers that have a mean (scales and numbers).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            QuestionKind::Agreement | QuestionKind::Rating { .. } | QuestionKind::Number { .. }
        )
    }
}

pub fn agreement_choices() -> Vec<Choice> {
    vec![
        Choice::new("1", "Strongly disagree", "Muy en desacuerdo"),
        Choice::new("2", "Disagree", "En desacuerdo"),
        Choice::new(
            "3",
            "Neither agree nor disagree",
            "Ni de acuerdo ni en desacuerdo",
        ),
        Choice::new("4", "Agree", "De acuerdo"),
        Choice::new("5", "Strongly agree", "Muy de acuerdo"),
    ]
}

/// The scores Lantern computes from tagged items (each respondent's mean of the items they
/// answered, on a 0–100 scale).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Score {
    Trust,
    Safety,
    /// Procedural justice, and its four parts.
    Voice,
    Neutrality,
    Respect,
    Trustworthiness,
    /// Officer feedback cards: the mean of the five items.
    Card,
    /// Employee surveys.
    OrganisationalJustice,
    SupervisorSupport,
    Morale,
    Wellness,
}

impl Score {
    pub fn label(self) -> &'static str {
        match self {
            Score::Trust => "Trust",
            Score::Safety => "Safety",
            Score::Voice => "Voice",
            Score::Neutrality => "Neutrality",
            Score::Respect => "Respect",
            Score::Trustworthiness => "Trustworthiness",
            Score::Card => "Feedback card score",
            Score::OrganisationalJustice => "Organisational justice",
            Score::SupervisorSupport => "Supervisor support",
            Score::Morale => "Morale",
            Score::Wellness => "Wellness",
        }
    }

    /// The four parts of procedural justice; their mean is the procedural-justice score.
    pub const PROCEDURAL_JUSTICE: [Score; 4] = [
        Score::Voice,
        Score::Neutrality,
        Score::Respect,
        Score::Trustworthiness,
    ];
}

/// Show a question only when earlier answers say so.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Condition {
    /// The single answer to `question` is `value`.
    Equals {
        question: String,
        value: String,
    },
    /// `value` is among the answers to `question` (multiple choice).
    Selected {
        question: String,
        value: String,
    },
    All {
        of: Vec<Condition>,
    },
    Any {
        of: Vec<Condition>,
    },
}

impl Condition {
    pub fn holds(&self, answers: &Answers) -> bool {
        match self {
            // As written in an export, so `${age} = '40'` works on a number too.
            Condition::Equals { question, value } => {
                answers.get(question).is_some_and(|a| a.to_cell() == *value)
            }
            Condition::Selected { question, value } => answers
                .get(question)
                .is_some_and(|a| a.selected().iter().any(|v| v == value)),
            Condition::All { of } => of.iter().all(|c| c.holds(answers)),
            Condition::Any { of } => of.iter().any(|c| c.holds(answers)),
        }
    }

    fn questions(&self, out: &mut Vec<(String, Option<String>)>) {
        match self {
            Condition::Equals { question, value } | Condition::Selected { question, value } => {
                out.push((question.clone(), Some(value.clone())))
            }
            Condition::All { of } | Condition::Any { of } => {
                of.iter().for_each(|c| c.questions(out))
            }
        }
    }

    /// How the condition reads to staff: `trust_respect = '3' and …`.
    pub fn describe(&self) -> String {
        match self {
            Condition::Equals { question, value } => format!("{question} = '{value}'"),
            Condition::Selected { question, value } => format!("selected({question}, '{value}')"),
            Condition::All { of } => of
                .iter()
                .map(|c| c.describe())
                .collect::<Vec<_>>()
                .join(" and "),
            Condition::Any { of } => of
                .iter()
                .map(|c| format!("({})", c.describe()))
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Question {
    pub key: String,
    #[serde(flatten)]
    pub kind: QuestionKind,
    pub label: Text,
    #[serde(default, skip_serializing_if = "Text::is_empty")]
    pub hint: Text,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_if: Option<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
}

impl Question {
    pub fn new(key: &str, kind: QuestionKind, en: &str, es: &str) -> Question {
        Question {
            key: key.to_string(),
            kind,
            label: Text::new(en, es),
            hint: Text::default(),
            required: false,
            show_if: None,
            score: None,
        }
    }

    pub fn required(mut self) -> Question {
        self.required = true;
        self
    }

    pub fn score(mut self, score: Score) -> Question {
        self.score = Some(score);
        self
    }

    pub fn hint(mut self, en: &str, es: &str) -> Question {
        self.hint = Text::new(en, es);
        self
    }

    pub fn show_if(mut self, condition: Condition) -> Question {
        self.show_if = Some(condition);
        self
    }

    pub fn is_visible(&self, answers: &Answers) -> bool {
        self.show_if.as_ref().is_none_or(|c| c.holds(answers))
    }

    /// A 0–100 value of a scale answer, for scores.
    pub fn score_value(&self, answer: &Answer) -> Option<f64> {
        let x = answer.as_number()?;
        match &self.kind {
            QuestionKind::Agreement => Some((x - 1.0) * 25.0),
            QuestionKind::Rating { min, max, .. } if max > min => {
                Some((x - *min as f64) / (*max - *min) as f64 * 100.0)
            }
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub key: String,
    pub title: Text,
    pub questions: Vec<Question>,
}

/// A whole survey as respondents see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    pub title: Text,
    #[serde(default)]
    pub intro: Text,
    #[serde(default)]
    pub thanks: Text,
    pub sections: Vec<Section>,
}

impl Definition {
    pub fn questions(&self) -> impl Iterator<Item = &Question> {
        self.sections.iter().flat_map(|s| s.questions.iter())
    }

    pub fn question(&self, key: &str) -> Option<&Question> {
        self.questions().find(|q| q.key == key)
    }

    pub fn question_mut(&mut self, key: &str) -> Option<&mut Question> {
        self.sections
            .iter_mut()
            .flat_map(|s| s.questions.iter_mut())
            .find(|q| q.key == key)
    }

    /// The question answering a demographic field, if the survey asks it.
    pub fn demographic(&self, field: Demographic) -> Option<&Question> {
        self.questions()
            .find(|q| matches!(q.kind, QuestionKind::Demographic { field: f, .. } if f == field))
    }

    /// Checks the definition as a whole; every problem at once, named by where it is.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut push =
            |field: String, message: String| errors.push(FieldError::new(field, message));
        if self.title.en.trim().is_empty() {
            push("title".into(), "The survey needs a title in English".into());
        }
        if self.sections.is_empty() {
            push(
                "sections".into(),
                "The survey needs at least one section".into(),
            );
        }
        let mut seen_sections = HashSet::new();
        let mut earlier: Vec<&Question> = Vec::new();
        for section in &self.sections {
            if !seen_sections.insert(section.key.as_str()) {
                push(
                    format!("section {}", section.key),
                    format!("Section key {:?} is used twice", section.key),
                );
            }
            for q in &section.questions {
                let at = format!("question {}", q.key);
                if !valid_key(&q.key) {
                    push(
                        at.clone(),
                        format!(
                            "Question key {:?} must start with a letter and use only a–z, 0–9 and _",
                            q.key
                        ),
                    );
                }
                if earlier.iter().any(|e| e.key == q.key) {
                    push(
                        at.clone(),
                        format!("Question key {:?} is used twice", q.key),
                    );
                }
                if q.label.en.trim().is_empty() {
                    push(
                        at.clone(),
                        format!("Question {} needs a text in English", q.key),
                    );
                }
                match &q.kind {
                    QuestionKind::SingleChoice { choices }
                    | QuestionKind::MultipleChoice { choices } => {
                        if choices.is_empty() {
                            push(
                                at.clone(),
                                format!("Question {} needs at least one choice", q.key),
                            );
                        }
                        let mut values = HashSet::new();
                        for c in choices {
                            if c.value.trim().is_empty() || c.label.en.trim().is_empty() {
                                push(
                                    at.clone(),
                                    format!(
                                        "Every choice of {} needs a value and an English label",
                                        q.key
                                    ),
                                );
                            }
                            if !values.insert(c.value.as_str()) {
                                push(
                                    at.clone(),
                                    format!(
                                        "Choice value {:?} appears twice in {}",
                                        c.value, q.key
                                    ),
                                );
                            }
                        }
                    }
                    QuestionKind::Rating { min, max, .. } if min >= max || max - min > 100 => push(
                        at.clone(),
                        format!(
                            "Question {} needs a scale whose lowest point is below its highest",
                            q.key
                        ),
                    ),
                    QuestionKind::Number {
                        min: Some(lo),
                        max: Some(hi),
                        ..
                    } if lo > hi => push(
                        at.clone(),
                        format!(
                            "Question {}: the smallest allowed number is above the largest",
                            q.key
                        ),
                    ),
                    QuestionKind::Note if q.required => push(
                        at.clone(),
                        format!("Note {} shows text only and cannot be required", q.key),
                    ),
                    _ => {}
                }
                if let Some(condition) = &q.show_if {
                    let mut refs = Vec::new();
                    condition.questions(&mut refs);
                    for (key, value) in refs {
                        match earlier.iter().find(|e| e.key == key) {
                            None => push(
                                at.clone(),
                                format!(
                                    "Question {} is shown depending on {key}, which is not an earlier question",
                                    q.key
                                ),
                            ),
                            Some(e) => {
                                let choices = e.kind.choices();
                                if let Some(v) = value
                                    && !choices.is_empty()
                                    && !choices.iter().any(|c| c.value == v)
                                {
                                    push(
                                        at.clone(),
                                        format!(
                                            "Question {} depends on {key} being {v:?}, which is not one of its choices",
                                            q.key
                                        ),
                                    );
                                }
                            }
                        }
                    }
                }
                earlier.push(q);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

pub fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && key.len() <= 64
}

/// One answer, typed by its question. Stored as JSON: a number, a list of strings, a string.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Number(f64),
    Many(Vec<String>),
    One(String),
}

/// Read by the JSON value's own type (serde's untagged enums buffer each value and try every
/// variant in turn, which made reading a million stored responses several times slower).
impl<'de> Deserialize<'de> for Answer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Answer, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Answer;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, a string or a list of strings")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Answer, E> {
                Ok(Answer::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Answer, E> {
                Ok(Answer::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Answer, E> {
                Ok(Answer::Number(v as f64))
            }
            fn visit_str<E>(self, v: &str) -> Result<Answer, E> {
                Ok(Answer::One(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Answer, E> {
                Ok(Answer::One(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Answer, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(v) = seq.next_element::<String>()? {
                    values.push(v);
                }
                Ok(Answer::Many(values))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Answer {
    pub fn as_choice(&self) -> Option<&String> {
        match self {
            Answer::One(s) => Some(s),
            _ => None,
        }
    }

    pub fn selected(&self) -> Vec<String> {
        match self {
            Answer::Many(v) => v.clone(),
            Answer::One(s) => vec![s.clone()],
            Answer::Number(_) => Vec::new(),
        }
    }

    /// Every value of the answer as form fields carry them ("7" for a scale point).
    pub fn values(&self) -> Vec<String> {
        match self {
            Answer::Number(_) => vec![self.to_cell()],
            other => other.selected(),
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Answer::Number(x) => Some(*x),
            Answer::One(s) => s.parse().ok(),
            Answer::Many(_) => None,
        }
    }

    /// As written in an export: a choice value, values joined with ';', a number, a text.
    pub fn to_cell(&self) -> String {
        match self {
            Answer::Number(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", *x as i64),
            Answer::Number(x) => x.to_string(),
            Answer::Many(v) => v.join(";"),
            Answer::One(s) => s.clone(),
        }
    }
}

/// A response's answers by question key.
pub type Answers = BTreeMap<String, Answer>;

/// What a form submitted: every value sent for each field name.
pub type FormValues = BTreeMap<String, Vec<String>>;

/// The form field name of a question.
pub fn field_name(key: &str) -> String {
    format!("q_{key}")
}

pub const MAX_TEXT_CHARS: usize = 4000;

/// Reads and checks the answers to `questions` (one page, or all) from a form, given the
/// answers already known from earlier pages. Hidden questions lose any value sent for them.
pub fn read_answers<'a>(
    questions: impl IntoIterator<Item = &'a Question>,
    form: &FormValues,
    mut known: Answers,
    lang: Lang,
) -> Result<Answers, (Answers, Vec<FieldError>)> {
    let es = lang == Lang::Es;
    let msg = |en: String, es_text: String| if es { es_text } else { en };
    let mut errors = Vec::new();
    for q in questions {
        known.remove(&q.key);
        if matches!(q.kind, QuestionKind::Note) || !q.is_visible(&known) {
            continue;
        }
        let field = field_name(&q.key);
        let values: Vec<&str> = form
            .get(&field)
            .map(|v| {
                v.iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let label = q.label.get(lang).to_string();
        if values.is_empty() {
            if q.required {
                errors.push(FieldError::new(
                    field,
                    msg(format!("Answer “{label}”"), format!("Responda “{label}”")),
                ));
            }
            continue;
        }
        let parsed: Result<Answer, String> = match &q.kind {
            QuestionKind::SingleChoice { .. }
            | QuestionKind::Agreement
            | QuestionKind::Demographic { .. } => {
                let choices = q.kind.choices();
                match values.as_slice() {
                    [v] if choices.iter().any(|c| c.value == *v) => Ok(Answer::One(v.to_string())),
                    [_] => Err(msg(
                        format!("Choose one of the options for “{label}”"),
                        format!("Elija una de las opciones de “{label}”"),
                    )),
                    _ => Err(msg(
                        format!("Choose only one option for “{label}”"),
                        format!("Elija solo una opción en “{label}”"),
                    )),
                }
            }
            QuestionKind::MultipleChoice { choices } => {
                let mut picked: Vec<String> = Vec::new();
                let mut bad = false;
                for v in &values {
                    if choices.iter().any(|c| c.value == *v) {
                        if !picked.iter().any(|p| p == v) {
                            picked.push(v.to_string());
                        }
                    } else {
                        bad = true;
                    }
                }
                if bad {
                    Err(msg(
                        format!("Choose from the options for “{label}”"),
                        format!("Elija entre las opciones de “{label}”"),
                    ))
                } else {
                    // Stored in the order of the choices, whatever order the browser sent.
                    picked.sort_by_key(|p| choices.iter().position(|c| &c.value == p));
                    Ok(Answer::Many(picked))
                }
            }
            QuestionKind::Rating { min, max, .. } => match values.as_slice() {
                [v] => match v.parse::<i64>() {
                    Ok(n) if (*min..=*max).contains(&n) => Ok(Answer::Number(n as f64)),
                    _ => Err(msg(
                        format!("Choose a number from {min} to {max} for “{label}”"),
                        format!("Elija un número del {min} al {max} en “{label}”"),
                    )),
                },
                _ => Err(msg(
                    format!("Choose only one number for “{label}”"),
                    format!("Elija solo un número en “{label}”"),
                )),
            },
            QuestionKind::Number { min, max, integer } => match values.as_slice() {
                [v] => match v.replace(',', "").parse::<f64>() {
                    Ok(x) if !x.is_finite() => Err(msg(
                        format!("Enter a number for “{label}”"),
                        format!("Escriba un número en “{label}”"),
                    )),
                    Ok(x) if *integer && x.fract() != 0.0 => Err(msg(
                        format!("Enter a whole number for “{label}”"),
                        format!("Escriba un número entero en “{label}”"),
                    )),
                    Ok(x) if min.is_some_and(|m| x < m) || max.is_some_and(|m| x > m) => Err(msg(
                        format!(
                            "Enter a number{}{} for “{label}”",
                            min.map(|m| format!(" from {m}")).unwrap_or_default(),
                            max.map(|m| format!(" up to {m}")).unwrap_or_default()
                        ),
                        format!(
                            "Escriba un número{}{} en “{label}”",
                            min.map(|m| format!(" desde {m}")).unwrap_or_default(),
                            max.map(|m| format!(" hasta {m}")).unwrap_or_default()
                        ),
                    )),
                    Ok(x) => Ok(Answer::Number(x)),
                    Err(_) => Err(msg(
                        format!("Enter a number for “{label}”"),
                        format!("Escriba un número en “{label}”"),
                    )),
                },
                _ => Err(msg(
                    format!("Enter one number for “{label}”"),
                    format!("Escriba un solo número en “{label}”"),
                )),
            },
            QuestionKind::Date => match values.as_slice() {
                [v] if chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok() => {
                    Ok(Answer::One(v.to_string()))
                }
                _ => Err(msg(
                    format!("Enter a date like 2026-03-31 for “{label}”"),
                    format!("Escriba una fecha como 2026-03-31 en “{label}”"),
                )),
            },
            QuestionKind::Text { .. } => {
                let text = values.join("\n");
                if text.chars().count() > MAX_TEXT_CHARS {
                    Err(msg(
                        format!("Keep “{label}” under {MAX_TEXT_CHARS} characters"),
                        format!("Escriba menos de {MAX_TEXT_CHARS} caracteres en “{label}”"),
                    ))
                } else {
                    Ok(Answer::One(text))
                }
            }
            QuestionKind::Note => continue,
        };
        match parsed {
            Ok(a) => {
                known.insert(q.key.clone(), a);
            }
            Err(m) => errors.push(FieldError::new(field, m)),
        }
    }
    if errors.is_empty() {
        Ok(known)
    } else {
        Err((known, errors))
    }
}

/// Checks a whole set of answers against a definition (a JSON submission, an import): every
/// answer belongs to a visible question and fits it, every visible required question has one.
pub fn check_answers(
    def: &Definition,
    answers: &Answers,
    lang: Lang,
) -> Result<Answers, Vec<FieldError>> {
    let mut form = FormValues::new();
    for (key, answer) in answers {
        if def.question(key).is_none() {
            return Err(vec![FieldError::new(
                field_name(key),
                format!("{key} is not a question of this survey"),
            )]);
        }
        let values = match answer {
            Answer::Number(x) => vec![Answer::Number(*x).to_cell()],
            Answer::Many(v) => v.clone(),
            Answer::One(s) => vec![s.clone()],
        };
        form.insert(field_name(key), values);
    }
    read_answers(def.questions(), &form, Answers::new(), lang).map_err(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    #[test]
    fn answers_read_back_as_written() {
        let answers: Answers = [
            ("a".to_string(), Answer::Number(7.0)),
            ("b".to_string(), Answer::Number(-2.5)),
            ("c".to_string(), Answer::One("yes".into())),
            ("d".to_string(), Answer::Many(vec!["x".into(), "y".into()])),
            ("e".to_string(), Answer::Many(Vec::new())),
        ]
        .into_iter()
        .collect();
        let json = serde_json::to_string(&answers).unwrap();
        assert_eq!(json, r#"{"a":7.0,"b":-2.5,"c":"yes","d":["x","y"],"e":[]}"#);
        assert_eq!(serde_json::from_str::<Answers>(&json).unwrap(), answers);
        assert_eq!(
            serde_json::from_str::<Answer>("3").unwrap(),
            Answer::Number(3.0)
        );
        assert!(serde_json::from_str::<Answer>("true").is_err());
        assert!(serde_json::from_str::<Answer>("[1]").is_err());
    }

    use super::*;

    fn def() -> Definition {
        Definition {
            title: Text::new("T", "T"),
            intro: Text::default(),
            thanks: Text::default(),
            sections: vec![Section {
                key: "main".into(),
                title: Text::new("Main", "Principal"),
                questions: vec![
                    Question::new(
                        "contact",
                        QuestionKind::SingleChoice {
                            choices: vec![
                                Choice::new("yes", "Yes", "Sí"),
                                Choice::new("no", "No", "No"),
                            ],
                        },
                        "Contact?",
                        "¿Contacto?",
                    )
                    .required(),
                    Question::new(
                        "how",
                        QuestionKind::Rating {
                            min: 0,
                            max: 10,
                            low: Text::default(),
                            high: Text::default(),
                        },
                        "How was it?",
                        "¿Cómo fue?",
                    )
                    .required()
                    .show_if(Condition::Equals {
                        question: "contact".into(),
                        value: "yes".into(),
                    }),
                    Question::new(
                        "topics",
                        QuestionKind::MultipleChoice {
                            choices: vec![Choice::new("a", "A", "A"), Choice::new("b", "B", "B")],
                        },
                        "Topics",
                        "Temas",
                    ),
                    Question::new(
                        "age",
                        QuestionKind::Number {
                            min: Some(0.0),
                            max: Some(120.0),
                            integer: true,
                        },
                        "Age",
                        "Edad",
                    ),
                    Question::new("when", QuestionKind::Date, "When", "Cuándo"),
                    Question::new(
                        "comments",
                        QuestionKind::Text { long: true },
                        "Comments",
                        "Comentarios",
                    ),
                ],
            }],
        }
    }

    fn form(pairs: &[(&str, &str)]) -> FormValues {
        let mut f = FormValues::new();
        for (k, v) in pairs {
            f.entry(k.to_string()).or_default().push(v.to_string());
        }
        f
    }

    #[test]
    fn a_valid_definition_passes_and_its_json_round_trips() {
        let d = def();
        d.validate().unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Definition>(&json).unwrap(), d);
    }

    #[test]
    fn definition_problems_are_all_named() {
        let mut d = def();
        d.sections[0].questions[2].key = "contact".into();
        d.sections[0].questions[0].show_if = Some(Condition::Equals {
            question: "later".into(),
            value: "x".into(),
        });
        d.sections[0].questions[1].show_if = Some(Condition::Equals {
            question: "contact".into(),
            value: "maybe".into(),
        });
        let errors = d.validate().unwrap_err();
        let text: Vec<String> = errors.into_iter().map(|e| e.message).collect();
        assert!(text.iter().any(|m| m.contains("used twice")), "{text:?}");
        assert!(
            text.iter().any(|m| m.contains("not an earlier question")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|m| m.contains("\"maybe\", which is not one of its choices")),
            "{text:?}"
        );
    }

    #[test]
    fn answers_are_read_and_checked() {
        let d = def();
        let a = read_answers(
            d.questions(),
            &form(&[
                ("q_contact", "yes"),
                ("q_how", "7"),
                ("q_topics", "b"),
                ("q_topics", "a"),
                ("q_age", "34"),
                ("q_when", "2026-02-01"),
                ("q_comments", " fine "),
            ]),
            Answers::new(),
            Lang::En,
        )
        .unwrap();
        assert_eq!(a["how"], Answer::Number(7.0));
        assert_eq!(
            a["topics"],
            Answer::Many(vec!["a".into(), "b".into()]),
            "choice order, not click order"
        );
        assert_eq!(a["comments"], Answer::One("fine".into()));
    }

    #[test]
    fn hidden_questions_are_not_required_and_lose_their_values() {
        let d = def();
        let a = read_answers(
            d.questions(),
            &form(&[("q_contact", "no"), ("q_how", "9")]),
            Answers::new(),
            Lang::En,
        )
        .unwrap();
        assert!(!a.contains_key("how"), "a hidden question keeps no answer");
    }

    #[test]
    fn bad_answers_name_their_field_in_the_respondents_language() {
        let d = def();
        let (_, errors) = read_answers(
            d.questions(),
            &form(&[
                ("q_contact", "yes"),
                ("q_how", "11"),
                ("q_topics", "z"),
                ("q_age", "3.5"),
                ("q_when", "31/12/2026"),
            ]),
            Answers::new(),
            Lang::Es,
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["q_how", "q_topics", "q_age", "q_when"]);
        assert!(
            errors[0].message.contains("del 0 al 10"),
            "{}",
            errors[0].message
        );
        let (_, errors) =
            read_answers(d.questions(), &form(&[]), Answers::new(), Lang::En).unwrap_err();
        assert_eq!(errors[0].field, "q_contact");
        assert!(errors[0].message.contains("Answer “Contact?”"));
    }

    #[test]
    fn conditions_read_earlier_answers() {
        let mut answers = Answers::new();
        answers.insert("topics".into(), Answer::Many(vec!["a".into()]));
        answers.insert("contact".into(), Answer::One("yes".into()));
        let sel = |v: &str| Condition::Selected {
            question: "topics".into(),
            value: v.into(),
        };
        let eq = |v: &str| Condition::Equals {
            question: "contact".into(),
            value: v.into(),
        };
        assert!(sel("a").holds(&answers));
        assert!(!sel("b").holds(&answers));
        assert!(
            Condition::All {
                of: vec![sel("a"), eq("yes")]
            }
            .holds(&answers)
        );
        assert!(
            !Condition::All {
                of: vec![sel("a"), eq("no")]
            }
            .holds(&answers)
        );
        assert!(
            Condition::Any {
                of: vec![sel("b"), eq("yes")]
            }
            .holds(&answers)
        );
        assert_eq!(
            Condition::Any {
                of: vec![sel("b"), eq("yes")]
            }
            .describe(),
            "(selected(topics, 'b')) or (contact = 'yes')"
        );
    }

    #[test]
    fn whole_submissions_are_checked_too() {
        let d = def();
        let mut answers = Answers::new();
        answers.insert("contact".into(), Answer::One("no".into()));
        answers.insert("age".into(), Answer::Number(40.0));
        assert!(check_answers(&d, &answers, Lang::En).is_ok());
        answers.insert("nonsense".into(), Answer::One("x".into()));
        let e = check_answers(&d, &answers, Lang::En).unwrap_err();
        assert!(e[0].message.contains("not a question"));
    }

    #[test]
    fn scale_answers_become_scores_from_0_to_100() {
        let agree = Question::new("a", QuestionKind::Agreement, "A", "A");
        assert_eq!(agree.score_value(&Answer::One("5".into())), Some(100.0));
        assert_eq!(agree.score_value(&Answer::One("1".into())), Some(0.0));
        let rating = Question::new(
            "r",
            QuestionKind::Rating {
                min: 0,
                max: 10,
                low: Text::default(),
                high: Text::default(),
            },
            "R",
            "R",
        );
        assert_eq!(rating.score_value(&Answer::Number(7.0)), Some(70.0));
        let card = Question::new(
            "c",
            QuestionKind::Rating {
                min: 1,
                max: 5,
                low: Text::default(),
                high: Text::default(),
            },
            "C",
            "C",
        );
        assert_eq!(card.score_value(&Answer::Number(4.0)), Some(75.0));
    }
}
