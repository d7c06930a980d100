//! The demo agency itself: profile, districts with census population, units, officers and
//! their assignment histories, and one account per role.

use chrono::{Duration, NaiveDate};

use super::names::{GIVEN_FEMALE, GIVEN_MALE, SURNAMES};
use crate::platform::accounts::{self, NewUser, Role};
use crate::platform::agencies::{self, Agency, NewAgency};
use crate::platform::audit::Actor;
use crate::platform::db::Db;
use crate::platform::roster::{self, NewOfficer};

pub const SLUG: &str = "riverton";
pub const NAME: &str = "Riverton Police Department";
pub const TIMEZONE: &str = "America/Chicago";
/// A real place (Des Moines, Iowa), so sun times and maps are real; the agency is invented.
pub const LATITUDE: f64 = 41.5868;
pub const LONGITUDE: f64 = -93.6250;

/// The census race/ethnicity categories Lantern benchmarks against (as the Stanford Open
/// Policing Project groups them).
pub const RACES: [&str; 5] = [
    "white",
    "black",
    "hispanic",
    "asian/pacific islander",
    "other",
];

/// (code, name, population, shares of RACES): districts differ on purpose.
const DISTRICTS: [(&str, &str, i64, [f64; 5]); 6] = [
    ("D1", "Northside", 41_000, [0.72, 0.08, 0.12, 0.05, 0.03]),
    ("D2", "Riverside", 38_500, [0.41, 0.31, 0.19, 0.05, 0.04]),
    ("D3", "Downtown", 27_000, [0.55, 0.17, 0.14, 0.10, 0.04]),
    ("D4", "Eastgate", 44_000, [0.33, 0.22, 0.36, 0.05, 0.04]),
    ("D5", "Southpark", 36_000, [0.62, 0.12, 0.16, 0.06, 0.04]),
    ("D6", "Westwood", 47_500, [0.78, 0.05, 0.07, 0.07, 0.03]),
];

/// Adult population shares by sex and age group, for survey weighting.
const SEX: [(&str, f64); 2] = [("female", 0.515), ("male", 0.485)];
const AGE_GROUPS: [(&str, f64); 6] = [
    ("18-24", 0.13),
    ("25-34", 0.19),
    ("35-44", 0.17),
    ("45-54", 0.16),
    ("55-64", 0.16),
    ("65+", 0.19),
];

pub const OFFICERS: usize = 320;

const ABOUT_EN: &str = "The Riverton Police Department serves about 234,000 residents in six districts. We are working to earn and keep the trust of every neighbourhood: we ask residents how we are doing, publish what we do, and hold ourselves to account.\n\nThis is a demonstration agency. Its people and numbers are invented.";
const ABOUT_ES: &str = "El Departamento de Policía de Riverton sirve a unos 234.000 residentes en seis distritos. Trabajamos para ganar y mantener la confianza de cada vecindario: preguntamos a los residentes cómo lo estamos haciendo, publicamos lo que hacemos y rendimos cuentas.\n\nEsta es una agencia de demostración. Sus personas y cifras son inventadas.";

/// One demo account per role: (username, role, display name, password).
pub const ACCOUNTS: [(&str, Role, &str, &str); 6] = [
    (
        "admin",
        Role::Admin,
        "Chief Dana Whitfield",
        "riverton-admin-lantern",
    ),
    (
        "analyst",
        Role::Analyst,
        "Sam Okafor (crime analyst)",
        "riverton-analyst-lantern",
    ),
    (
        "supervisor",
        Role::Supervisor,
        "Sgt. Lena Morales",
        "riverton-supervisor-lantern",
    ),
    (
        "investigator",
        Role::Investigator,
        "Lt. Ray Chen (Internal Affairs)",
        "riverton-investigator-lantern",
    ),
    (
        "oversight",
        Role::Oversight,
        "Gloria Banks (Civilian Review Board)",
        "riverton-oversight-lantern",
    ),
    (
        "officer",
        Role::Staff,
        "Officer Jordan Pike",
        "riverton-officer-lantern",
    ),
];

pub async fn seed(db: &Db, rng: &mut fastrand::Rng, now: i64) -> anyhow::Result<Agency> {
    let actor = Actor::System("demo");
    let agency = agencies::create(
        db,
        NewAgency {
            slug: SLUG.into(),
            name: NAME.into(),
            timezone: TIMEZONE.into(),
            latitude: Some(LATITUDE),
            longitude: Some(LONGITUDE),
        },
        &actor,
        now,
    )
    .await?;
    // The printed demo sign-ins work without an authenticator; Settings turns MFA back on.
    let profile = agencies::Settings {
        about_en: ABOUT_EN.into(),
        about_es: ABOUT_ES.into(),
        contact_email: "community@riverton.example".into(),
        contact_phone: "(515) 555-0142".into(),
        address: "400 Main Street, Riverton".into(),
        website: "https://riverton.example".into(),
        mfa_required: false,
        ..agencies::Settings::of(&agency)
    };
    if let Err(errors) = agencies::update_settings(db, &agency, profile, &actor, None, now).await? {
        anyhow::bail!("demo profile: {errors:?}");
    }

    let mut tx = db.begin().await?;
    let mut district_ids = Vec::new();
    let mut race_totals = [0i64; 5];
    for (code, name, population, shares) in DISTRICTS {
        let id = roster::insert_district(&mut tx, agency.id, code, name).await?;
        district_ids.push(id);
        // Jitter each district's shares a little so different seeds give different towns.
        let jittered: Vec<f64> = shares.iter().map(|s| s * (0.9 + 0.2 * rng.f64())).collect();
        let total: f64 = jittered.iter().sum();
        for (i, race) in RACES.iter().enumerate() {
            let n = (population as f64 * jittered[i] / total).round() as i64;
            race_totals[i] += n;
            roster::insert_margin(
                &mut tx,
                agency.id,
                code,
                "race",
                race,
                n,
                "Demo census (synthetic)",
            )
            .await?;
        }
    }
    let total: i64 = race_totals.iter().sum();
    for (i, race) in RACES.iter().enumerate() {
        roster::insert_margin(
            &mut tx,
            agency.id,
            "agency",
            "race",
            race,
            race_totals[i],
            "Demo census (synthetic)",
        )
        .await?;
    }
    let adults = (total as f64 * 0.78).round() as i64;
    for (sex, share) in SEX {
        roster::insert_margin(
            &mut tx,
            agency.id,
            "agency",
            "sex",
            sex,
            (adults as f64 * share).round() as i64,
            "Demo census (synthetic)",
        )
        .await?;
    }
    for (group, share) in AGE_GROUPS {
        roster::insert_margin(
            &mut tx,
            agency.id,
            "agency",
            "age_group",
            group,
            (adults as f64 * share).round() as i64,
            "Demo census (synthetic)",
        )
        .await?;
    }

    let mut patrol_units = Vec::new();
    for ((_, name, _, _), district_id) in DISTRICTS.iter().zip(&district_ids) {
        patrol_units.push(
            roster::insert_unit(
                &mut tx,
                agency.id,
                &format!("Patrol – {name}"),
                "patrol",
                Some(*district_id),
            )
            .await?,
        );
    }
    let mut other_units = Vec::new();
    for (name, kind) in [
        ("Traffic", "traffic"),
        ("Investigations", "investigations"),
        ("Community Outreach", "community"),
        ("Training", "training"),
        ("Internal Affairs", "internal_affairs"),
        ("K9", "special"),
    ] {
        other_units.push(roster::insert_unit(&mut tx, agency.id, name, kind, None).await?);
    }

    let today = chrono::DateTime::from_timestamp(now, 0)
        .expect("now is a valid time")
        .date_naive();
    for i in 0..OFFICERS {
        let officer = officer(rng, i, today, &patrol_units, &other_units);
        roster::insert_officer(&mut tx, agency.id, &officer).await?;
    }
    tx.commit().await?;

    for (username, role, name, password) in ACCOUNTS {
        accounts::create(
            db,
            agency.id,
            NAME,
            NewUser {
                username: username.into(),
                display_name: name.into(),
                email: format!("{username}@riverton.example"),
                role,
                password: password.into(),
            },
            &actor,
            None,
            now,
        )
        .await
        .map_err(|e| match e {
            accounts::CreateUserError::Invalid(errors) => {
                anyhow::anyhow!("demo account {username}: {errors:?}")
            }
            other => anyhow::anyhow!(other),
        })?;
    }
    Ok(agencies::by_id(db, agency.id)
        .await?
        .expect("the demo agency exists"))
}

fn pick<'a>(rng: &mut fastrand::Rng, items: &'a [&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

/// Picks an index by weights.
fn weighted(rng: &mut fastrand::Rng, weights: &[f64]) -> usize {
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

fn officer(
    rng: &mut fastrand::Rng,
    i: usize,
    today: NaiveDate,
    patrol: &[i64],
    other: &[i64],
) -> NewOfficer {
    let female = rng.f64() < 0.18;
    let first = if female {
        pick(rng, GIVEN_FEMALE)
    } else {
        pick(rng, GIVEN_MALE)
    };
    let last = pick(rng, SURNAMES);
    let race = RACES[weighted(rng, &[0.68, 0.12, 0.13, 0.04, 0.03])];
    let years = rng.u32(0..30) as i64;
    let hire = today - Duration::days(years * 365 + rng.i64(0..365));
    let rank = match (years, rng.f64()) {
        (0..=4, _) => "Officer",
        (5..=9, x) if x < 0.25 => "Corporal",
        (10..=14, x) if x < 0.35 => "Sergeant",
        (15.., x) if x < 0.12 => "Lieutenant",
        (20.., x) if x < 0.18 => "Captain",
        (15.., x) if x < 0.45 => "Sergeant",
        _ => "Officer",
    };
    let active = rng.f64() > 0.05;
    // Careers start in patrol; some move on to a specialised unit.
    let mut assignments = Vec::new();
    let first_unit = patrol[rng.usize(..patrol.len())];
    let moves = if years >= 3 { rng.usize(0..3) } else { 0 };
    let mut start = hire;
    let mut unit = first_unit;
    for _ in 0..moves {
        let span = (today - start).num_days().max(2);
        let end = start + Duration::days(rng.i64(span / 3..span.max(span / 3 + 1)));
        if end >= today {
            break;
        }
        assignments.push((unit, iso(start), Some(iso(end))));
        start = end + Duration::days(1);
        unit = if rng.f64() < 0.5 {
            other[rng.usize(..other.len())]
        } else {
            patrol[rng.usize(..patrol.len())]
        };
    }
    let end = (!active).then(|| iso((today - Duration::days(rng.i64(1..400))).max(start)));
    assignments.push((unit, iso(start.min(today)), end));
    NewOfficer {
        badge: format!("{}", 1001 + i),
        first_name: first.to_string(),
        last_name: last.to_string(),
        rank: rank.to_string(),
        sex: if female { "female" } else { "male" }.to_string(),
        race: race.to_string(),
        hire_date: iso(hire),
        active,
        assignments,
    }
}

fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}
