//! Recurring themes in free-text answers: the words and two-word phrases people use most,
//! after dropping English and Spanish stop words, with example comments.
//!
//! Sentiment is left out on purpose: the one lexicon-based sentiment crate for Rust (a VADER
//! port) is unmaintained and English-only, and half of our comments may be in Spanish.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::aggregate::TextTotals;

fn stop_words() -> &'static HashSet<String> {
    static WORDS: OnceLock<HashSet<String>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut set: HashSet<String> = HashSet::new();
        for lang in ["en", "es"] {
            for w in stop_words::get(lang) {
                set.insert(w.to_lowercase());
            }
        }
        // Words every comment about policing uses, which say nothing on their own.
        for w in [
            "police", "officer", "officers", "policía", "policia", "agente", "agentes", "also",
            "really", "would",
        ] {
            set.insert(w.to_string());
        }
        set
    })
}

/// Lower-case words of at least three letters, stop words removed, then the two-word
/// phrases of words that stood next to each other.
pub fn terms(text: &str) -> Vec<String> {
    let stop = stop_words();
    let mut words: Vec<Option<String>> = Vec::new();
    for raw in text.split(|c: char| !c.is_alphanumeric() && c != '\'') {
        let w = raw.trim_matches('\'').to_lowercase();
        if w.chars().count() >= 3 && !stop.contains(&w) && !w.chars().all(|c| c.is_ascii_digit()) {
            words.push(Some(w));
        } else if !w.is_empty() {
            // A stop word breaks a phrase.
            words.push(None);
        }
    }
    let mut out: Vec<String> = words.iter().flatten().cloned().collect();
    for pair in words.windows(2) {
        if let [Some(a), Some(b)] = pair {
            out.push(format!("{a} {b}"));
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub term: String,
    /// Comments that use it.
    pub count: u64,
    pub share: f64,
    pub examples: Vec<String>,
}

/// The most frequent terms (phrases first when they are as common as their words), each with
/// up to two recent comments that use it. Terms used by fewer than `min_count` comments are
/// not themes.
pub fn top(totals: &TextTotals, how_many: usize, min_count: u64) -> Vec<Theme> {
    let mut ranked: Vec<(&String, u64)> = totals
        .terms
        .iter()
        .filter(|(_, n)| **n >= min_count.max(2))
        .map(|(t, n)| (t, *n))
        .collect();
    // Phrases are worth more than single words: weigh them up a little when ranking.
    ranked.sort_by(|a, b| {
        let score = |(t, n): &(&String, u64)| *n as f64 * if t.contains(' ') { 1.5 } else { 1.0 };
        score(b).total_cmp(&score(a)).then_with(|| a.0.cmp(b.0))
    });
    let mut chosen: Vec<Theme> = Vec::new();
    for (term, count) in ranked {
        if chosen.len() == how_many {
            break;
        }
        // Skip a word already covered by a chosen phrase (or the reverse).
        if chosen
            .iter()
            .any(|c| c.term.split(' ').any(|w| w == term) || term.split(' ').any(|w| w == c.term))
        {
            continue;
        }
        let examples = totals
            .recent
            .iter()
            .rev()
            .filter(|c| {
                let lower = c.to_lowercase();
                lower.contains(term.as_str())
            })
            .take(2)
            .map(|c| shorten(c, 240))
            .collect();
        chosen.push(Theme {
            term: term.clone(),
            count,
            share: count as f64 / totals.n.max(1) as f64,
            examples,
        });
    }
    chosen
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_go_in_both_languages_and_phrases_are_kept() {
        assert_eq!(
            terms("The officers were slow to respond"),
            ["slow", "respond"]
        );
        assert_eq!(
            terms("Response times are too slow"),
            ["response", "times", "slow", "response times"]
        );
        assert_eq!(
            terms("La policía no respondió a la llamada"),
            ["respondió", "llamada"]
        );
        assert!(terms("123 4567 ok").is_empty());
    }

    #[test]
    fn themes_rank_phrases_and_bring_examples() {
        let mut t = TextTotals::default();
        let comments = [
            "Response times are slow at night",
            "Slow response times in Eastgate",
            "Great community events downtown",
            "More community events please",
            "Response times need work",
            "Las respuestas tardan mucho; tiempos de respuesta lentos",
            "tiempos de respuesta muy lentos",
        ];
        for c in comments {
            t.n += 1;
            let mut seen = Vec::new();
            for term in terms(c) {
                if !seen.contains(&term) {
                    *t.terms.entry(term.clone()).or_insert(0) += 1;
                    seen.push(term);
                }
            }
            t.recent.push_back(c.to_string());
        }
        let themes = top(&t, 3, 2);
        let names: Vec<&str> = themes.iter().map(|t| t.term.as_str()).collect();
        assert_eq!(names[0], "response times", "{names:?}");
        assert!(names.contains(&"community events"), "{names:?}");
        assert!(
            !names.contains(&"response"),
            "a word inside a chosen phrase is not a theme of its own: {names:?}"
        );
        assert_eq!(themes[0].count, 3);
        assert_eq!(themes[0].examples.len(), 2);
        assert!(
            themes[0].examples[0].contains("Response times need work"),
            "the newest example first"
        );
    }
}
