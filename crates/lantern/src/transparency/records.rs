//! The stops topic's record-level open data (`stops.records`): one row per stop, with no
//! names, no contact details, no free text, no exact place and no time finer than the hour,
//! and no combination of the quasi-identifiers shared by fewer stops than the agency's
//! small-cell threshold.
//!
//! **Kept**: date and hour (never minutes), district, stop type, race, sex, age group (never
//! the age), whether the stop was after dusk, search, search basis, frisk, contraband,
//! arrest, citation, warning and outcome. **Dropped**: latitude and longitude, the location
//! text, officer ids, the source's row ids, the reason for the stop (free text), the minutes
//! of the clock time and the exact age.
//!
//! **Small groups.** The quasi-identifiers are date, hour, district, race, sex and age group.
//! Each stop is written at the finest of these levels at which its group has at least `k`
//! stops (`k` = the agency's small-cell threshold), each level coarser than the one before:
//!
//! | level | `detail` | kept                                      |
//! | ----- | -------- | ----------------------------------------- |
//! | 0     | hour     | date, hour, district, race, sex, age group |
//! | 1     | date     | date, district, race, sex, age group       |
//! | 2     | month    | month, district, race, sex, age group      |
//! | 3     | district | month, district, race                      |
//! | 4     | race     | year, race                                 |
//! | 5     | year     | year                                       |
//!
//! The groups form a tree (a level-1 group is the union of level-0 groups, and so on), and
//! the rule is applied bottom-up ([`assign`]): the stops of groups with at least `k` stops
//! are written at that level; the rest go up to their parent group, coarser, and are written
//! there if they are at least `k`. What reaches a year-and-race group (level 4) with fewer
//! than `k` stops does not go further (it would lose its race): whole month-and-district
//! groups of the same year and race are taken up with it, smallest first, until it has `k`.
//! A stop is therefore never written in a group of fewer than `k` stops, counting only the
//! stops written with exactly its values (a blank never narrows a stop down to a few). Only
//! a race group of a year with fewer than `k` stops in all goes up to level 5 (its race
//! blanked), and if those are fewer than `k` together, the smallest other race groups of the
//! year go with them. A year with fewer than `k` stops in all is left out of the file (its
//! count is withheld from the published tables too). Because every race group of a year that
//! has `k` stops or more keeps its race, the file's counts by year and race equal the
//! published tables'; only when the race groups too small to show add up to fewer than `k`
//! stops does the rule take the next smallest race group with them, and the file then blanks
//! more than the tables withhold.
//!
//! The rule needs every group's size before the first row is written, so the file is made
//! in two passes over the stored chunks, one chunk in memory at a time: the first counts
//! the groups (a table of counts per distinct combination, whose size is bounded by the
//! combinations that exist, not by the stops), the second writes the rows.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use futures_util::StreamExt;

use crate::platform::db::Db;
use crate::platform::error::AppError;
use crate::publish::records::{FieldType, RecordBatch, RecordColumn, RecordFile, Values};
use crate::transparency::chunks::{self, CountedStop};
use crate::transparency::model::{FromOutcome, OUTCOMES, RACES, SEARCH_BASES, SEXES, STOP_TYPES};
use crate::transparency::store;
use crate::transparency::tally::AGE_GROUPS;
use crate::web::i18n::{Lang, t};

/// The record file's id, as publications name it.
pub const ID: &str = "stops.records";

/// The levels, finest first, as the `detail` column names them.
pub const LEVELS: [&str; 6] = ["hour", "date", "month", "district", "race", "year"];

/// A stop left out of the file (its year has fewer than `k` stops).
const SUPPRESSED: u8 = 6;
/// Not yet assigned a level.
const UNSET: u8 = u8::MAX;
/// The first level whose too few stops take their siblings with them rather than go up:
/// above it a stop would lose its race.
const PULL_FROM: u8 = 4;

// A stop's group key, in bits from the top, coarsest first, so that the groups of a level
// are runs of the sorted keys: year 12, race 3, month 4, district 16, sex 2, age group 3,
// day of the month 5, hour 5 (each 0 when the source did not say).
const HOUR: u32 = 0;
const DAY: u32 = 5;
const AGE: u32 = 10;
const SEX: u32 = 13;
const DISTRICT: u32 = 15;
const MONTH: u32 = 31;
const RACE: u32 = 35;
const YEAR: u32 = 38;

/// The key bits each level keeps: level `l` clears the bits below `KEEP_FROM[l]`.
const KEEP_FROM: [u32; 6] = [HOUR, DAY, AGE, DISTRICT, RACE, YEAR];

fn at_level(key: u64, level: u8) -> u64 {
    key & !((1u64 << KEEP_FROM[usize::from(level)]) - 1)
}

/// The race a stop is written with: the source's, or "unknown" when it did not say (as the
/// published tables count it).
fn race_index(race: Option<u8>) -> u64 {
    u64::from(race.unwrap_or(5))
}

/// One distinct combination of the quasi-identifiers: its key, its stops, its level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Group {
    key: u64,
    stops: u32,
    level: u8,
}

/// Assigns a level to the groups of one node of the tree (`groups` sorted by key, all with
/// one key at `level`); returns the stops passed up to the parent, unassigned.
fn assign(groups: &mut [Group], level: u8, k: u64) -> u64 {
    let total: u64 = groups.iter().map(|g| u64::from(g.stops)).sum();
    if level == 0 {
        debug_assert_eq!(groups.len(), 1);
        if total >= k {
            groups[0].level = 0;
            return 0;
        }
        return total;
    }
    // The children: runs of one key at the level below. (start, end, stops, passed up)
    let mut children: Vec<(usize, usize, u64, u64)> = Vec::new();
    let mut start = 0;
    while start < groups.len() {
        let key = at_level(groups[start].key, level - 1);
        let end = start
            + groups[start..]
                .iter()
                .take_while(|g| at_level(g.key, level - 1) == key)
                .count();
        let up = assign(&mut groups[start..end], level - 1, k);
        let stops = groups[start..end].iter().map(|g| u64::from(g.stops)).sum();
        children.push((start, end, stops, up));
        start = end;
    }
    let mut up: u64 = children.iter().map(|c| c.3).sum();
    if up == 0 {
        return 0;
    }
    if total < k {
        return total;
    }
    if up < k && level < PULL_FROM {
        // Too few to write here: they go up, coarser, and the groups written below keep
        // their detail.
        return up;
    }
    if up < k {
        // Take whole children up, smallest first, until the group written here has k.
        let mut written: Vec<&(usize, usize, u64, u64)> =
            children.iter().filter(|c| c.3 < c.2).collect();
        written.sort_by_key(|c| (c.2, c.0));
        for (s, e, stops, passed) in written {
            for g in &mut groups[*s..*e] {
                g.level = UNSET;
            }
            up += stops - passed;
            if up >= k {
                break;
            }
        }
    }
    for g in groups.iter_mut() {
        if g.level == UNSET {
            g.level = level;
        }
    }
    0
}

/// What the first pass learns: each group's level, and the districts' numbers.
#[derive(Debug, Default)]
pub struct Plan {
    groups: Vec<Group>,
    districts: HashMap<String, u64>,
    /// Stops left out, and stops written at each level.
    pub suppressed: u64,
    pub written: [u64; 6],
}

impl Plan {
    fn level(&self, key: u64) -> u8 {
        match self.groups.binary_search_by_key(&key, |g| g.key) {
            Ok(i) => self.groups[i].level,
            Err(_) => SUPPRESSED,
        }
    }
}

/// Counts the groups into `counts`, and gives each its level.
fn plan_from_counts(counts: HashMap<u64, u32>, districts: HashMap<String, u64>, k: i64) -> Plan {
    let k = k.max(1) as u64;
    let mut groups: Vec<Group> = counts
        .into_iter()
        .map(|(key, stops)| Group {
            key,
            stops,
            level: UNSET,
        })
        .collect();
    groups.sort_unstable_by_key(|g| g.key);
    let mut start = 0;
    while start < groups.len() {
        let year = at_level(groups[start].key, 5);
        let end = start
            + groups[start..]
                .iter()
                .take_while(|g| at_level(g.key, 5) == year)
                .count();
        if assign(&mut groups[start..end], 5, k) > 0 {
            for g in &mut groups[start..end] {
                g.level = SUPPRESSED;
            }
        }
        start = end;
    }
    let mut plan = Plan {
        groups,
        districts,
        ..Plan::default()
    };
    for g in &plan.groups {
        match g.level {
            SUPPRESSED => plan.suppressed += u64::from(g.stops),
            l => plan.written[usize::from(l)] += u64::from(g.stops),
        }
    }
    plan
}

/// A stop's key at level 0, or `None` when its year is not one of `years`.
fn key(stop: &CountedStop, district: u64, years: &[i32]) -> Option<u64> {
    let date = NaiveDate::from_num_days_from_ce_opt(stop.day)?;
    if !years.contains(&date.year()) {
        return None;
    }
    let hour = stop
        .minute
        .map_or(0, |m| (m.clamp(0, 1439) / 60) as u64 + 1);
    let sex = stop.sex.map_or(0, |s| u64::from(s) + 1);
    let age = stop.age.map_or(0, |_| {
        let group = crate::transparency::tally::age_group(stop.age);
        AGE_GROUPS
            .iter()
            .position(|g| *g == group)
            .map_or(0, |i| i as u64 + 1)
    });
    Some(
        (date.year() as u64) << YEAR
            | race_index(stop.race) << RACE
            | u64::from(date.month()) << MONTH
            | district << DISTRICT
            | sex << SEX
            | age << AGE
            | u64::from(date.day()) << DAY
            | hour << HOUR,
    )
}

/// The agency's stored chunks of finished imports, in order, with how each import counts
/// arrests, citations and warnings.
async fn chunk_list(db: &Db, agency_id: i64) -> Result<Vec<(i64, i64, FromOutcome)>, sqlx::Error> {
    Ok(store::finished_chunks(db, agency_id)
        .await?
        .into_iter()
        .map(|(import, chunk, derived)| {
            (
                import,
                chunk,
                FromOutcome::from_text(derived.as_deref().unwrap_or("")),
            )
        })
        .collect())
}

fn decode_err(e: String) -> AppError {
    AppError::Internal(anyhow::anyhow!(e))
}

fn parse_years(years: &[String]) -> Result<Vec<i32>, AppError> {
    years
        .iter()
        .map(|y| {
            y.parse()
                .map_err(|_| AppError::BadRequest(format!("{y:?} is not a year")))
        })
        .collect()
}

/// The first pass: every stop's group counted, chunk by chunk, then each group's level.
pub async fn plan(db: &Db, agency_id: i64, years: &[String], k: i64) -> Result<Plan, AppError> {
    let years = parse_years(years)?;
    let mut counts: HashMap<u64, u32> = HashMap::new();
    let mut districts: HashMap<String, u64> = HashMap::new();
    for (import, chunk, _) in chunk_list(db, agency_id).await? {
        let (format, rows, data) = store::chunk_columns(db, agency_id, import, chunk).await?;
        let columns = chunks::StoredColumns::decode(format, rows, &data).map_err(decode_err)?;
        let stops = columns.counted();
        let ids = district_ids(&mut districts, stops.districts)?;
        for i in 0..stops.len() {
            let s = stops.get(i);
            if let Some(key) = key(&s, ids[s.district as usize], &years) {
                *counts.entry(key).or_default() += 1;
            }
        }
    }
    Ok(plan_from_counts(counts, districts, k))
}

/// The plan's number of each of a chunk's districts, by the chunk's code (0: none).
fn district_ids(known: &mut HashMap<String, u64>, names: &[String]) -> Result<Vec<u64>, AppError> {
    let mut ids = vec![0];
    for name in names {
        let next = known.len() as u64 + 1;
        let id = *known.entry(name.clone()).or_insert(next);
        if id >= 1 << 16 {
            return Err(AppError::Internal(anyhow::anyhow!(
                "more than 65,535 districts"
            )));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// The file's columns, in order, with the data dictionary.
pub fn columns(lang: Lang) -> Vec<RecordColumn> {
    let col = |key: &'static str, field| RecordColumn {
        key,
        label: t(lang, &format!("stops_records.col.{key}")).to_string(),
        field,
        description: t(lang, &format!("stops_records.desc.{key}")).to_string(),
    };
    use FieldType::{Boolean, Integer, Text};
    vec![
        col("year", Integer),
        col("month", Text),
        col("date", Text),
        col("hour", Integer),
        col("is_dark", Boolean),
        col("district", Text),
        col("stop_type", Text),
        col("subject_race", Text),
        col("subject_sex", Text),
        col("subject_age_group", Text),
        col("search_conducted", Boolean),
        col("search_basis", Text),
        col("frisk_performed", Boolean),
        col("contraband_found", Boolean),
        col("arrest_made", Boolean),
        col("citation_issued", Boolean),
        col("warning_issued", Boolean),
        col("outcome", Text),
        col("detail", Text),
    ]
}

/// The file as the portal describes it.
pub fn file(lang: Lang) -> RecordFile {
    let k = |key: &str| t(lang, &format!("stops_records.{key}")).to_string();
    RecordFile {
        id: ID,
        title: k("title"),
        description: k("description"),
        rules: (1..=5).map(|i| k(&format!("rule{i}"))).collect(),
        columns: columns(lang),
    }
}

/// A dictionary-coded text column being filled.
#[derive(Default)]
struct TextColumn {
    values: Vec<String>,
    index: HashMap<String, u32>,
    codes: Vec<u32>,
}

impl TextColumn {
    fn push(&mut self, v: Option<&str>) {
        let code = match v {
            None => 0,
            Some(v) => match self.index.get(v) {
                Some(c) => *c,
                None => {
                    self.values.push(v.to_string());
                    let c = self.values.len() as u32;
                    self.index.insert(v.to_string(), c);
                    c
                }
            },
        };
        self.codes.push(code);
    }

    fn done(self) -> Values {
        Values::Text {
            values: self.values,
            codes: self.codes,
        }
    }
}

/// The rows of one chunk, de-identified by the plan.
fn batch(
    plan: &Plan,
    stops: &chunks::Counted<'_>,
    from_outcome: FromOutcome,
    years: &[i32],
    district_ids: &[u64],
) -> Result<RecordBatch, AppError> {
    let mut year = Vec::new();
    let (mut month, mut date) = (TextColumn::default(), TextColumn::default());
    let mut hour = Vec::new();
    let mut is_dark = Vec::new();
    let mut district = TextColumn::default();
    let [mut stop_type, mut race, mut sex, mut age_group] = <[TextColumn; 4]>::default();
    let [mut search_basis, mut outcome, mut detail] = <[TextColumn; 3]>::default();
    let mut flags: [Vec<Option<bool>>; 6] = Default::default();
    for i in 0..stops.len() {
        let s = stops.get(i);
        let Some(key) = key(&s, district_ids[s.district as usize], years) else {
            continue;
        };
        let level = plan.level(key);
        if level == SUPPRESSED {
            continue;
        }
        let day = NaiveDate::from_num_days_from_ce_opt(s.day)
            .ok_or_else(|| decode_err(format!("day {} is not a date", s.day)))?;
        year.push(Some(i64::from(day.year())));
        month.push(
            (level <= 3)
                .then(|| day.format("%Y-%m").to_string())
                .as_deref(),
        );
        date.push(
            (level <= 1)
                .then(|| day.format("%Y-%m-%d").to_string())
                .as_deref(),
        );
        let kept_hour = (level == 0).then_some(s.minute).flatten();
        hour.push(kept_hour.map(|m| m.clamp(0, 1439) / 60));
        // After dusk: dark; from noon to sunset: light; the morning and twilight: not said
        // (the store keeps the evening's sunset and dusk only).
        is_dark.push(match (kept_hour, s.sunset, s.dusk) {
            (Some(m), Some(_), Some(dusk)) if m > dusk => Some(true),
            (Some(m), Some(sunset), Some(_)) if (720..sunset).contains(&m) => Some(false),
            _ => None,
        });
        let district_name = (level <= 3 && s.district > 0)
            .then(|| stops.districts[s.district as usize - 1].as_str());
        district.push(district_name);
        stop_type.push(s.stop_type.map(|c| STOP_TYPES[usize::from(c)]));
        race.push((level <= 4).then(|| RACES[race_index(s.race) as usize]));
        sex.push(
            (level <= 2)
                .then_some(s.sex)
                .flatten()
                .map(|c| SEXES[usize::from(c)]),
        );
        age_group.push(if level <= 2 && s.age.is_some() {
            Some(crate::transparency::tally::age_group(s.age))
        } else {
            None
        });
        let flag = |i| chunks::flag(s.flags, i);
        let out = s.outcome.map(|o| OUTCOMES[usize::from(o)]);
        let action = |i: usize| {
            if from_outcome.derived(i) {
                out.map(|o| o == FromOutcome::FIELDS[i].1)
            } else {
                flag(i)
            }
        };
        for (column, value) in
            flags
                .iter_mut()
                .zip([flag(4), flag(3), flag(5), action(0), action(1), action(2)])
        {
            column.push(value);
        }
        search_basis.push(s.search_basis.map(|b| SEARCH_BASES[usize::from(b)]));
        outcome.push(out);
        detail.push(Some(LEVELS[usize::from(level)]));
    }
    let [search, frisk, contraband, arrest, citation, warning] = flags;
    let text = TextColumn::done;
    let texts = |c: [TextColumn; 4]| c.map(TextColumn::done);
    let [stop_type, race, sex, age_group] = texts([stop_type, race, sex, age_group]);
    Ok(RecordBatch {
        columns: vec![
            Values::Integer(year),
            text(month),
            text(date),
            Values::Integer(hour),
            Values::Boolean(is_dark),
            text(district),
            stop_type,
            race,
            sex,
            age_group,
            Values::Boolean(search),
            text(search_basis),
            Values::Boolean(frisk),
            Values::Boolean(contraband),
            Values::Boolean(arrest),
            Values::Boolean(citation),
            Values::Boolean(warning),
            text(outcome),
            text(detail),
        ],
    })
}

/// The second pass: the rows, one chunk's worth at a time, read from the database only when
/// the one before has been taken.
pub async fn stream(
    db: Db,
    agency_id: i64,
    years: &[String],
    k: i64,
) -> Result<crate::publish::RecordStream, AppError> {
    let plan = plan(&db, agency_id, years, k).await?;
    let years = parse_years(years)?;
    let list = chunk_list(&db, agency_id).await?;
    struct State {
        db: Db,
        agency_id: i64,
        plan: Plan,
        years: Vec<i32>,
        list: std::vec::IntoIter<(i64, i64, FromOutcome)>,
    }
    let state = State {
        db,
        agency_id,
        plan,
        years,
        list: list.into_iter(),
    };
    let s = futures_util::stream::try_unfold(state, |mut st| async move {
        loop {
            let Some((import, chunk, from_outcome)) = st.list.next() else {
                return Ok(None);
            };
            let (format, rows, data) =
                store::chunk_columns(&st.db, st.agency_id, import, chunk).await?;
            let columns = chunks::StoredColumns::decode(format, rows, &data).map_err(decode_err)?;
            let stops = columns.counted();
            let ids = district_ids(&mut st.plan.districts, stops.districts)?;
            let b = batch(&st.plan, &stops, from_outcome, &st.years, &ids)?;
            if b.rows() > 0 {
                return Ok(Some((b, st)));
            }
        }
    });
    Ok(s.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key from its fields (year, race, month, district, sex, age, day, hour).
    fn k(f: [u64; 8]) -> u64 {
        f[0] << YEAR
            | f[1] << RACE
            | f[2] << MONTH
            | f[3] << DISTRICT
            | f[4] << SEX
            | f[5] << AGE
            | f[6] << DAY
            | f[7] << HOUR
    }

    fn plan_of(groups: &[([u64; 8], u32)], threshold: i64) -> Plan {
        let counts = groups.iter().map(|(f, n)| (k(*f), *n)).collect();
        plan_from_counts(counts, HashMap::new(), threshold)
    }

    fn level(plan: &Plan, f: [u64; 8]) -> u8 {
        plan.level(k(f))
    }

    /// Every group of stops written with the same values has at least `k` stops.
    fn check_k_anonymous(plan: &Plan, threshold: u64) {
        let mut written: HashMap<(u64, u8), u64> = HashMap::new();
        for g in &plan.groups {
            if g.level != SUPPRESSED {
                *written
                    .entry((at_level(g.key, g.level), g.level))
                    .or_default() += u64::from(g.stops);
            }
        }
        for ((key, level), n) in written {
            assert!(n >= threshold, "{n} stops at level {level} key {key:x}");
        }
    }

    #[test]
    fn large_groups_keep_every_detail() {
        let p = plan_of(&[([2020, 1, 3, 1, 1, 2, 5, 9], 12)], 10);
        assert_eq!(level(&p, [2020, 1, 3, 1, 1, 2, 5, 9]), 0);
        assert_eq!(p.written[0], 12);
    }

    #[test]
    fn a_unique_stop_goes_up_until_its_group_has_k() {
        // 15 stops at 9 o'clock, one at 10 o'clock the same day and group, and 12 more of
        // the group on other days of the month.
        let mut groups = vec![
            ([2020, 1, 3, 1, 1, 2, 5, 9], 15),
            ([2020, 1, 3, 1, 1, 2, 5, 10], 1),
        ];
        for day in 6..18 {
            groups.push(([2020, 1, 3, 1, 1, 2, day, 9], 1));
        }
        let p = plan_of(&groups, 10);
        // The 15 keep their hour; the lone stop and the 12 are written by month.
        assert_eq!(level(&p, [2020, 1, 3, 1, 1, 2, 5, 9]), 0);
        assert_eq!(level(&p, [2020, 1, 3, 1, 1, 2, 5, 10]), 2);
        assert_eq!(level(&p, [2020, 1, 3, 1, 1, 2, 6, 9]), 2);
        assert_eq!(p.written, [15, 0, 13, 0, 0, 0]);
        check_k_anonymous(&p, 10);
    }

    #[test]
    fn too_few_for_their_race_take_the_smallest_groups_of_that_race_with_them() {
        let p = plan_of(
            &[
                // March, district 1: 40 stops at one hour.
                ([2020, 1, 3, 1, 1, 2, 5, 9], 40),
                // April, district 2: 12 stops at one hour.
                ([2020, 1, 4, 2, 1, 2, 5, 9], 12),
                // Two lone stops of the same race in other months.
                ([2020, 1, 7, 3, 2, 4, 1, 1], 1),
                ([2020, 1, 9, 1, 1, 2, 1, 1], 1),
            ],
            10,
        );
        // The two lone stops reach the year-and-race group with 2 < 10: the smallest group
        // of the race (April's 12) is written with them by year and race; March keeps all.
        assert_eq!(level(&p, [2020, 1, 7, 3, 2, 4, 1, 1]), 4);
        assert_eq!(level(&p, [2020, 1, 4, 2, 1, 2, 5, 9]), 4);
        assert_eq!(level(&p, [2020, 1, 3, 1, 1, 2, 5, 9]), 0);
        assert_eq!(p.written, [40, 0, 0, 0, 14, 0]);
        check_k_anonymous(&p, 10);
    }

    #[test]
    fn what_goes_up_is_enough_on_its_own_when_it_can_be() {
        let mut groups: Vec<([u64; 8], u32)> = vec![([2020, 1, 3, 1, 1, 2, 5, 9], 30)];
        // 12 stops of the same day, each at a different hour: none kept at the hour.
        for h in 10..22 {
            groups.push(([2020, 1, 3, 1, 1, 2, 5, h], 1));
        }
        let p = plan_of(&groups, 10);
        assert_eq!(level(&p, [2020, 1, 3, 1, 1, 2, 5, 9]), 0);
        assert_eq!(level(&p, [2020, 1, 3, 1, 1, 2, 5, 10]), 1);
        assert_eq!(p.written, [30, 12, 0, 0, 0, 0]);
        check_k_anonymous(&p, 10);
    }

    #[test]
    fn small_race_groups_lose_their_race_and_a_small_year_is_left_out() {
        let p = plan_of(
            &[
                ([2020, 0, 1, 1, 1, 1, 1, 1], 40),
                ([2020, 1, 1, 1, 1, 1, 1, 1], 40),
                ([2020, 3, 2, 1, 1, 1, 1, 1], 4),
                ([2020, 4, 3, 2, 2, 3, 4, 5], 7),
                ([2021, 0, 1, 1, 1, 1, 1, 1], 9),
            ],
            10,
        );
        assert_eq!(level(&p, [2020, 0, 1, 1, 1, 1, 1, 1]), 0);
        assert_eq!(level(&p, [2020, 3, 2, 1, 1, 1, 1, 1]), 5);
        assert_eq!(level(&p, [2020, 4, 3, 2, 2, 3, 4, 5]), 5);
        assert_eq!(level(&p, [2021, 0, 1, 1, 1, 1, 1, 1]), SUPPRESSED);
        assert_eq!(p.suppressed, 9);
        check_k_anonymous(&p, 10);
    }

    #[test]
    fn generated_stops_with_unique_combinations_come_out_k_anonymous() {
        let mut rng = fastrand::Rng::with_seed(7);
        for threshold in [2u64, 5, 10, 30] {
            let mut counts: HashMap<u64, u32> = HashMap::new();
            for _ in 0..20_000 {
                let f = [
                    2018 + rng.u64(0..3),
                    rng.u64(0..6),
                    1 + rng.u64(0..12),
                    rng.u64(0..5),
                    rng.u64(0..3),
                    rng.u64(0..8),
                    1 + rng.u64(0..28),
                    rng.u64(0..25),
                ];
                *counts.entry(k(f)).or_default() += 1;
            }
            let uniques = counts.values().filter(|n| **n == 1).count();
            assert!(uniques > 1000, "the data has unique combinations");
            let p = plan_from_counts(counts, HashMap::new(), threshold as i64);
            check_k_anonymous(&p, threshold);
            assert_eq!(p.written.iter().sum::<u64>() + p.suppressed, 20_000);
            assert_eq!(p.suppressed, 0);
        }
    }
}
