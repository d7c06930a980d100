//! Numbers written for people in the visitor's language: 3,201 and 0.7% in English, 3.201 and
//! 0,7 % in Spanish. Downloads never use these: CSV and JSON keep plain machine numbers.

use crate::publish::Kind;
use crate::web::i18n::Lang;

fn separators(lang: Lang) -> (char, char) {
    match lang {
        Lang::En => (',', '.'),
        Lang::Es => ('.', ','),
    }
}

/// `x` with `decimals` digits after the point, digits grouped by thousands.
pub fn number(lang: Lang, x: f64, decimals: usize) -> String {
    let (group, point) = separators(lang);
    let text = format!("{:.*}", decimals, x.abs());
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::with_capacity(text.len() + whole.len() / 3 + 1);
    if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(group);
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push(point);
        out.push_str(frac);
    }
    out
}

/// A whole number with thousands grouped.
pub fn int(lang: Lang, x: f64) -> String {
    number(lang, x.round(), 0)
}

/// A share as a percentage with one decimal.
pub fn percent(lang: Lang, share: f64) -> String {
    let n = number(lang, share * 100.0, 1);
    match lang {
        Lang::En => format!("{n}%"),
        Lang::Es => format!("{n}\u{a0}%"),
    }
}

/// A value of a column of this kind.
pub fn value(lang: Lang, kind: Kind, x: f64) -> String {
    match kind {
        Kind::Count => int(lang, x),
        Kind::Share => percent(lang, x),
        Kind::Ratio => number(lang, x, 2),
        Kind::Number if x != 0.0 && x.abs() < 0.001 => match lang {
            Lang::En => "< 0.001".into(),
            Lang::Es => "< 0,001".into(),
        },
        Kind::Number | Kind::Text => number(lang, x, if x.abs() >= 100.0 { 0 } else { 2 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_writes_numbers_its_own_way() {
        assert_eq!(int(Lang::En, 3201.0), "3,201");
        assert_eq!(int(Lang::Es, 3201.0), "3.201");
        assert_eq!(int(Lang::Es, 1234567.0), "1.234.567");
        assert_eq!(int(Lang::En, 999.0), "999");
        assert_eq!(percent(Lang::En, 0.007), "0.7%");
        assert_eq!(percent(Lang::Es, 0.007), "0,7\u{a0}%");
        assert_eq!(number(Lang::Es, 1.946, 2), "1,95");
        assert_eq!(number(Lang::En, -0.25, 2), "-0.25");
        assert_eq!(number(Lang::En, -0.001, 2), "0.00");
        assert_eq!(value(Lang::En, Kind::Number, 0.0004), "< 0.001");
        assert_eq!(value(Lang::Es, Kind::Number, 245.3), "245");
    }
}
