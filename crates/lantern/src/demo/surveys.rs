//! The demo agency's surveys: a community survey with a few thousand answers over eighteen
//! months, officer feedback cards, a post-contact survey, and two waves of the anonymous staff
//! survey. Answers come from a simple model with known effects (district and group differences
//! in trust, a slow upward trend, more answers from older, white and female residents than
//! their share of the population), so results, trends and weighting all have something real
//! to show, and tests can check that weighting moves estimates the way the skew says it must.

use chrono::{Datelike, Duration, TimeZone};

use crate::on_tx;
use crate::platform::agencies::Agency;
use crate::platform::audit::Actor;
use crate::platform::db::Db;
use crate::platform::roster;
use crate::surveys::model::{Answer, Answers};
use crate::surveys::store::{self, NewSurvey, Survey};
use crate::surveys::templates::{Template, resolve_demographics};
use crate::surveys::writer::{self, Link, NewResponse};

/// How many residents answered the community survey.
pub const COMMUNITY_RESPONSES: usize = 3_200;
/// Months of community answers.
pub const MONTHS: i64 = 18;
/// Trust rises by this much (0–10 scale) per month.
pub const TRUST_TREND_PER_MONTH: f64 = 0.06;

/// What the generator made, for the caller and for tests.
pub struct Seeded {
    pub community: Survey,
    pub post_contact: Survey,
    pub cards: Survey,
    pub employee_waves: [Survey; 2],
    /// Officers whose feedback cards were generated to score well below the rest.
    pub low_card_officers: Vec<i64>,
}

fn normal(rng: &mut fastrand::Rng) -> f64 {
    // Box–Muller: enough for synthetic data.
    let u1 = rng.f64().max(1e-12);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn pick(rng: &mut fastrand::Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.f64() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

async fn publish(
    db: &Db,
    agency: &Agency,
    template: Template,
    name: &str,
    now: i64,
) -> anyhow::Result<Survey> {
    let actor = Actor::System("demo");
    let definition = template.definition();
    let survey = store::create(
        db,
        agency.id,
        NewSurvey {
            kind: template.kind(),
            name,
            definition: &definition,
        },
        &actor,
        None,
        now,
    )
    .await?;
    let mut def = survey.draft();
    resolve_demographics(&mut def, &store::district_choices(db, agency.id).await?);
    store::publish(db, &survey, &def, &actor, None, now)
        .await?
        .map_err(|e| anyhow::anyhow!("demo survey {name}: {e:?}"))?;
    Ok(store::get(db, agency.id, survey.id)
        .await?
        .expect("just published"))
}

pub async fn seed(
    db: &Db,
    rng: &mut fastrand::Rng,
    agency: &Agency,
    now: i64,
) -> anyhow::Result<Seeded> {
    let community = publish(
        db,
        agency,
        Template::CommunityTrust,
        "Community survey (ongoing)",
        now,
    )
    .await?;
    store::set_options(
        db,
        &community,
        false,
        true,
        &Actor::System("demo"),
        None,
        now,
    )
    .await?;
    let post_contact = publish(
        db,
        agency,
        Template::PostContact,
        "After a call or a stop",
        now,
    )
    .await?;
    let cards = publish(
        db,
        agency,
        Template::OfficerCard,
        "Officer feedback cards",
        now,
    )
    .await?;
    let wave1 = publish(
        db,
        agency,
        Template::EmployeeEngagement,
        "Staff survey, wave 1",
        now,
    )
    .await?;
    let wave2 = publish(
        db,
        agency,
        Template::EmployeeEngagement,
        "Staff survey, wave 2",
        now,
    )
    .await?;
    store::set_status(db, &wave1, "closed", &Actor::System("demo"), None, now).await?;

    community_answers(db, rng, agency, &community, now).await?;
    let low_card_officers = card_answers(db, rng, agency, &cards, now).await?;
    staff_waves(db, rng, agency, [&wave1, &wave2], now).await?;
    Ok(Seeded {
        community,
        post_contact,
        cards,
        employee_waves: [wave1, wave2],
        low_card_officers,
    })
}

const COMMENTS_EN: &[&str] = &[
    "Response times are too slow when you call at night.",
    "The officers who came were respectful and explained everything.",
    "More patrols at night please, there are break-ins on our street.",
    "Speeding on our street is a real problem near the school.",
    "Great community events this year, keep them up.",
    "I do not feel safe walking at night near the park.",
    "Officers should explain why they stop people.",
    "Thank you for the quick response when my car was broken into.",
    "We need more officers who speak Spanish.",
    "Car break-ins keep happening and nobody follows up.",
    "Slow response times, waited over an hour.",
    "Community events are a good way to meet officers.",
];

const COMMENTS_ES: &[&str] = &[
    "Los tiempos de respuesta son muy lentos por la noche.",
    "Necesitamos más agentes que hablen español.",
    "Los agentes fueron respetuosos y explicaron todo.",
    "Más patrullas de noche, por favor.",
    "Gracias por la respuesta rápida.",
];

fn scale(rng: &mut fastrand::Rng, latent: f64, sd: f64, lo: f64, hi: f64) -> f64 {
    (latent + normal(rng) * sd).round().clamp(lo, hi)
}

async fn community_answers(
    db: &Db,
    rng: &mut fastrand::Rng,
    agency: &Agency,
    survey: &Survey,
    now: i64,
) -> anyhow::Result<()> {
    let version = survey.current_version.expect("published");
    let districts = roster::districts(db, agency.id).await?;
    let margins = roster::margins(db, agency.id).await?;
    let races = [
        "white",
        "black",
        "hispanic",
        "asian/pacific islander",
        "other",
    ];
    // Who answers: older, white and female residents more than their share.
    let race_response = [1.4, 0.65, 0.6, 0.9, 0.8];
    let ages = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"];
    let age_share = [0.13, 0.19, 0.17, 0.16, 0.16, 0.19];
    let age_response = [0.4, 0.7, 0.9, 1.1, 1.4, 1.7];
    let district_effect = |code: &str| match code {
        "D1" => 0.5,
        "D2" => -0.9,
        "D3" => -0.3,
        "D4" => -0.7,
        "D5" => 0.2,
        _ => 0.7,
    };
    let race_effect = [0.0, -1.3, -0.8, -0.1, -0.4];
    let district_weights: Vec<f64> = districts
        .iter()
        .map(|d| {
            d.population as f64
                * if matches!(d.code.as_str(), "D1" | "D6") {
                    1.3
                } else {
                    0.9
                }
        })
        .collect();
    let tz = agency.tz();
    let today = chrono::DateTime::from_timestamp(now, 0)
        .expect("now")
        .with_timezone(&tz)
        .date_naive();
    let mut rows = Vec::with_capacity(COMMUNITY_RESPONSES);
    for _ in 0..COMMUNITY_RESPONSES {
        // More answers in recent months, as the survey becomes known.
        let month_back = (MONTHS as f64 * (1.0 - rng.f64().powf(0.8))).floor() as i64;
        let month_index = MONTHS - 1 - month_back;
        let day = today - Duration::days(month_back * 30 + rng.i64(0..30));
        let local = tz
            .with_ymd_and_hms(
                day.year(),
                day.month(),
                day.day(),
                rng.u32(7..22),
                rng.u32(0..60),
                0,
            )
            .earliest()
            .expect("a valid local time");
        let d = &districts[pick(rng, &district_weights)];
        let shares: Vec<f64> = races
            .iter()
            .map(|r| {
                margins
                    .iter()
                    .find(|m| m.geography == d.code && m.dimension == "race" && m.category == *r)
                    .map_or(0.0, |m| m.population as f64)
            })
            .collect();
        let weights: Vec<f64> = shares
            .iter()
            .zip(race_response)
            .map(|(s, w)| s * w)
            .collect();
        let race = pick(rng, &weights);
        let age = pick(
            rng,
            &age_share
                .iter()
                .zip(age_response)
                .map(|(s, w)| s * w)
                .collect::<Vec<_>>(),
        );
        let gender = pick(rng, &[0.56, 0.39, 0.02, 0.03]);
        let spanish = race == 2 && rng.f64() < 0.45;

        let trust = 5.4
            + district_effect(&d.code)
            + race_effect[race]
            + 0.25 * age as f64
            + TRUST_TREND_PER_MONTH * month_index as f64
            + normal(rng) * 1.2;
        let mut a = Answers::new();
        a.insert(
            "trust_respect".into(),
            Answer::Number(scale(rng, trust, 0.8, 0.0, 10.0)),
        );
        a.insert(
            "trust_listen".into(),
            Answer::Number(scale(rng, trust - 0.4, 0.9, 0.0, 10.0)),
        );
        if rng.f64() < 0.95 {
            a.insert(
                "safety_night".into(),
                Answer::Number(scale(rng, trust * 0.6 + 1.2, 1.2, 0.0, 10.0)),
            );
            a.insert(
                "safety_day".into(),
                Answer::Number(scale(rng, trust * 0.5 + 3.4, 1.0, 0.0, 10.0)),
            );
        }
        let agree = |rng: &mut fastrand::Rng, shift: f64| {
            Answer::One(format!(
                "{}",
                scale(rng, trust / 10.0 * 4.0 + 1.0 + shift, 0.7, 1.0, 5.0) as i64
            ))
        };
        for (key, shift) in [
            ("pj_voice", -0.2),
            ("pj_neutral", -0.1),
            ("pj_respect", 0.1),
            ("pj_trustworthy", 0.0),
        ] {
            if rng.f64() < 0.93 {
                let v = agree(rng, shift);
                a.insert(key.into(), v);
            }
        }
        if rng.f64() < 0.36 {
            a.insert("contact_12m".into(), Answer::One("yes".into()));
            let kinds = ["called", "stopped", "victim", "event", "other"];
            let mut picked: Vec<String> = kinds
                .iter()
                .filter(|_| rng.f64() < 0.35)
                .map(|k| k.to_string())
                .collect();
            if picked.is_empty() {
                picked.push(kinds[rng.usize(..kinds.len())].to_string());
            }
            a.insert("contact_kind".into(), Answer::Many(picked));
            a.insert(
                "contact_rating".into(),
                Answer::Number(scale(rng, trust + 0.3, 1.5, 0.0, 10.0)),
            );
        } else {
            a.insert("contact_12m".into(), Answer::One("no".into()));
        }
        let priorities = [
            "violence",
            "property",
            "traffic",
            "drugs",
            "youth",
            "mental_health",
        ];
        let priority_weights = match d.code.as_str() {
            "D2" | "D4" => [0.3, 0.2, 0.1, 0.2, 0.15, 0.05],
            "D3" => [0.2, 0.2, 0.1, 0.15, 0.1, 0.25],
            _ => [0.1, 0.3, 0.3, 0.05, 0.15, 0.1],
        };
        a.insert(
            "priority".into(),
            Answer::One(priorities[pick(rng, &priority_weights)].into()),
        );
        if rng.f64() < 0.3 {
            let text = if spanish {
                COMMENTS_ES[rng.usize(..COMMENTS_ES.len())]
            } else {
                COMMENTS_EN[rng.usize(..COMMENTS_EN.len())]
            };
            a.insert("comments".into(), Answer::One(text.into()));
        }
        // A few leave each demographic question unanswered or decline.
        if rng.f64() < 0.96 {
            a.insert("age_group".into(), Answer::One(ages[age].into()));
        }
        let genders = ["female", "male", "another", "prefer_not"];
        a.insert("gender".into(), Answer::One(genders[gender].into()));
        if rng.f64() < 0.95 {
            a.insert("race".into(), Answer::One(races[race].into()));
        } else {
            a.insert("race".into(), Answer::One("prefer_not".into()));
        }
        if rng.f64() < 0.97 {
            a.insert("district".into(), Answer::One(d.code.clone()));
        }
        a.insert(
            "language".into(),
            Answer::One(if spanish { "es" } else { "en" }.into()),
        );
        let channels = ["flyer", "social", "event", "web"];
        rows.push(NewResponse {
            agency_id: agency.id,
            survey_id: survey.id,
            version_id: version,
            submitted_at: local.timestamp(),
            channel: channels[pick(rng, &[0.25, 0.35, 0.15, 0.25])].into(),
            language: if spanish { "es" } else { "en" }.into(),
            status: "ok",
            flag_reason: None,
            contact_id: None,
            officer_id: None,
            source_hash: None,
            answers: serde_json::to_string(&a)?,
            link: Link::Open,
        });
    }
    // Answers arrive in time order, as they would.
    rows.sort_by_key(|r| r.submitted_at);
    writer::insert_all(db, &rows).await?;
    Ok(())
}

/// Feedback cards for about a third of the officers; three of them score well below the rest.
async fn card_answers(
    db: &Db,
    rng: &mut fastrand::Rng,
    agency: &Agency,
    survey: &Survey,
    now: i64,
) -> anyhow::Result<Vec<i64>> {
    let version = survey.current_version.expect("published");
    let officers: Vec<i64> = roster::officers(db, agency.id)
        .await?
        .into_iter()
        .filter(|o| o.active)
        .map(|o| o.id)
        .collect();
    let handing_out: Vec<i64> = officers
        .iter()
        .copied()
        .filter(|_| rng.f64() < 0.35)
        .collect();
    let low: Vec<i64> = handing_out.iter().copied().take(3).collect();
    let mut rows = Vec::new();
    for officer in &handing_out {
        let quality = if low.contains(officer) {
            2.6
        } else {
            4.2 + normal(rng) * 0.25
        };
        for _ in 0..rng.usize(8..30) {
            let mut a = Answers::new();
            for key in [
                "card_explained",
                "card_listened",
                "card_fair",
                "card_professional",
                "card_next_steps",
            ] {
                a.insert(
                    key.into(),
                    Answer::Number(scale(rng, quality, 0.7, 1.0, 5.0)),
                );
            }
            rows.push(NewResponse {
                agency_id: agency.id,
                survey_id: survey.id,
                version_id: version,
                submitted_at: now - rng.i64(0..300) * 86_400 - rng.i64(0..86_400),
                channel: "card".into(),
                language: if rng.f64() < 0.2 { "es" } else { "en" }.into(),
                status: "ok",
                flag_reason: None,
                contact_id: None,
                officer_id: Some(*officer),
                source_hash: None,
                answers: serde_json::to_string(&a)?,
                link: Link::Open,
            });
        }
    }
    rows.sort_by_key(|r| r.submitted_at);
    writer::insert_all(db, &rows).await?;
    Ok(low)
}

/// Officers get staff accounts that cannot sign in (no password), so they can be invited to
/// the staff survey; two waves of answers follow, the second with better organisational
/// justice scores.
async fn staff_waves(
    db: &Db,
    rng: &mut fastrand::Rng,
    agency: &Agency,
    waves: [&Survey; 2],
    now: i64,
) -> anyhow::Result<()> {
    let officers = roster::officers(db, agency.id).await?;
    let mut tx = db.begin().await?;
    for o in officers.iter().filter(|o| o.active) {
        on_tx!(&mut tx, |c| {
            sqlx::query(
                "INSERT INTO users (agency_id, username, display_name, role, password_hash, created_at, password_changed_at) \
                 VALUES ($1, $2, $3, 'staff', '!', $4, $4)",
            )
            .bind(agency.id)
            .bind(format!("o{}", o.badge))
            .bind(format!("{} {}", o.first_name, o.last_name))
            .bind(now)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
        })?;
    }
    for (w, survey) in waves.iter().enumerate() {
        let version = survey.current_version.expect("published");
        let days_ago = if w == 0 { 420 } else { 45 };
        on_tx!(&mut tx, |c| {
            sqlx::query(
                "INSERT INTO employee_invitations (agency_id, survey_id, user_id, invited_at) \
                 SELECT agency_id, $2, id, $3 FROM users WHERE agency_id = $1 AND active = TRUE",
            )
            .bind(agency.id)
            .bind(survey.id)
            .bind(now - days_ago * 86_400)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
        })?;
        let invited: Vec<i64> = on_tx!(&mut tx, |c| {
            sqlx::query_scalar(
                "SELECT user_id FROM employee_invitations WHERE agency_id = $1 AND survey_id = $2",
            )
            .bind(agency.id)
            .bind(survey.id)
            .fetch_all(&mut **c)
            .await
        })?;
        let rate = if w == 0 { 0.55 } else { 0.63 };
        let responders: Vec<i64> = invited.into_iter().filter(|_| rng.f64() < rate).collect();
        for user in &responders {
            on_tx!(&mut tx, |c| {
                sqlx::query("UPDATE employee_invitations SET responded = TRUE WHERE agency_id = $1 AND survey_id = $2 AND user_id = $3")
                    .bind(agency.id)
                    .bind(survey.id)
                    .bind(user)
                    .execute(&mut **c)
                    .await
                    .map(|r| r.rows_affected())
            })?;
        }
        // The answers are generated apart from who responded: there is no link to make.
        for _ in 0..responders.len() {
            let assignment = ["patrol", "investigations", "support", "command"]
                [pick(rng, &[0.6, 0.2, 0.15, 0.05])];
            let base = match assignment {
                "patrol" => 2.7,
                "investigations" => 3.1,
                "support" => 3.3,
                _ => 3.8,
            } + if w == 1 { 0.35 } else { 0.0 };
            let mut a = Answers::new();
            for key in [
                "oj_decisions",
                "oj_discipline",
                "oj_voice",
                "sup_support",
                "sup_feedback",
                "morale_proud",
                "morale_recommend",
                "wellness_know",
                "wellness_use",
            ] {
                let latent = base + normal(rng) * 0.3;
                a.insert(
                    key.into(),
                    Answer::One(format!("{}", scale(rng, latent, 0.8, 1.0, 5.0) as i64)),
                );
            }
            a.insert(
                "stress".into(),
                Answer::One(
                    ["rarely", "sometimes", "often", "always"][pick(rng, &[0.2, 0.4, 0.3, 0.1])]
                        .into(),
                ),
            );
            a.insert(
                "intent_stay".into(),
                Answer::One(["stay", "unsure", "leave"][pick(rng, &[0.55, 0.3, 0.15])].into()),
            );
            a.insert("assignment".into(), Answer::One(assignment.into()));
            a.insert(
                "tenure".into(),
                Answer::One(["0-4", "5-14", "15+"][pick(rng, &[0.3, 0.4, 0.3])].into()),
            );
            let day =
                chrono::DateTime::from_timestamp(now - (days_ago - rng.i64(0..21)) * 86_400, 0)
                    .expect("a valid time")
                    .with_timezone(&agency.tz())
                    .format("%Y-%m-%d")
                    .to_string();
            on_tx!(&mut tx, |c| {
                sqlx::query(
                    "INSERT INTO employee_responses (agency_id, survey_id, token, version_id, day, language, answers) VALUES ($1, $2, $3, $4, $5, 'en', $6)",
                )
                .bind(agency.id)
                .bind(survey.id)
                // Drawn from the seeded generator so the demo is the same every time.
                .bind(format!("{:016x}{:016x}", rng.u64(..), rng.u64(..)))
                .bind(version)
                .bind(day)
                .bind(serde_json::to_string(&a).expect("answers serialise"))
                .execute(&mut **c)
                .await
                .map(|r| r.rows_affected())
            })?;
        }
    }
    tx.commit().await?;
    Ok(())
}
