//! Every user-facing string, one catalogue per language (French first,
//! English). A test checks both catalogues have exactly the same keys.

mod en;
mod fr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::En => "en",
        }
    }

    fn catalogue(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Fr => fr::MESSAGES,
            Self::En => en::MESSAGES,
        }
    }

    /// The message for `key`; the key itself if it is missing (a test
    /// keeps that from happening for the keys the pages use).
    pub fn t(self, key: &'static str) -> &'static str {
        self.catalogue().iter().find(|(k, _)| *k == key).map_or(key, |(_, v)| v)
    }

    /// A language tag (`fr`, `fr-FR`, `en_GB`…) we speak, if any.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "fr" => Some(Self::Fr),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// `ui_locales` (OIDC: space-separated, by preference) first, then
    /// `Accept-Language` (by q-value), then French.
    pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>) -> Self {
        if let Some(lang) = ui_locales.and_then(|v| v.split_whitespace().find_map(Self::from_tag)) {
            return lang;
        }
        let mut best: Option<(f32, Self)> = None;
        for item in accept_language.unwrap_or("").split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Self::from_tag) else { continue };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(Self::Fr, |(_, lang)| lang)
    }

    /// The messages the page script needs (`js.*`), as a JSON object.
    pub fn script_messages(self) -> serde_json::Value {
        self.catalogue()
            .iter()
            .filter(|(k, _)| k.starts_with("js."))
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(messages: &[(&str, &str)]) -> BTreeSet<String> {
        let set: BTreeSet<String> = messages.iter().map(|(k, _)| (*k).to_owned()).collect();
        assert_eq!(set.len(), messages.len(), "a key appears twice");
        set
    }

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let fr = keys(fr::MESSAGES);
        let en = keys(en::MESSAGES);
        let only_fr: Vec<_> = fr.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&fr).collect();
        assert!(only_fr.is_empty() && only_en.is_empty(), "only in fr: {only_fr:?}; only in en: {only_en:?}");
        assert!(fr::MESSAGES.iter().chain(en::MESSAGES).all(|(_, v)| !v.trim().is_empty()));
    }

    /// Every key the sources use exists: any `t("…")` argument, and any
    /// literal under the message-only prefixes (`err.`, `notice.`, `js.`,
    /// `error.`), in the Rust sources and in the page script. (Other dotted
    /// literals may be audit event kinds, such as `consent.granted`.)
    #[test]
    fn every_key_used_in_the_sources_exists() {
        const MESSAGE_ONLY: [&str; 4] = ["err", "notice", "js", "error"];
        let is_key_like = |s: &str| {
            s.split_once('.').is_some_and(|(p, n)| {
                !p.is_empty() && !n.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
            })
        };
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let (mut missing, mut seen) = (Vec::new(), 0);
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs" && e != "js")
                    || path.parent().is_some_and(|p| p.ends_with("i18n"))
                {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let called = text.split("t(\"").skip(1).filter_map(|rest| rest.split('"').next());
                let reserved =
                    text.split('"').filter(|l| l.split_once('.').is_some_and(|(p, _)| MESSAGE_ONLY.contains(&p)));
                for key in called.chain(reserved).filter(|k| is_key_like(k)) {
                    seen += 1;
                    if !fr::MESSAGES.iter().any(|(k, _)| *k == key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(seen > 50, "the scan found only {seen} keys");
        assert!(missing.is_empty(), "keys missing from the catalogue: {missing:#?}");
    }

    #[test]
    fn language_negotiation() {
        assert_eq!(Lang::negotiate(None, None), Lang::Fr);
        assert_eq!(Lang::negotiate(None, Some("en-GB,en;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("de-DE, fr;q=0.5, en;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("de, it")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("de en fr"), Some("fr")), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr-CA"), Some("en")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("es"), Some("en;q=0")), Lang::Fr);
    }

    #[test]
    fn script_messages_are_only_script_keys() {
        let m = Lang::En.script_messages();
        assert!(m.get("js.retry").is_some());
        assert!(m.as_object().unwrap().keys().all(|k| k.starts_with("js.")));
    }
}
