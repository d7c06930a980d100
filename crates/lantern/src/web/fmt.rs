//! Number formatting for people, in the reader's language. Every number a page, chart or
//! table shows goes through here: English writes 3,201 and 0.7%, Spanish 3.201 and 0,7 %.
//! Files and the API (CSV, JSON) keep machine formats and never come here.

use crate::web::i18n::Lang;

/// The thousands separator, decimal mark and what goes between a number and `%`.
fn marks(lang: Lang) -> (char, char, &'static str) {
    match lang {
        Lang::En => (',', '.', ""),
        // A no-break space keeps "0,7 %" on one line.
        Lang::Es => ('.', ',', "\u{a0}"),
    }
}

/// Groups the digits of an integer written in plain ASCII ("-1234567" → "-1,234,567").
fn group(text: &str, sep: char) -> String {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if negative {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// An integer with grouped thousands: 1234567 → "1,234,567" / "1.234.567". Any integer, or a
/// reference to one (templates pass references).
pub fn int(lang: Lang, n: impl std::fmt::Display) -> String {
    group(&n.to_string(), marks(lang).0)
}

/// A number with `places` decimals: 3201.456, 1 → "3,201.5" / "3.201,5".
pub fn decimal(lang: Lang, x: f64, places: usize) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let text = format!("{x:.places$}");
    let (sep, mark, _) = marks(lang);
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text.as_str(), None),
    };
    // "-0.0" reads as zero.
    let whole = if whole == "-0" && frac.is_none_or(|f| f.chars().all(|c| c == '0')) {
        "0"
    } else {
        whole
    };
    let mut out = group(whole, sep);
    if let Some(f) = frac {
        out.push(mark);
        out.push_str(f);
    }
    out
}

/// A number with up to two decimals, trailing zeros dropped: 2.50 → "2.5" / "2,5"; 3.0 → "3".
pub fn number(lang: Lang, x: f64) -> String {
    let mark = marks(lang).1;
    let s = decimal(lang, x, 2);
    if s.contains(mark) {
        s.trim_end_matches('0').trim_end_matches(mark).to_string()
    } else {
        s
    }
}

/// A share as a percentage with one decimal: 0.1234 → "12.3%" / "12,3 %".
pub fn percent(lang: Lang, share: f64) -> String {
    percent_places(lang, share, 1)
}

/// A share as a percentage with `places` decimals.
pub fn percent_places(lang: Lang, share: f64, places: usize) -> String {
    if !share.is_finite() {
        return "—".into();
    }
    format!("{}{}%", decimal(lang, share * 100.0, places), marks(lang).2)
}

/// An interval's two ends, already formatted, written the one way every page writes them:
/// "10.1%–14.6%" (each end with its unit, an en dash between, no spaces).
pub fn range(lo: &str, hi: &str) -> String {
    format!("{lo}–{hi}")
}

/// A share's 95% interval: "10.1%–14.6%" / "10,1 %–14,6 %".
pub fn percent_range(lang: Lang, lo: f64, hi: f64) -> String {
    range(&percent(lang, lo), &percent(lang, hi))
}

/// A value with its 95% interval in one cell, already formatted:
/// "12.3% (95% CI 10.1%–14.6%)" / "12,3 % (IC 95 %: 10,1 %–14,6 %)".
pub fn with_interval(lang: Lang, value: &str, lo: &str, hi: &str) -> String {
    match lang {
        Lang::En => format!("{value} (95% CI {})", range(lo, hi)),
        Lang::Es => format!("{value} (IC 95\u{a0}%: {})", range(lo, hi)),
    }
}

/// The language of the staff pages, which are written in English only.
pub const STAFF: Lang = Lang::En;

/// An integer for the staff pages: 1234567 → "1,234,567".
pub fn thousands(n: impl std::fmt::Display) -> String {
    int(STAFF, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-45000), "-45,000");
        assert_eq!(thousands(12_345u64), "12,345");
        assert_eq!(int(Lang::Es, 3201), "3.201");
        assert_eq!(int(Lang::Es, -1234567i64), "-1.234.567");
    }

    #[test]
    fn decimals_and_percentages_by_language() {
        assert_eq!(percent(Lang::En, 0.007), "0.7%");
        assert_eq!(percent(Lang::Es, 0.007), "0,7\u{a0}%");
        assert_eq!(percent(Lang::En, 12.345), "1,234.5%");
        assert_eq!(percent(Lang::Es, 12.345), "1.234,5\u{a0}%");
        assert_eq!(decimal(Lang::Es, 3201.456, 1), "3.201,5");
        assert_eq!(decimal(Lang::En, -0.04, 1), "0.0");
        assert_eq!(number(Lang::En, 2.50), "2.5");
        assert_eq!(number(Lang::Es, 2.50), "2,5");
        assert_eq!(number(Lang::En, 3.0), "3");
        assert_eq!(number(Lang::Es, 1500.0), "1.500");
        assert_eq!(percent(Lang::En, f64::NAN), "—");
    }

    #[test]
    fn intervals_one_way() {
        assert_eq!(percent_range(Lang::En, 0.101, 0.146), "10.1%–14.6%");
        assert_eq!(
            with_interval(
                Lang::En,
                &percent(Lang::En, 0.123),
                &percent(Lang::En, 0.101),
                &percent(Lang::En, 0.146)
            ),
            "12.3% (95% CI 10.1%–14.6%)"
        );
        assert_eq!(
            with_interval(
                Lang::Es,
                &percent(Lang::Es, 0.123),
                &percent(Lang::Es, 0.101),
                &percent(Lang::Es, 0.146)
            ),
            "12,3\u{a0}% (IC 95\u{a0}%: 10,1\u{a0}%–14,6\u{a0}%)"
        );
    }
}
