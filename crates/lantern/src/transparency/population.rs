//! Population benchmarks: the residential population by race/ethnicity that the benchmark
//! test compares stops with, kept in the platform's `population_margins` (dimension `race`).
//!
//! Two layouts are read:
//! - a plain CSV `geography,race,population[,source]`, one row per geography and SOPP race
//!   category (`geography` is `agency` or a district code);
//! - the Census Bureau's ACS table B03002 (Hispanic or Latino origin by race) as downloaded for
//!   counties, with `--acs-county FIPS` choosing the row. It is grouped as SOPP groups it:
//!   Hispanic of any race; non-Hispanic White, Black; Asian and Pacific Islander together;
//!   everyone else (American Indian and Alaska Native, some other race, two or more races) as
//!   other.
//!
//! An import replaces the race margin of each geography it names, in one transaction, audited.

use std::collections::BTreeMap;

use crate::platform::agencies::Agency;
use crate::platform::audit::{self, Actor, Event};
use crate::platform::db::Db;
use crate::transparency::model::RACES;
use crate::transparency::store;

/// Race margins by geography, ready to store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Margins {
    pub by_geography: BTreeMap<String, Vec<(String, i64)>>,
    pub source: String,
}

const BENCHMARK_RACES: [&str; 5] = [
    "white",
    "black",
    "hispanic",
    "asian/pacific islander",
    "other",
];

/// Reads the plain layout.
pub fn parse_plain(text: &str, default_source: &str) -> Result<Margins, String> {
    let mut csv = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = csv
        .headers()
        .map_err(|e| format!("not readable CSV: {e}"))?
        .clone();
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(g), Some(r), Some(p)) = (col("geography"), col("race"), col("population")) else {
        return Err(format!(
            "the header must have geography, race and population columns; it has: {}",
            header.iter().collect::<Vec<_>>().join(", ")
        ));
    };
    let s = col("source");
    let mut margins = Margins {
        source: default_source.to_string(),
        ..Default::default()
    };
    for row in csv.records() {
        let row = row.map_err(|e| format!("not readable CSV: {e}"))?;
        let line = row.position().map_or(0, |p| p.line());
        let geography = row.get(g).unwrap_or("").trim();
        let race = row.get(r).unwrap_or("").trim().to_lowercase();
        let population = row.get(p).unwrap_or("").trim();
        if geography.is_empty() {
            return Err(format!("line {line}, column geography: is empty"));
        }
        if !BENCHMARK_RACES.contains(&race.as_str()) {
            return Err(format!(
                "line {line}, column race: {race:?} is not one of {}",
                BENCHMARK_RACES.join(", ")
            ));
        }
        let population: i64 = population.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
            format!(
                "line {line}, column population: {population:?} is not a whole number of people"
            )
        })?;
        if let Some(s) = s
            .and_then(|s| row.get(s))
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            margins.source = s.to_string();
        }
        let rows = margins
            .by_geography
            .entry(geography.to_string())
            .or_default();
        if rows.iter().any(|(r, _)| *r == race) {
            return Err(format!("line {line}: {geography} {race} is given twice"));
        }
        rows.push((race, population));
    }
    if margins.by_geography.is_empty() {
        return Err("the file has no rows".into());
    }
    Ok(margins)
}

/// Reads ACS B03002 for one county (by its five-digit FIPS code) into `geography`.
pub fn parse_acs_b03002(text: &str, county_fips: &str, geography: &str) -> Result<Margins, String> {
    let mut csv = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = csv
        .headers()
        .map_err(|e| format!("not readable CSV: {e}"))?
        .clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| format!("the header has no column {name:?}: is this ACS table B03002?"))
    };
    const NH: &str = "Estimate; Not Hispanic or Latino: - ";
    let id2 = col("Id2")?;
    let name = col("Geography")?;
    let white = col(&format!("{NH}White alone"))?;
    let black = col(&format!("{NH}Black or African American alone"))?;
    let aian = col(&format!("{NH}American Indian and Alaska Native alone"))?;
    let asian = col(&format!("{NH}Asian alone"))?;
    let nhpi = col(&format!(
        "{NH}Native Hawaiian and Other Pacific Islander alone"
    ))?;
    let some_other = col(&format!("{NH}Some other race alone"))?;
    let two = col(&format!("{NH}Two or more races:"))?;
    let hispanic = col("Estimate; Hispanic or Latino:")?;
    for row in csv.records() {
        let row = row.map_err(|e| format!("not readable CSV: {e}"))?;
        if row.get(id2).map(str::trim) != Some(county_fips) {
            continue;
        }
        let line = row.position().map_or(0, |p| p.line());
        let n = |i: usize| -> Result<i64, String> {
            let v = row.get(i).unwrap_or("").trim();
            v.parse()
                .map_err(|_| format!("line {line}, column {:?}: {v:?} is not a count", &header[i]))
        };
        let rows = vec![
            ("white".to_string(), n(white)?),
            ("black".to_string(), n(black)?),
            ("hispanic".to_string(), n(hispanic)?),
            ("asian/pacific islander".to_string(), n(asian)? + n(nhpi)?),
            ("other".to_string(), n(aian)? + n(some_other)? + n(two)?),
        ];
        let mut margins = Margins {
            source: format!(
                "ACS 5-year, table B03002, {}",
                row.get(name).unwrap_or(county_fips).trim()
            ),
            ..Default::default()
        };
        margins.by_geography.insert(geography.to_string(), rows);
        return Ok(margins);
    }
    Err(format!("no row with Id2 {county_fips:?} in the file"))
}

/// Stores margins, replacing each named geography's race margin; returns the geographies.
pub async fn store(
    db: &Db,
    agency: &Agency,
    margins: &Margins,
    actor: &Actor,
    now: i64,
) -> anyhow::Result<Vec<String>> {
    debug_assert!(BENCHMARK_RACES.iter().all(|r| RACES.contains(r)));
    let mut tx = db.begin().await?;
    for (geography, rows) in &margins.by_geography {
        store::replace_race_margin(&mut tx, agency.id, geography, rows, &margins.source).await?;
    }
    let geographies: Vec<String> = margins.by_geography.keys().cloned().collect();
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(actor, "population.import", "population_margins").detail(serde_json::json!({
            "geographies": geographies,
            "source": margins.source,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(geographies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_margins_are_checked() {
        let m = parse_plain(
            "geography,race,population\nagency,white,100\nagency,black,50\nD1,white,60\n",
            "test",
        )
        .unwrap();
        assert_eq!(m.by_geography["agency"].len(), 2);
        assert_eq!(m.source, "test");
        let e = parse_plain("geography,race,population\nagency,martian,1\n", "t").unwrap_err();
        assert!(e.starts_with("line 2, column race"), "{e}");
        let e = parse_plain("geography,race,population\nagency,white,-3\n", "t").unwrap_err();
        assert!(e.contains("column population"), "{e}");
        assert!(
            parse_plain("geo,race\n", "t")
                .unwrap_err()
                .contains("header")
        );
    }
}
