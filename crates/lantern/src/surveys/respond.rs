//! Answering a survey: one page per section, carried forward without JavaScript or server
//! state (earlier pages' answers travel as hidden fields and are checked again at the end),
//! in the respondent's language, with the checks that keep ballot stuffing out of results.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::model::{
    Answer, Answers, Definition, FormValues, Question, QuestionKind, Section, field_name,
    read_answers,
};
use super::store::{Survey, Version};
use super::writer::{Link, NewResponse, WriteError};
use crate::platform::error::{AppResult, FieldError};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::forms::FormErrors;
use crate::web::i18n::Lang;
use crate::web::page;

/// How the respondent arrived, which decides what the response is linked to.
#[derive(Clone, Debug)]
pub struct Entry {
    pub survey: Survey,
    pub version: Version,
    /// Where the form posts to.
    pub action: String,
    /// Where to go after a successful submission.
    pub thanks: String,
    /// The `?src=` tag of a public link (flyer, social, event…).
    pub channel: String,
    /// Fields the form carries along (src, officer, invitation).
    pub carry: Vec<(String, String)>,
    pub officer_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub link: Link,
}

/// One choice as the form shows it.
pub struct ChoiceView {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// One question as the form shows it.
pub struct QuestionView {
    pub key: String,
    pub field: String,
    pub kind: &'static str,
    pub label: String,
    pub hint: String,
    pub required: bool,
    pub error: Option<String>,
    pub choices: Vec<ChoiceView>,
    pub value: String,
    pub long: bool,
    pub scale_note: String,
}

impl QuestionView {
    /// The ids the field's description comes from (hint, error), for aria-describedby.
    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if !self.hint.is_empty() || !self.scale_note.is_empty() {
            ids.push(format!("{}-hint", self.field));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.field));
        }
        ids.join(" ")
    }
}

#[derive(Template)]
#[template(path = "surveys/respond.html")]
struct FormPage<'a> {
    ctx: &'a Ctx,
    title: String,
    intro: String,
    section_title: String,
    first_page: bool,
    last_page: bool,
    step: usize,
    steps: usize,
    page: usize,
    questions: Vec<QuestionView>,
    hidden: Vec<(String, String)>,
    errors: FormErrors,
    action: String,
    anonymous: bool,
}

pub fn question_view(
    q: &Question,
    answers: &Answers,
    form: Option<&FormValues>,
    errors: &[FieldError],
    lang: Lang,
    ctx: &Ctx,
) -> QuestionView {
    let field = field_name(&q.key);
    // What to show in the field: the submitted text if this page was just posted (so a
    // mistyped number stays for correction), else the stored answer.
    let sent: Vec<String> = form
        .and_then(|f| f.get(&field))
        .cloned()
        .unwrap_or_default();
    let stored = answers.get(&q.key);
    let selected: Vec<String> = if !sent.is_empty() {
        sent.clone()
    } else {
        stored.map(Answer::values).unwrap_or_default()
    };
    let value = if let Some(s) = sent.first() {
        s.clone()
    } else {
        stored.map(Answer::to_cell).unwrap_or_default()
    };
    let choices: Vec<ChoiceView> = match &q.kind {
        QuestionKind::Rating { min, max, .. } => (*min..=*max)
            .map(|v| ChoiceView {
                value: v.to_string(),
                label: v.to_string(),
                checked: selected.iter().any(|s| *s == v.to_string()),
            })
            .collect(),
        k => k
            .choices()
            .into_iter()
            .map(|c| ChoiceView {
                checked: selected.contains(&c.value),
                label: c.label.get(lang).to_string(),
                value: c.value,
            })
            .collect(),
    };
    let scale_note = match &q.kind {
        QuestionKind::Rating {
            min,
            max,
            low,
            high,
        } => {
            let low = if low.is_empty() {
                ctx.t("survey.rate_low").to_string()
            } else {
                low.get(lang).to_lowercase()
            };
            let high = if high.is_empty() {
                ctx.t("survey.rate_high").to_string()
            } else {
                high.get(lang).to_lowercase()
            };
            ctx.tf(
                "survey.low_high",
                &[
                    ("min", &min.to_string()),
                    ("low", &low),
                    ("max", &max.to_string()),
                    ("high", &high),
                ],
            )
        }
        QuestionKind::MultipleChoice { .. } => ctx.t("survey.choose_all").to_string(),
        _ => String::new(),
    };
    QuestionView {
        key: q.key.clone(),
        error: errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone()),
        field,
        kind: match &q.kind {
            QuestionKind::Demographic { .. }
            | QuestionKind::Agreement
            | QuestionKind::SingleChoice { .. } => "radio",
            QuestionKind::MultipleChoice { .. } => "checkbox",
            QuestionKind::Rating { .. } => "scale",
            QuestionKind::Text { .. } => "text",
            QuestionKind::Number { .. } => "number",
            QuestionKind::Date => "date",
            QuestionKind::Note => "note",
        },
        label: q.label.get(lang).to_string(),
        hint: q.hint.get(lang).to_string(),
        required: q.required,
        choices,
        value,
        long: matches!(q.kind, QuestionKind::Text { long: true }),
        scale_note,
    }
}

/// Sections that have something to show given the answers so far.
fn visible_sections(def: &Definition, answers: &Answers) -> Vec<usize> {
    def.sections
        .iter()
        .enumerate()
        .filter(|(_, s)| s.questions.iter().any(|q| q.is_visible(answers)))
        .map(|(i, _)| i)
        .collect()
}

fn render(
    ctx: &Ctx,
    entry: &Entry,
    index: usize,
    answers: &Answers,
    form: Option<&FormValues>,
    errors: Vec<FieldError>,
) -> AppResult<Response> {
    let lang = ctx.lang();
    let def = &entry.version.definition;
    let section: &Section = &def.sections[index];
    let visible = visible_sections(def, answers);
    let step = visible
        .iter()
        .position(|i| *i == index)
        .map_or(1, |p| p + 1);
    let questions: Vec<QuestionView> = section
        .questions
        .iter()
        .filter(|q| q.is_visible(answers))
        .map(|q| question_view(q, answers, form, &errors, lang, ctx))
        .collect();
    let on_page: Vec<&str> = section.questions.iter().map(|q| q.key.as_str()).collect();
    let mut hidden: Vec<(String, String)> = entry.carry.clone();
    // Which questions this page showed: one that a choice on the page reveals is shown
    // before moving on (there is no script to reveal it as the person clicks).
    hidden.push((
        "shown".into(),
        questions
            .iter()
            .map(|q| q.key.as_str())
            .collect::<Vec<_>>()
            .join(","),
    ));
    for (key, answer) in answers {
        if on_page.contains(&key.as_str()) {
            continue;
        }
        for v in match answer {
            Answer::Many(v) => v.clone(),
            other => vec![other.to_cell()],
        } {
            hidden.push((field_name(key), v));
        }
    }
    let mut response = page(FormPage {
        ctx,
        title: def.title.get(lang).to_string(),
        intro: def.intro.get(lang).to_string(),
        section_title: section.title.get(lang).to_string(),
        first_page: step == 1,
        last_page: visible.last() == Some(&index) || visible.is_empty(),
        step,
        steps: visible.len().max(1),
        page: index,
        questions,
        hidden,
        errors: FormErrors(errors.clone()),
        action: entry.action.clone(),
        anonymous: entry.survey.kind() != super::model::Kind::Employee,
    })?;
    if !errors.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// The version respondents answer now, or the "closed" page when the survey takes no answers.
pub async fn live_version(
    state: &AppState,
    ctx: &Ctx,
    survey: &Survey,
) -> AppResult<Result<Version, Response>> {
    let Some(version_id) = survey.current_version.filter(|_| survey.is_open()) else {
        return Ok(Err(message(
            ctx,
            StatusCode::GONE,
            "survey.closed_title",
            "survey.closed",
        )?));
    };
    let version = state
        .surveys()
        .versions
        .get(&state.db, survey.agency_id, version_id)
        .await?
        .ok_or(crate::platform::error::AppError::NotFound)?;
    Ok(Ok(version))
}

/// The first page of a survey.
pub fn start(ctx: &Ctx, entry: &Entry) -> AppResult<Response> {
    let answers = Answers::new();
    let first = visible_sections(&entry.version.definition, &answers)
        .first()
        .copied()
        .unwrap_or(0);
    render(ctx, entry, first, &answers, None, Vec::new())
}

/// Form fields as sent, in order, with every value of repeated fields.
pub fn form_values(body: &[u8]) -> FormValues {
    let mut out = FormValues::new();
    for (k, v) in form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

fn single<'a>(form: &'a FormValues, name: &str) -> &'a str {
    form.get(name)
        .and_then(|v| v.first())
        .map(String::as_str)
        .unwrap_or("")
}

/// Handles one posted page: back, next, or the final submission.
pub async fn step(
    state: &AppState,
    ctx: &Ctx,
    entry: &Entry,
    form: FormValues,
    ip: Option<IpAddr>,
) -> AppResult<Response> {
    let lang = ctx.lang();
    let def = entry.version.definition.clone();
    let page_index: usize = single(&form, "page")
        .parse()
        .unwrap_or(0)
        .min(def.sections.len().saturating_sub(1));
    let going_back = single(&form, "action") == "back";

    // Re-read every page up to this one: earlier pages' answers come back as hidden fields
    // and are checked again, so a tampered field cannot slip through.
    let mut answers = Answers::new();
    for (i, section) in def.sections.iter().enumerate().take(page_index + 1) {
        match read_answers(section.questions.iter(), &form, answers.clone(), lang) {
            Ok(a) => answers = a,
            Err((a, errors)) => {
                if going_back && i == page_index {
                    answers = a;
                    continue;
                }
                return render(ctx, entry, i, &a, Some(&form), errors);
            }
        }
    }
    // Answers to later pages may also be carried (after a "back"); keep them for display.
    let mut later = Answers::new();
    for section in def.sections.iter().skip(page_index + 1) {
        if let Ok(a) = read_answers(section.questions.iter(), &form, answers.clone(), lang) {
            for q in &section.questions {
                if let Some(v) = a.get(&q.key) {
                    later.insert(q.key.clone(), v.clone());
                }
            }
        }
    }
    // Only a form we rendered says what it showed.
    let shown: Option<Vec<&str>> = form
        .get("shown")
        .map(|_| single(&form, "shown").split(',').collect());
    let revealed = shown.is_some_and(|shown| {
        def.sections[page_index].questions.iter().any(|q| {
            !matches!(q.kind, QuestionKind::Note)
                && q.is_visible(&answers)
                && !shown.contains(&q.key.as_str())
        })
    });
    if revealed && !going_back {
        answers.extend(later);
        return render(ctx, entry, page_index, &answers, None, Vec::new());
    }
    let visible = visible_sections(&def, &answers);
    if going_back {
        let previous = visible
            .iter()
            .rev()
            .find(|i| **i < page_index)
            .copied()
            .unwrap_or(page_index);
        answers.extend(later);
        return render(ctx, entry, previous, &answers, None, Vec::new());
    }
    if let Some(next) = visible.iter().find(|i| **i > page_index).copied() {
        answers.extend(later);
        return render(ctx, entry, next, &answers, None, Vec::new());
    }
    // Final page: the whole set is checked once more against the version.
    let answers = match read_answers(def.questions(), &form_from(&answers), Answers::new(), lang) {
        Ok(a) => a,
        Err((a, errors)) => {
            let first_bad = def
                .sections
                .iter()
                .position(|s| {
                    s.questions
                        .iter()
                        .any(|q| errors.iter().any(|e| e.field == field_name(&q.key)))
                })
                .unwrap_or(page_index);
            return render(ctx, entry, first_bad, &a, None, errors);
        }
    };
    submit(state, ctx, entry, &form, answers, ip).await
}

fn form_from(answers: &Answers) -> FormValues {
    let mut f = FormValues::new();
    for (k, a) in answers {
        f.insert(
            field_name(k),
            match a {
                Answer::Many(v) => v.clone(),
                other => vec![other.to_cell()],
            },
        );
    }
    f
}

#[derive(Template)]
#[template(path = "surveys/message.html")]
pub struct MessagePage<'a> {
    pub ctx: &'a Ctx,
    pub title: String,
    pub message: String,
    pub again: Option<String>,
}

pub fn message(
    ctx: &Ctx,
    status: StatusCode,
    title_key: &str,
    message_key: &str,
) -> AppResult<Response> {
    let mut r = page(MessagePage {
        ctx,
        title: ctx.t(title_key).to_string(),
        message: ctx.t(message_key).to_string(),
        again: None,
    })?;
    *r.status_mut() = status;
    Ok(r)
}

/// Cookie remembering which surveys this device answered (for one-response-per-device).
const DEVICE_COOKIE: &str = "lantern_answered";

fn answered_on_device(ctx_cookie: Option<&str>, code: &str) -> bool {
    ctx_cookie.is_some_and(|v| v.split('.').any(|c| c == code))
}

async fn submit(
    state: &AppState,
    ctx: &Ctx,
    entry: &Entry,
    form: &FormValues,
    answers: Answers,
    ip: Option<IpAddr>,
) -> AppResult<Response> {
    let survey = &entry.survey;
    let now = state.clock.unix();
    let runtime = state.surveys();
    let device_cookie = ctx.meta.cookie(DEVICE_COOKIE);
    let mut flag: Option<String> = None;
    let open_link = entry.link == Link::Open;
    if open_link {
        if survey.one_per_device
            && answered_on_device(device_cookie.as_deref(), &survey.public_code)
        {
            return message(
                ctx,
                StatusCode::CONFLICT,
                "survey.already_title",
                "survey.already",
            );
        }
        if let Some(ip) = ip
            && runtime.submit_limiter.check_key(&ip).is_err()
        {
            return message(
                ctx,
                StatusCode::TOO_MANY_REQUESTS,
                "survey.too_many_title",
                "survey.too_many",
            );
        }
    }
    if !single(form, "website").is_empty() {
        // Humans never see this field; software that fills in everything does.
        flag = Some("honeypot field filled in".into());
    }
    let answers_json = serde_json::to_string(&answers).expect("answers serialise");
    let employee = matches!(entry.link, Link::Employee { .. });
    let source_hash = match (employee, ip) {
        (false, Some(ip)) => {
            let day = now.div_euclid(86_400);
            Some(
                state
                    .key
                    .sign("response-source", format!("{day}|{ip}").as_bytes()),
            )
        }
        _ => None,
    };
    if flag.is_none()
        && open_link
        && let Some(source) = &source_hash
    {
        flag = runtime.bursts.check(survey.id, source, &answers_json, now);
    }
    let response = NewResponse {
        agency_id: survey.agency_id,
        survey_id: survey.id,
        version_id: entry.version.id,
        submitted_at: now,
        channel: entry.channel.clone(),
        language: ctx.lang().code().to_string(),
        status: if flag.is_some() { "flagged" } else { "ok" },
        flag_reason: flag,
        contact_id: entry.contact_id,
        officer_id: entry.officer_id,
        source_hash,
        answers: answers_json,
        link: entry.link.clone(),
    };
    match runtime.writer.submit(response).await {
        Ok(()) => {
            let mut r = Redirect::to(&entry.thanks).into_response();
            if open_link && survey.one_per_device {
                let mut codes: Vec<String> = device_cookie
                    .unwrap_or_default()
                    .split('.')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect();
                codes.push(survey.public_code.clone());
                codes.dedup();
                let value = format!(
                    "{DEVICE_COOKIE}={}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{}",
                    codes.join("."),
                    if state.config.is_https() {
                        "; Secure"
                    } else {
                        ""
                    }
                );
                if let Ok(v) = HeaderValue::from_str(&value) {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            Ok(r)
        }
        Err(WriteError::AlreadyUsed) => message(
            ctx,
            StatusCode::CONFLICT,
            "survey.link_used_title",
            "survey.link_used",
        ),
        Err(_) => {
            let mut r = page(MessagePage {
                ctx,
                title: ctx.t("survey.problem").to_string(),
                message: ctx.t("survey.saved_failed").to_string(),
                again: None,
            })?;
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            Ok(r)
        }
    }
}

/// Near-duplicate bursts: several responses from one address within minutes, or the same
/// answers again from it within a day. Such responses are kept but flagged for review.
/// Per (survey, address): when responses came and a fingerprint of their answers.
type Seen = HashMap<(i64, String), VecDeque<(i64, u64)>>;

#[derive(Default)]
pub struct Bursts {
    recent: Mutex<Seen>,
}

/// More responses than this from one address in the window are flagged.
const BURST_LIMIT: usize = 3;
const BURST_WINDOW: i64 = 10 * 60;
const DUPLICATE_WINDOW: i64 = 24 * 3600;

impl Bursts {
    pub fn check(&self, survey_id: i64, source: &str, answers: &str, now: i64) -> Option<String> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        answers.hash(&mut h);
        let fingerprint = h.finish();
        let mut recent = self.recent.lock().expect("burst lock");
        let seen = recent.entry((survey_id, source.to_string())).or_default();
        while seen
            .front()
            .is_some_and(|(t, _)| now - t > DUPLICATE_WINDOW)
        {
            seen.pop_front();
        }
        let same = seen.iter().any(|(_, f)| *f == fingerprint);
        let in_window = seen.iter().filter(|(t, _)| now - t <= BURST_WINDOW).count();
        seen.push_back((now, fingerprint));
        if same {
            Some("the same answers came from one address within a day".into())
        } else if in_window >= BURST_LIMIT {
            Some(format!(
                "{} responses from one address within 10 minutes",
                in_window + 1
            ))
        } else {
            None
        }
    }

    /// Forgets addresses not seen for a day (run periodically).
    pub fn forget_old(&self, now: i64) {
        let mut recent = self.recent.lock().expect("burst lock");
        recent.retain(|_, seen| {
            seen.back()
                .is_some_and(|(t, _)| now - t <= DUPLICATE_WINDOW)
        });
    }
}

/// The per-address limit on final submissions of public surveys.
pub fn submit_limiter(per_minute: u32, burst: u32) -> DefaultKeyedRateLimiter<IpAddr> {
    let per_minute = NonZeroU32::new(per_minute.max(1)).expect("at least one");
    let burst = NonZeroU32::new(burst.max(1)).expect("at least one");
    RateLimiter::keyed(
        Quota::with_period(Duration::from_secs(60) / per_minute.get())
            .expect("a positive period")
            .allow_burst(burst),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_and_duplicates_are_flagged() {
        let b = Bursts::default();
        assert_eq!(b.check(1, "ip", "{\"a\":1}", 0), None);
        assert!(
            b.check(1, "ip", "{\"a\":1}", 60)
                .unwrap()
                .contains("same answers")
        );
        assert_eq!(
            b.check(1, "other", "{\"a\":1}", 60),
            None,
            "another address is another person"
        );
        assert_eq!(b.check(2, "ip", "{\"a\":1}", 60), None, "another survey");
        assert_eq!(b.check(1, "ip", "{\"a\":2}", 120), None);
        assert!(
            b.check(1, "ip", "{\"a\":3}", 180)
                .unwrap()
                .contains("4 responses")
        );
        // After the window the address starts afresh.
        assert_eq!(b.check(1, "ip", "{\"a\":4}", 180 + 11 * 60), None);
    }

    #[test]
    fn the_device_cookie_lists_codes() {
        assert!(answered_on_device(Some("abc.def"), "def"));
        assert!(!answered_on_device(Some("abcdef"), "def"));
        assert!(!answered_on_device(None, "def"));
    }
}
