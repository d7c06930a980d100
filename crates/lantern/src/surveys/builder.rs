//! The survey editor, without JavaScript: every change is one small form posted to the same
//! address (`op` says which), applied to the draft and shown again. Publishing freezes the
//! draft as a new version; until then respondents keep the version they had.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::model::{
    Choice, Condition, Definition, Demographic, FormValues, Question, QuestionKind, Score, Section,
    Text, valid_key,
};
use super::respond::{QuestionView, form_values, question_view};
use super::staff::load;
use super::store::{self, Survey};
use super::templates::resolve_demographics;
use crate::platform::error::{AppResult, FieldError};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::forms::FormErrors;
use crate::web::page;

/// The question types the editor offers, as (value, label).
pub const TYPES: [(&str, &str); 9] = [
    ("single_choice", "Single choice"),
    ("multiple_choice", "Multiple choice"),
    ("agreement", "Agreement (5 points)"),
    ("rating", "Rating 0–10"),
    ("text", "Free text"),
    ("number", "Number"),
    ("date", "Date"),
    ("demographic", "Demographic question"),
    ("note", "Text shown (no answer)"),
];

pub const SCORES: [(Score, &str); 11] = [
    (Score::Trust, "trust"),
    (Score::Safety, "safety"),
    (Score::Voice, "voice"),
    (Score::Neutrality, "neutrality"),
    (Score::Respect, "respect"),
    (Score::Trustworthiness, "trustworthiness"),
    (Score::Card, "card"),
    (Score::OrganisationalJustice, "organisational_justice"),
    (Score::SupervisorSupport, "supervisor_support"),
    (Score::Morale, "morale"),
    (Score::Wellness, "wellness"),
];

fn score_name(s: Option<Score>) -> &'static str {
    s.and_then(|s| SCORES.iter().find(|(x, _)| *x == s).map(|(_, n)| *n))
        .unwrap_or("")
}

/// A question as the editor shows it.
pub struct EditQuestion {
    pub q: Question,
    pub section: usize,
    pub kind: &'static str,
    pub choices_text: String,
    pub condition: String,
    /// A simple condition the form can edit: (question, value).
    pub simple_condition: Option<(String, String)>,
    /// The same, as the condition list's option value (`question=value`).
    pub selected_condition: String,
    pub score: &'static str,
    pub earlier: Vec<(String, String)>,
    pub first: bool,
    pub last: bool,
}

/// A page of the survey as the editor shows it.
pub struct EditSection {
    pub index: usize,
    pub number: usize,
    pub title: Text,
    pub empty: bool,
    pub questions: Vec<EditQuestion>,
}

#[derive(Template)]
#[template(path = "surveys/edit.html")]
struct EditPage<'a> {
    ctx: &'a Ctx,
    survey: &'a Survey,
    def: Definition,
    sections: Vec<EditSection>,
    types: [(&'static str, &'static str); 9],
    scores: [(Score, &'static str); 11],
    demographics: [Demographic; 5],
    errors: FormErrors,
    published: bool,
}

fn choices_text(choices: &[Choice]) -> String {
    choices
        .iter()
        .map(|c| {
            if c.label.es.is_empty() {
                format!("{} | {}", c.value, c.label.en)
            } else {
                format!("{} | {} | {}", c.value, c.label.en, c.label.es)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn render(
    ctx: &Ctx,
    survey: &Survey,
    def: Definition,
    errors: Vec<FieldError>,
) -> AppResult<Response> {
    let all: Vec<(usize, Question)> = def
        .sections
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.questions.iter().map(move |q| (i, q.clone())))
        .collect();
    let questions: Vec<EditQuestion> = all
        .iter()
        .enumerate()
        .map(|(n, (section, q))| {
            let in_section: Vec<&Question> = def.sections[*section].questions.iter().collect();
            let position = in_section.iter().position(|x| x.key == q.key).unwrap_or(0);
            EditQuestion {
                section: *section,
                kind: q.kind.name(),
                choices_text: match &q.kind {
                    QuestionKind::SingleChoice { choices }
                    | QuestionKind::MultipleChoice { choices } => choices_text(choices),
                    _ => String::new(),
                },
                condition: q.show_if.as_ref().map(|c| c.describe()).unwrap_or_default(),
                simple_condition: match &q.show_if {
                    Some(Condition::Equals { question, value })
                    | Some(Condition::Selected { question, value }) => {
                        Some((question.clone(), value.clone()))
                    }
                    _ => None,
                },
                selected_condition: match &q.show_if {
                    Some(Condition::Equals { question, value })
                    | Some(Condition::Selected { question, value }) => {
                        format!("{question}={value}")
                    }
                    _ => String::new(),
                },
                score: score_name(q.score),
                earlier: all[..n]
                    .iter()
                    .filter(|(_, e)| !e.kind.choices().is_empty())
                    .flat_map(|(_, e)| {
                        e.kind.choices().into_iter().map(move |c| {
                            (
                                format!("{}={}", e.key, c.value),
                                format!("{} is “{}”", e.key, c.label.en),
                            )
                        })
                    })
                    .collect(),
                first: *section == 0 && position == 0,
                last: *section + 1 == def.sections.len() && position + 1 == in_section.len(),
                q: q.clone(),
            }
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut by_section: Vec<Vec<EditQuestion>> = def.sections.iter().map(|_| Vec::new()).collect();
    for q in questions {
        by_section[q.section].push(q);
    }
    let sections = def
        .sections
        .iter()
        .zip(by_section)
        .enumerate()
        .map(|(index, (s, questions))| EditSection {
            index,
            number: index + 1,
            title: s.title.clone(),
            empty: s.questions.is_empty(),
            questions,
        })
        .collect();
    let mut r = page(EditPage {
        ctx,
        published: survey.current_version.is_some(),
        survey,
        def,
        sections,
        types: TYPES,
        scores: SCORES,
        demographics: Demographic::ALL,
        errors: FormErrors(errors),
    })?;
    *r.status_mut() = status;
    Ok(r)
}

pub async fn edit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    let survey = load(&state, &ctx, id).await?;
    let def = survey.draft();
    render(&ctx, &survey, def, Vec::new())
}

fn one<'a>(form: &'a FormValues, name: &str) -> &'a str {
    form.get(name)
        .and_then(|v| v.first())
        .map(|s| s.trim())
        .unwrap_or("")
}

fn text(form: &FormValues, base: &str) -> Text {
    Text::new(
        one(form, &format!("{base}_en")),
        one(form, &format!("{base}_es")),
    )
}

/// `value | English | Spanish` per line.
fn parse_choices(raw: &str, field: &str) -> Result<Vec<Choice>, FieldError> {
    let mut out = Vec::new();
    for (i, line) in raw
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let (value, en, es) = match parts.as_slice() {
            [value, en] => (*value, *en, ""),
            [value, en, es] => (*value, *en, *es),
            [only] => (*only, *only, ""),
            _ => {
                return Err(FieldError::new(
                    field,
                    format!("Choice line {}: write value | English | Spanish", i + 1),
                ));
            }
        };
        if value.is_empty() || en.is_empty() {
            return Err(FieldError::new(
                field,
                format!(
                    "Choice line {}: the value and the English label are needed",
                    i + 1
                ),
            ));
        }
        out.push(Choice::new(value, en, es));
    }
    if out.is_empty() {
        return Err(FieldError::new(
            field,
            "Give at least one choice, one per line",
        ));
    }
    Ok(out)
}

fn new_kind(kind: &str, form: &FormValues) -> Result<QuestionKind, FieldError> {
    Ok(match kind {
        "single_choice" => QuestionKind::SingleChoice {
            choices: parse_choices(one(form, "choices"), "choices").unwrap_or_else(|_| {
                vec![
                    Choice::new("yes", "Yes", "Sí"),
                    Choice::new("no", "No", "No"),
                ]
            }),
        },
        "multiple_choice" => QuestionKind::MultipleChoice {
            choices: parse_choices(one(form, "choices"), "choices").unwrap_or_else(|_| {
                vec![
                    Choice::new("a", "First option", "Primera opción"),
                    Choice::new("b", "Second option", "Segunda opción"),
                ]
            }),
        },
        "agreement" => QuestionKind::Agreement,
        "rating" => QuestionKind::Rating {
            min: 0,
            max: 10,
            low: Text::new("Not at all", "Nada"),
            high: Text::new("Completely", "Totalmente"),
        },
        "text" => QuestionKind::Text { long: true },
        "number" => QuestionKind::Number {
            min: None,
            max: None,
            integer: true,
        },
        "date" => QuestionKind::Date,
        "note" => QuestionKind::Note,
        "demographic" => {
            let field = Demographic::ALL
                .into_iter()
                .find(|d| d.as_str() == one(form, "field"))
                .ok_or_else(|| FieldError::new("field", "Choose which demographic question"))?;
            QuestionKind::Demographic {
                field,
                choices: Vec::new(),
            }
        }
        other => {
            return Err(FieldError::new(
                "type",
                format!("Unknown question type {other:?}"),
            ));
        }
    })
}

fn find(def: &Definition, key: &str) -> Option<(usize, usize)> {
    def.sections.iter().enumerate().find_map(|(s, sec)| {
        sec.questions
            .iter()
            .position(|q| q.key == key)
            .map(|i| (s, i))
    })
}

/// Applies one editing operation to a draft.
pub fn apply(def: &mut Definition, form: &FormValues) -> Result<Option<String>, FieldError> {
    let key = one(form, "key");
    match one(form, "op") {
        "texts" => {
            let title = text(form, "title");
            if title.en.is_empty() {
                return Err(FieldError::new(
                    "title_en",
                    "The survey needs a title in English",
                ));
            }
            def.title = title;
            def.intro = text(form, "intro");
            def.thanks = text(form, "thanks");
            Ok(None)
        }
        "section" => {
            let i: usize = one(form, "section")
                .parse()
                .map_err(|_| FieldError::new("section", "Unknown section"))?;
            let title = text(form, "section_title");
            let s = def
                .sections
                .get_mut(i)
                .ok_or_else(|| FieldError::new("section", "Unknown section"))?;
            s.title = title;
            Ok(None)
        }
        "add_section" => {
            let title = text(form, "section_title");
            if title.en.is_empty() {
                return Err(FieldError::new(
                    "new_section_title_en",
                    "Give the new page a title in English",
                ));
            }
            let key = format!("page_{}", def.sections.len() + 1);
            def.sections.push(Section {
                key,
                title,
                questions: Vec::new(),
            });
            Ok(None)
        }
        "delete_section" => {
            let i: usize = one(form, "section")
                .parse()
                .map_err(|_| FieldError::new("section", "Unknown section"))?;
            match def.sections.get(i) {
                Some(s) if s.questions.is_empty() && def.sections.len() > 1 => {
                    def.sections.remove(i);
                    Ok(None)
                }
                Some(_) => Err(FieldError::new(
                    "section",
                    "Only an empty page can be removed, and a survey keeps at least one",
                )),
                None => Err(FieldError::new("section", "Unknown section")),
            }
        }
        "add_question" => {
            let i: usize = one(form, "section")
                .parse()
                .map_err(|_| FieldError::new("section", "Unknown section"))?;
            let new_key = one(form, "new_key").to_lowercase();
            if !valid_key(&new_key) {
                return Err(FieldError::new(
                    format!("new_key_{i}"),
                    "The key must start with a letter and use only a–z, 0–9 and _ (e.g. felt_safe)",
                ));
            }
            if def.question(&new_key).is_some() {
                return Err(FieldError::new(
                    format!("new_key_{i}"),
                    format!("The key {new_key:?} is already used"),
                ));
            }
            let label = text(form, "label");
            if label.en.is_empty() {
                return Err(FieldError::new(
                    format!("new_label_en_{i}"),
                    "Write the question in English",
                ));
            }
            let kind = new_kind(one(form, "type"), form)?;
            let s = def
                .sections
                .get_mut(i)
                .ok_or_else(|| FieldError::new("section", "Unknown section"))?;
            s.questions.push(Question {
                key: new_key.clone(),
                kind,
                label,
                hint: Text::default(),
                required: false,
                show_if: None,
                score: None,
            });
            Ok(Some(new_key))
        }
        "update" => {
            let (s, i) =
                find(def, key).ok_or_else(|| FieldError::new("key", "Unknown question"))?;
            let earlier: Vec<Question> = def
                .questions()
                .take_while(|q| q.key != key)
                .cloned()
                .collect();
            let q = &mut def.sections[s].questions[i];
            let field = |name: &str| format!("{name}_{key}");
            let label = text(form, "label");
            if label.en.is_empty() {
                return Err(FieldError::new(
                    field("label_en"),
                    "Write the question in English",
                ));
            }
            q.label = label;
            q.hint = text(form, "hint");
            q.required = !matches!(q.kind, QuestionKind::Note) && form.contains_key("required");
            q.score = SCORES
                .iter()
                .find(|(_, n)| *n == one(form, "score"))
                .map(|(s, _)| *s);
            match &mut q.kind {
                QuestionKind::SingleChoice { choices }
                | QuestionKind::MultipleChoice { choices } => {
                    *choices = parse_choices(one(form, "choices"), &field("choices"))?;
                }
                QuestionKind::Rating {
                    min,
                    max,
                    low,
                    high,
                } => {
                    let lo: i64 = one(form, "min").parse().map_err(|_| {
                        FieldError::new(field("min"), "The lowest point must be a whole number")
                    })?;
                    let hi: i64 = one(form, "max").parse().map_err(|_| {
                        FieldError::new(field("max"), "The highest point must be a whole number")
                    })?;
                    if lo >= hi || hi - lo > 20 {
                        return Err(FieldError::new(
                            field("max"),
                            "The scale must go up, by at most 20 points",
                        ));
                    }
                    (*min, *max) = (lo, hi);
                    *low = text(form, "low");
                    *high = text(form, "high");
                }
                QuestionKind::Number { min, max, integer } => {
                    let parse = |name: &str| -> Result<Option<f64>, FieldError> {
                        let v = one(form, name);
                        if v.is_empty() {
                            Ok(None)
                        } else {
                            v.parse()
                                .map(Some)
                                .map_err(|_| FieldError::new(field(name), "Bounds must be numbers"))
                        }
                    };
                    *min = parse("min")?;
                    *max = parse("max")?;
                    *integer = form.contains_key("integer");
                }
                QuestionKind::Text { long } => *long = form.contains_key("long"),
                _ => {}
            }
            let condition = one(form, "show_if");
            q.show_if = if condition.is_empty() {
                if form.contains_key("keep_condition") {
                    q.show_if.clone()
                } else {
                    None
                }
            } else {
                let (on, value) = condition.split_once('=').ok_or_else(|| {
                    FieldError::new(field("show_if"), "Choose a condition from the list")
                })?;
                let earlier_q = earlier.iter().find(|e| e.key == on).ok_or_else(|| {
                    FieldError::new(
                        field("show_if"),
                        "A question can depend only on earlier questions",
                    )
                })?;
                Some(
                    if matches!(earlier_q.kind, QuestionKind::MultipleChoice { .. }) {
                        Condition::Selected {
                            question: on.to_string(),
                            value: value.to_string(),
                        }
                    } else {
                        Condition::Equals {
                            question: on.to_string(),
                            value: value.to_string(),
                        }
                    },
                )
            };
            Ok(Some(key.to_string()))
        }
        "up" | "down" => {
            let (s, i) =
                find(def, key).ok_or_else(|| FieldError::new("key", "Unknown question"))?;
            let up = one(form, "op") == "up";
            let q = def.sections[s].questions.remove(i);
            match (up, i) {
                (true, 0) if s > 0 => def.sections[s - 1].questions.push(q),
                (true, 0) => def.sections[s].questions.insert(0, q),
                (true, i) => def.sections[s].questions.insert(i - 1, q),
                (false, i)
                    if i >= def.sections[s].questions.len() && s + 1 < def.sections.len() =>
                {
                    def.sections[s + 1].questions.insert(0, q)
                }
                (false, i) => {
                    let at = (i + 1).min(def.sections[s].questions.len());
                    def.sections[s].questions.insert(at, q)
                }
            }
            Ok(Some(key.to_string()))
        }
        "delete" => {
            let (s, i) =
                find(def, key).ok_or_else(|| FieldError::new("key", "Unknown question"))?;
            let dependents: Vec<String> = def
                .questions()
                .filter(|q| {
                    q.show_if.as_ref().is_some_and(|c| {
                        c.describe().contains(&format!("{key} "))
                            || c.describe().contains(&format!("({key},"))
                    })
                })
                .map(|q| q.key.clone())
                .collect();
            if !dependents.is_empty() {
                return Err(FieldError::new(
                    format!("label_en_{key}"),
                    format!(
                        "Other questions depend on {key}: {}. Change them first.",
                        dependents.join(", ")
                    ),
                ));
            }
            def.sections[s].questions.remove(i);
            Ok(None)
        }
        other => Err(FieldError::new("op", format!("Unknown change {other:?}"))),
    }
}

pub async fn change(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    body: Bytes,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let survey = load(&state, &ctx, id).await?;
    let form = form_values(&body);
    let mut def = survey.draft();
    match apply(&mut def, &form) {
        Ok(anchor) => {
            store::save_draft(&state.db, agency.id, survey.id, &def, state.clock.unix()).await?;
            let name = one(&form, "name");
            if one(&form, "op") == "texts" && !name.is_empty() {
                store::rename(&state.db, agency.id, survey.id, name, state.clock.unix()).await?;
            }
            let target = ctx.staff_url(&format!("/staff/surveys/{id}/edit"));
            let target = match anchor {
                Some(k) => format!("{target}#q-{k}"),
                None => target,
            };
            Ok(Redirect::to(&target).into_response())
        }
        Err(e) => render(&ctx, &survey, survey.draft(), vec![e]),
    }
}

pub struct PreviewSection {
    pub title: String,
    pub questions: Vec<(QuestionView, String)>,
}

#[derive(Template)]
#[template(path = "surveys/preview.html")]
struct PreviewPage<'a> {
    ctx: &'a Ctx,
    survey: &'a Survey,
    title: String,
    intro: String,
    sections: Vec<PreviewSection>,
    problems: Vec<FieldError>,
}

/// Every page of the draft as respondents will see it, in the language of the address
/// (`/riverton/es/staff/…` previews the Spanish), with each condition spelled out.
pub async fn preview(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let survey = load(&state, &ctx, id).await?;
    let mut def = survey.draft();
    let districts = store::district_choices(&state.db, agency.id).await?;
    resolve_demographics(&mut def, &districts);
    let lang = ctx.lang();
    let answers = super::model::Answers::new();
    let sections = def
        .sections
        .iter()
        .map(|s| PreviewSection {
            title: s.title.get(lang).to_string(),
            questions: s
                .questions
                .iter()
                .map(|q| {
                    (
                        question_view(q, &answers, None, &[], lang, &ctx),
                        q.show_if.as_ref().map(|c| c.describe()).unwrap_or_default(),
                    )
                })
                .collect(),
        })
        .collect();
    page(PreviewPage {
        ctx: &ctx,
        survey: &survey,
        title: def.title.get(lang).to_string(),
        intro: def.intro.get(lang).to_string(),
        problems: def.validate().err().unwrap_or_default(),
        sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surveys::templates::Template;

    fn form(pairs: &[(&str, &str)]) -> FormValues {
        let mut f = FormValues::new();
        for (k, v) in pairs {
            f.entry(k.to_string()).or_default().push(v.to_string());
        }
        f
    }

    #[test]
    fn questions_are_added_edited_moved_and_removed() {
        let mut d = Template::OfficerCard.definition();
        apply(
            &mut d,
            &form(&[
                ("op", "add_question"),
                ("section", "0"),
                ("new_key", "return"),
                ("type", "single_choice"),
                ("label_en", "Would you call us again?"),
                ("label_es", "¿Nos llamaría otra vez?"),
            ]),
        )
        .unwrap();
        assert_eq!(d.sections[0].questions.last().unwrap().key, "return");
        apply(
            &mut d,
            &form(&[
                ("op", "update"),
                ("key", "return"),
                ("label_en", "Would you call us again?"),
                ("label_es", "¿Nos llamaría de nuevo?"),
                ("required", "on"),
                (
                    "choices",
                    "yes | Yes | Sí\nno | No | No\nmaybe | Maybe | Quizás",
                ),
            ]),
        )
        .unwrap();
        let q = d.question("return").unwrap();
        assert!(q.required);
        assert_eq!(q.kind.choices().len(), 3);
        assert_eq!(q.label.es, "¿Nos llamaría de nuevo?");
        // "return" was added after "comments", so comments cannot depend on it yet.
        let e = apply(
            &mut d,
            &form(&[
                ("op", "update"),
                ("key", "comments"),
                ("label_en", "Anything else?"),
                ("show_if", "return=no"),
            ]),
        )
        .unwrap_err();
        assert!(e.message.contains("earlier"), "{}", e.message);
        apply(&mut d, &form(&[("op", "up"), ("key", "return")])).unwrap();
        let keys: Vec<&str> = d.questions().map(|q| q.key.as_str()).collect();
        assert_eq!(&keys[keys.len() - 2..], ["return", "comments"]);
        apply(
            &mut d,
            &form(&[
                ("op", "update"),
                ("key", "comments"),
                ("label_en", "Anything else?"),
                ("show_if", "return=no"),
            ]),
        )
        .unwrap();
        assert_eq!(
            d.question("comments")
                .unwrap()
                .show_if
                .as_ref()
                .unwrap()
                .describe(),
            "return = 'no'"
        );
        let e = apply(&mut d, &form(&[("op", "delete"), ("key", "return")])).unwrap_err();
        assert!(e.message.contains("comments"), "{}", e.message);
        d.validate().expect("the edited survey is still valid");
    }

    #[test]
    fn bad_edits_are_refused_with_their_field() {
        let mut d = Template::OfficerCard.definition();
        let e = apply(
            &mut d,
            &form(&[
                ("op", "add_question"),
                ("section", "0"),
                ("new_key", "Bad Key"),
                ("type", "text"),
                ("label_en", "X"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.field, "new_key_0");
        let e = apply(
            &mut d,
            &form(&[
                ("op", "add_question"),
                ("section", "0"),
                ("new_key", "card_fair"),
                ("type", "text"),
                ("label_en", "X"),
            ]),
        )
        .unwrap_err();
        assert!(e.message.contains("already used"));
        let e = apply(
            &mut d,
            &form(&[
                ("op", "update"),
                ("key", "card_fair"),
                ("label_en", "Fair"),
                ("min", "5"),
                ("max", "1"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.field, "max_card_fair");
        let e = apply(
            &mut d,
            &form(&[
                ("op", "update"),
                ("key", "card_listened"),
                ("label_en", "Listened"),
                ("min", "1"),
                ("max", "5"),
                ("show_if", "comments=x"),
            ]),
        )
        .unwrap_err();
        assert!(e.message.contains("earlier"), "{}", e.message);
    }
}
