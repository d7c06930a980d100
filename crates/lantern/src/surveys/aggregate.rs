//! Survey results as running totals.
//!
//! A results page must come back quickly even for a million responses, and responses keep
//! arriving. So results are folded, response by response, into tallies kept in memory per
//! survey: overall, per breakdown (month, channel, demographic and other single-choice
//! answers, officer, unit, call type), and per census cell for weighting. Each request reads
//! only the responses newer than the last one folded in (responses have increasing ids), so
//! a warm page costs one small query. A review of flagged responses bumps the survey's
//! `results_epoch`, which rebuilds its totals from scratch.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::model::{Answer, Answers, Definition, Demographic, QuestionKind, Score};

/// A breakdown: what responses can be grouped by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Month,
    Channel,
    /// The answer to a single-choice or demographic question.
    Answer(String),
    Officer,
    Unit,
    CallType,
    ContactDistrict,
}

/// Counts and sums of one question (or score) over some set of respondents.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Respondents who answered.
    pub n: u64,
    /// Per choice value (a multiple-choice answer counts once for each choice).
    pub counts: BTreeMap<String, u64>,
    pub sum: f64,
    pub sum_sq: f64,
}

/// The value of `key` in a map, inserted as the default if missing; the key is cloned only
/// then (folding a million responses looks up the same few keys millions of times).
fn slot<'a, K, V, Q>(map: &'a mut HashMap<K, V>, key: &Q) -> &'a mut V
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    V: Default,
{
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

/// [`slot`] for an ordered map of texts.
fn text_slot<'a, V: Default>(map: &'a mut BTreeMap<String, V>, key: &str) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

impl Tally {
    fn add(&mut self, answer: &Answer, numeric: bool, categorical: bool) {
        self.n += 1;
        if categorical {
            // A scale point counts like a choice ("7"), so its distribution can be shown.
            match answer {
                Answer::One(v) => *text_slot(&mut self.counts, v) += 1,
                Answer::Many(values) => {
                    for v in values {
                        *text_slot(&mut self.counts, v) += 1;
                    }
                }
                Answer::Number(_) => *text_slot(&mut self.counts, &answer.to_cell()) += 1,
            }
        }
        if numeric && let Some(x) = answer.as_number() {
            self.sum += x;
            self.sum_sq += x * x;
        }
    }

    fn add_value(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        self.sum_sq += x * x;
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// Tallies of one question or score, overall and by every breakdown and census cell.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub all: Tally,
    /// By group: the index is the group's in [`Aggregate::groups`] (read with
    /// [`Aggregate::by`]). Numbers, not names, because a response adds to one tally per
    /// question and group, and a million responses make that the fold's inner loop.
    pub by_group: Vec<Tally>,
    pub by_cell: HashMap<usize, Tally>,
}

impl Totals {
    fn group(&mut self, id: usize) -> &mut Tally {
        if self.by_group.len() <= id {
            self.by_group.resize_with(id + 1, Tally::default);
        }
        &mut self.by_group[id]
    }
}

/// The most recent comments kept per text question, for examples of themes.
const RECENT_COMMENTS: usize = 400;

#[derive(Clone, Debug, Default)]
pub struct TextTotals {
    pub n: u64,
    /// Word and two-word phrase counts (stop words removed).
    pub terms: HashMap<String, u64>,
    pub recent: VecDeque<String>,
}

/// Where a response came from and what it is linked to, besides its answers.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub month: String,
    pub channel: String,
    pub officer: Option<String>,
    pub unit: Option<String>,
    pub call_type: Option<String>,
    pub contact_district: Option<String>,
}

/// The census cell a respondent falls in, when all weighting answers are census categories.
pub type Cell = Vec<usize>;

/// Everything folded so far for one survey.
#[derive(Clone, Debug, Default)]
pub struct Aggregate {
    pub epoch: i64,
    pub last_id: i64,
    pub respondents: u64,
    pub flagged: u64,
    pub by_version: BTreeMap<i64, u64>,
    pub questions: HashMap<String, Totals>,
    pub scores: BTreeMap<ScoreKey, Totals>,
    pub texts: HashMap<String, TextTotals>,
    /// Census cells seen, their index, and respondents per cell.
    pub cells: Vec<Cell>,
    pub cell_index: HashMap<Cell, usize>,
    pub cell_counts: Vec<u64>,
    /// Respondents per value of each breakdown (for suppression).
    pub group_sizes: HashMap<Dim, BTreeMap<String, u64>>,
    /// Every group seen, in the order first seen, and its index by breakdown and value.
    pub groups: Vec<(Dim, String)>,
    pub group_ids: HashMap<Dim, HashMap<String, usize>>,
}

/// A score, or the procedural-justice composite of its four parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScoreKey {
    One(Score),
    ProceduralJustice,
}

impl ScoreKey {
    pub fn label(self) -> &'static str {
        match self {
            ScoreKey::One(s) => s.label(),
            ScoreKey::ProceduralJustice => "Procedural justice",
        }
    }
}

/// How a survey's weighting variables map to census categories.
#[derive(Clone, Debug, Default)]
pub struct Weighting {
    /// (question key, census categories in order, how an answer maps to a category).
    pub variables: Vec<(String, Vec<String>)>,
}

impl Weighting {
    /// The weighting variables this definition can use given the census dimensions known.
    pub fn for_definition(
        def: &Definition,
        census: &HashMap<&'static str, Vec<String>>,
    ) -> Weighting {
        let mut variables = Vec::new();
        for field in [
            Demographic::AgeGroup,
            Demographic::Gender,
            Demographic::Race,
            Demographic::District,
        ] {
            let (Some(q), Some(dimension)) = (def.demographic(field), field.census_dimension())
            else {
                continue;
            };
            if let Some(categories) = census.get(dimension)
                && categories.len() > 1
            {
                variables.push((q.key.clone(), categories.clone()));
            }
        }
        Weighting { variables }
    }

    fn cell(&self, answers: &Answers) -> Option<Cell> {
        if self.variables.is_empty() {
            return None;
        }
        self.variables
            .iter()
            .map(|(key, categories)| {
                let v = answers.get(key)?.as_choice()?;
                categories.iter().position(|c| c == v)
            })
            .collect()
    }
}

impl Aggregate {
    /// The tallies of one breakdown of a question or score, by group value.
    pub fn by<'a>(&self, totals: &'a Totals, dim: &Dim) -> Option<BTreeMap<String, &'a Tally>> {
        let ids = self.group_ids.get(dim)?;
        Some(
            ids.iter()
                .filter_map(|(value, id)| totals.by_group.get(*id).map(|t| (value.clone(), t)))
                .collect(),
        )
    }

    fn group_id(&mut self, dim: &Dim, value: &str) -> usize {
        let ids = slot(&mut self.group_ids, dim);
        if let Some(id) = ids.get(value) {
            return *id;
        }
        let id = self.groups.len();
        ids.insert(value.to_string(), id);
        self.groups.push((dim.clone(), value.to_string()));
        id
    }

    /// Folds one response in.
    pub fn add(
        &mut self,
        def: &Definition,
        version_id: i64,
        answers: &Answers,
        facts: &Facts,
        weighting: &Weighting,
    ) {
        self.respondents += 1;
        *self.by_version.entry(version_id).or_insert(0) += 1;

        // The groups this respondent belongs to.
        let mut groups: Vec<(Dim, String)> = vec![(Dim::Month, facts.month.clone())];
        if !facts.channel.is_empty() {
            groups.push((Dim::Channel, facts.channel.clone()));
        }
        for (dim, value) in [
            (Dim::Officer, &facts.officer),
            (Dim::Unit, &facts.unit),
            (Dim::CallType, &facts.call_type),
            (Dim::ContactDistrict, &facts.contact_district),
        ] {
            if let Some(v) = value {
                groups.push((dim, v.clone()));
            }
        }
        for q in def.questions() {
            if matches!(
                q.kind,
                QuestionKind::SingleChoice { .. } | QuestionKind::Demographic { .. }
            ) && let Some(v) = answers.get(&q.key).and_then(|a| a.as_choice())
            {
                groups.push((Dim::Answer(q.key.clone()), v.clone()));
            }
        }
        let mut group_ids = Vec::with_capacity(groups.len());
        for (dim, value) in &groups {
            *text_slot(slot(&mut self.group_sizes, dim), value) += 1;
            group_ids.push(self.group_id(dim, value));
        }

        let cell = weighting.cell(answers).map(|c| {
            let next = self.cells.len();
            let index = *self.cell_index.entry(c.clone()).or_insert(next);
            if index == next {
                self.cells.push(c);
                self.cell_counts.push(0);
            }
            self.cell_counts[index] += 1;
            index
        });

        let mut score_values: BTreeMap<Score, Vec<f64>> = BTreeMap::new();
        for q in def.questions() {
            let Some(answer) = answers.get(&q.key) else {
                continue;
            };
            if let QuestionKind::Text { .. } = q.kind {
                if let Answer::One(text) = answer {
                    self.add_text(&q.key, text);
                }
                continue;
            }
            let numeric = q.kind.is_numeric();
            let categorical =
                q.kind.is_categorical() || matches!(q.kind, QuestionKind::Rating { .. });
            let totals = slot(&mut self.questions, q.key.as_str());
            totals.all.add(answer, numeric, categorical);
            for &g in &group_ids {
                totals.group(g).add(answer, numeric, categorical);
            }
            if let Some(c) = cell {
                totals
                    .by_cell
                    .entry(c)
                    .or_default()
                    .add(answer, numeric, categorical);
            }
            if let (Some(score), Some(v)) = (q.score, q.score_value(answer)) {
                score_values.entry(score).or_default().push(v);
            }
        }
        // Each respondent's score is the mean of the items they answered.
        let mut respondent_scores: Vec<(ScoreKey, f64)> = score_values
            .iter()
            .map(|(s, v)| (ScoreKey::One(*s), v.iter().sum::<f64>() / v.len() as f64))
            .collect();
        let parts: Vec<f64> = Score::PROCEDURAL_JUSTICE
            .iter()
            .filter_map(|s| {
                respondent_scores
                    .iter()
                    .find(|(k, _)| *k == ScoreKey::One(*s))
                    .map(|(_, v)| *v)
            })
            .collect();
        if !parts.is_empty() {
            respondent_scores.push((
                ScoreKey::ProceduralJustice,
                parts.iter().sum::<f64>() / parts.len() as f64,
            ));
        }
        for (key, value) in respondent_scores {
            let totals = self.scores.entry(key).or_default();
            totals.all.add_value(value);
            for &g in &group_ids {
                totals.group(g).add_value(value);
            }
            if let Some(c) = cell {
                totals.by_cell.entry(c).or_default().add_value(value);
            }
        }
    }

    fn add_text(&mut self, key: &str, text: &str) {
        let totals = slot(&mut self.texts, key);
        totals.n += 1;
        let mut seen: Vec<String> = Vec::new();
        for term in super::themes::terms(text) {
            if !seen.contains(&term) {
                *totals.terms.entry(term.clone()).or_insert(0) += 1;
                seen.push(term);
            }
        }
        if totals.recent.len() == RECENT_COMMENTS {
            totals.recent.pop_front();
        }
        totals.recent.push_back(text.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surveys::templates::{Template, resolve_demographics};

    fn answers(pairs: &[(&str, Answer)]) -> Answers {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn folds_answers_scores_groups_and_cells() {
        let mut def = Template::CommunityTrust.definition();
        resolve_demographics(
            &mut def,
            &[("D1".into(), "North".into()), ("D2".into(), "South".into())],
        );
        let mut census: HashMap<&'static str, Vec<String>> = HashMap::new();
        census.insert("district", vec!["D1".into(), "D2".into()]);
        census.insert("sex", vec!["female".into(), "male".into()]);
        let w = Weighting::for_definition(&def, &census);
        assert_eq!(
            w.variables
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
            ["gender", "district"]
        );

        let mut agg = Aggregate::default();
        let facts = Facts {
            month: "2026-01".into(),
            channel: "flyer".into(),
            ..Facts::default()
        };
        agg.add(
            &def,
            1,
            &answers(&[
                ("trust_respect", Answer::Number(8.0)),
                ("trust_listen", Answer::Number(6.0)),
                ("pj_voice", Answer::One("5".into())),
                ("pj_respect", Answer::One("3".into())),
                ("gender", Answer::One("female".into())),
                ("district", Answer::One("D2".into())),
                (
                    "comments",
                    Answer::One("Slow response times downtown".into()),
                ),
            ]),
            &facts,
            &w,
        );
        agg.add(
            &def,
            1,
            &answers(&[
                ("trust_respect", Answer::Number(2.0)),
                ("gender", Answer::One("prefer_not".into())),
            ]),
            &facts,
            &w,
        );

        assert_eq!(agg.respondents, 2);
        let trust = &agg.questions["trust_respect"].all;
        assert_eq!((trust.n, trust.sum, trust.sum_sq), (2, 10.0, 68.0));
        assert_eq!(
            (trust.counts["8"], trust.counts["2"]),
            (1, 1),
            "scale points are counted too"
        );
        // Respondent 1's trust score is the mean of 80 and 60; respondent 2 answered one item.
        let score = &agg.scores[&ScoreKey::One(Score::Trust)].all;
        assert_eq!((score.n, score.sum), (2, 70.0 + 20.0));
        // Procedural justice: the mean of voice (100) and respect (50).
        assert_eq!(agg.scores[&ScoreKey::ProceduralJustice].all.sum, 75.0);
        // Only the first respondent has a census cell (female, D2).
        assert_eq!(agg.cells, vec![vec![0, 1]]);
        assert_eq!(agg.cell_counts, vec![1]);
        assert_eq!(
            agg.group_sizes[&Dim::Answer("gender".into())]["prefer_not"],
            1
        );
        let by_channel = agg
            .by(&agg.questions["trust_respect"], &Dim::Channel)
            .unwrap();
        assert_eq!(by_channel["flyer"].n, 2);
        assert_eq!(by_channel.len(), 1);
        let by_gender = agg
            .by(
                &agg.questions["trust_respect"],
                &Dim::Answer("gender".into()),
            )
            .unwrap();
        assert_eq!((by_gender["female"].n, by_gender["female"].sum), (1, 8.0));
        assert_eq!(
            (by_gender["prefer_not"].n, by_gender["prefer_not"].sum),
            (1, 2.0)
        );
        assert!(
            agg.by(&agg.questions["trust_respect"], &Dim::Officer)
                .is_none()
        );
        assert_eq!(agg.texts["comments"].terms["response times"], 1);
    }
}
