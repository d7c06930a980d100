//! Translations for public pages: English and Spanish.
//!
//! The catalogue is two TOML files (`i18n/en.toml`, `i18n/es.toml`) compiled into the binary.
//! Keys are dotted (`home.contact`). A test checks that both languages have exactly the same
//! keys and that every key a template uses exists. The language comes from the URL
//! (`/riverton/es/…`) when it names one, otherwise from the browser's `Accept-Language`.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    En,
    Es,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Es];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            _ => None,
        }
    }

    /// The language's name in itself, for the switch link.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Es => "Español",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Es,
            Lang::Es => Lang::En,
        }
    }

    /// Picks the supported language the browser prefers most (`Accept-Language`, RFC 9110
    /// quality values); English when it names neither.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let Some(header) = accept_language else {
            return Lang::En;
        };
        let mut best: Option<(f32, usize, Lang)> = None;
        for (position, item) in header.split(',').enumerate() {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let Some(lang) = Lang::from_code(primary) else {
                continue;
            };
            if q <= 0.0 {
                continue;
            }
            // Higher quality wins; on a tie the earlier entry does.
            let better = match best {
                None => true,
                Some((bq, _, _)) => q > bq,
            };
            if better {
                best = Some((q, position, lang));
            }
        }
        best.map(|(_, _, l)| l).unwrap_or(Lang::En)
    }
}

type Catalogue = HashMap<String, String>;

fn flatten(prefix: &str, table: &toml::Table, out: &mut Catalogue) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            other => panic!("translation {key} must be text, found {other:?}"),
        }
    }
}

fn parse(source: &str, name: &str) -> Catalogue {
    let table: toml::Table = source
        .parse()
        .unwrap_or_else(|e| panic!("the {name} translation catalogue is not valid TOML: {e}"));
    let mut out = Catalogue::new();
    flatten("", &table, &mut out);
    out
}

fn catalogue(lang: Lang) -> &'static Catalogue {
    static EN: OnceLock<Catalogue> = OnceLock::new();
    static ES: OnceLock<Catalogue> = OnceLock::new();
    match lang {
        Lang::En => EN.get_or_init(|| parse(include_str!("i18n/en.toml"), "English")),
        Lang::Es => ES.get_or_init(|| parse(include_str!("i18n/es.toml"), "Spanish")),
    }
}

/// The text for `key`; a missing key shows as itself (and the catalogue test fails).
pub fn t(lang: Lang, key: &str) -> &'static str {
    match catalogue(lang).get(key) {
        Some(s) => s.as_str(),
        None => {
            tracing::warn!(key, lang = lang.code(), "missing translation");
            // Leaking is bounded: keys come from templates, a fixed set.
            Box::leak(key.to_string().into_boxed_str())
        }
    }
}

/// The text for `key` with `{name}` placeholders filled in.
pub fn tf(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let mut s = t(lang, key).to_string();
    for (name, value) in args {
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        let en: std::collections::BTreeSet<&String> = catalogue(Lang::En).keys().collect();
        let es: std::collections::BTreeSet<&String> = catalogue(Lang::Es).keys().collect();
        let only_en: Vec<_> = en.difference(&es).collect();
        let only_es: Vec<_> = es.difference(&en).collect();
        assert!(only_en.is_empty(), "missing in Spanish: {only_en:?}");
        assert!(only_es.is_empty(), "missing in English: {only_es:?}");
        for (k, v) in catalogue(Lang::Es) {
            assert!(!v.trim().is_empty(), "empty Spanish text for {k}");
        }
    }

    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        // Templates call ctx.t("key") / ctx.tf("key", …); Rust code calls i18n::t(lang, "key").
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
        let mut files = Vec::new();
        for dir in ["templates", "src"] {
            collect(std::path::Path::new(&format!("{root}{dir}")), &mut files);
        }
        let mut missing = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for marker in ["t(\"", "tf(\""] {
                for (i, _) in text.match_indices(marker) {
                    // `ctx.t("…")`, `i18n::t(lang, "…")`: not `next("…")` and the like.
                    let before = text[..i].chars().last().unwrap_or(' ');
                    if before.is_alphanumeric() || before == '_' {
                        continue;
                    }
                    let rest = &text[i + marker.len()..];
                    let key = &rest[..rest.find('"').unwrap()];
                    let well_formed = key.split('.').count() >= 2
                        && key.split('.').all(|p| {
                            !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        });
                    if well_formed && !catalogue(Lang::En).contains_key(key) {
                        missing.push(format!("{}: {key}", file.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys without a translation: {missing:#?}"
        );
    }

    fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect(&path, out);
            } else if path.extension().is_some_and(|e| e == "html" || e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn accept_language() {
        assert_eq!(Lang::negotiate(None), Lang::En);
        assert_eq!(Lang::negotiate(Some("es-MX,es;q=0.9,en;q=0.8")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("en-US,en;q=0.9,es;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr-FR, es;q=0.5")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("fr-FR")), Lang::En);
        assert_eq!(Lang::negotiate(Some("en;q=0.2, es;q=0.7")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("es;q=0")), Lang::En);
        assert_eq!(Lang::negotiate(Some("garbage;;;")), Lang::En);
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            tf(Lang::En, "error.reference", &[("reference", "AB12")]),
            "Reference: AB12"
        );
        assert_eq!(
            tf(Lang::Es, "error.reference", &[("reference", "AB12")]),
            "Referencia: AB12"
        );
    }
}
