//! HTML building: every dynamic value goes through [`esc`] (text and
//! attribute values alike), and pages share one [`layout`].

use std::fmt::Write as _;

use super::assets;
use crate::i18n::Lang;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON for a `<script type="application/json">` data block: `<`, `>` and
/// `&` escaped so the block can never be closed from inside.
pub fn json_block(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// What a page puts in the shared frame.
pub struct Page<'a> {
    pub lang: Lang,
    pub title: &'a str,
    /// Escaped HTML of the main content (without the `<h1>`).
    pub body: String,
    pub csrf: &'a str,
    /// Show the sign-out button in the header.
    pub signed_in: bool,
    /// The path (with query) of this page, for the language switch.
    pub path: &'a str,
    /// Where the browser goes at once (`<meta http-equiv="refresh">`).
    pub refresh_to: Option<&'a str>,
}

/// The frame around every page: language, title, stylesheet, script,
/// skip link, header with sign-out, main landmark, language switch.
pub fn layout(page: &Page<'_>) -> String {
    let lang = page.lang;
    let t = |key| lang.t(key);
    let mut header_actions = String::new();
    if page.signed_in {
        let _ = write!(
            header_actions,
            r#"<form method="post" action="/signout" class="inline"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="secondary">{label}</button></form>"#,
            csrf = esc(page.csrf),
            label = esc(t("nav.signout")),
        );
    }
    let (other, other_label) = match lang {
        Lang::Fr => (Lang::En, "English"),
        Lang::En => (Lang::Fr, "Français"),
    };
    let switch = language_switch(page.path, other);
    format!(
        r##"<!doctype html>
<html lang="{lang_code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{refresh}
<meta name="csrf-token" content="{csrf}">
<title>{title} – Sésame</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{css}">
<script src="{js}" defer></script>
<script type="application/json" id="sesame-messages">{messages}</script>
</head>
<body>
<a class="skip" href="#main">{skip}</a>
<header class="site"><div><p class="brand"><a href="/account">Sésame</a></p><p class="tagline">{tagline}</p></div>{header_actions}</header>
<main id="main" tabindex="-1">
<h1>{title}</h1>
{body}
</main>
<footer class="site"><p><a href="{switch}" lang="{other_code}" hreflang="{other_code}">{other_label}</a></p></footer>
</body>
</html>
"##,
        lang_code = lang.code(),
        refresh = page
            .refresh_to
            .map(|url| format!(r#"<meta http-equiv="refresh" content="0;url={}">"#, esc(url)))
            .unwrap_or_default(),
        csrf = esc(page.csrf),
        title = esc(page.title),
        css = assets::CSS.path(),
        js = assets::JS.path(),
        messages = json_block(&lang.script_messages()),
        skip = esc(t("nav.skip")),
        tagline = esc(t("nav.tagline")),
        body = page.body,
        switch = esc(&switch),
        other_code = other.code(),
    )
}

/// This page in the other language: same path and parameters (`next`…),
/// `ui_locales` replaced.
fn language_switch(path: &str, lang: Lang) -> String {
    let (base, query) = path.split_once('?').unwrap_or((path, ""));
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "ui_locales" && k != "notice") {
        out.append_pair(&k, &v);
    }
    out.append_pair("ui_locales", lang.code());
    format!("{base}?{}", out.finish())
}

/// `<p class="notice" role="status">` for a message after a redirect.
pub fn notice(text: &str, is_error: bool) -> String {
    if is_error {
        format!(r#"<p class="notice error" role="alert">{}</p>"#, esc(text))
    } else {
        format!(r#"<p class="notice" role="status">{}</p>"#, esc(text))
    }
}

/// The live region the script writes ceremony progress and errors into,
/// with its retry button.
pub fn status_region(lang: Lang) -> String {
    format!(
        r#"<div class="status" id="ceremony-status" role="alert" aria-live="assertive" hidden><p id="ceremony-message"></p><button type="button" id="ceremony-retry" class="secondary" hidden>{}</button></div>
<noscript><p class="notice error">{}</p></noscript>"#,
        esc(lang.t("js.retry")),
        esc(lang.t("page.noscript"))
    )
}

/// A labelled text input with its hint and error slot, tied by
/// `aria-describedby`.
pub struct Field<'a> {
    pub id: &'a str,
    pub label: &'a str,
    pub hint: Option<&'a str>,
    pub kind: &'a str,
    pub autocomplete: &'a str,
    pub required: bool,
    pub value: &'a str,
    pub max_length: usize,
    /// A refusal the server already knows (pages without script); the
    /// ceremony script fills the same slot otherwise.
    pub error: Option<&'a str>,
}

pub fn field(f: &Field<'_>) -> String {
    let mut described = Vec::new();
    let mut hint = String::new();
    if let Some(text) = f.hint {
        described.push(format!("{}-hint", f.id));
        hint = format!(r#"<p class="hint" id="{}-hint">{}</p>"#, esc(f.id), esc(text));
    }
    described.push(format!("{}-error", f.id));
    format!(
        r#"<div class="field"><label for="{id}">{label}</label>{hint}<input id="{id}" name="{id}" type="{kind}" autocomplete="{ac}" maxlength="{max}" value="{value}"{required}{invalid} aria-describedby="{described}"><p class="field-error" id="{id}-error"{hidden}>{error}</p></div>"#,
        id = esc(f.id),
        label = esc(f.label),
        kind = esc(f.kind),
        ac = esc(f.autocomplete),
        max = f.max_length,
        value = esc(f.value),
        required = if f.required { r#" required aria-required="true""# } else { "" },
        described = esc(&described.join(" ")),
        invalid = if f.error.is_some() { r#" aria-invalid="true""# } else { "" },
        hidden = if f.error.is_some() { "" } else { " hidden" },
        error = esc(f.error.unwrap_or_default()),
    )
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC`.
pub fn when(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(d) => {
            format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", d.year(), u8::from(d.month()), d.day(), d.hour(), d.minute())
        }
        Err(_) => String::from("?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("Élodie Dupont"), "Élodie Dupont");
    }

    #[test]
    fn json_blocks_cannot_close_the_script_element() {
        let v = serde_json::json!({"m": "</script><script>alert(1)</script>"});
        let block = json_block(&v);
        assert!(!block.contains("</script"));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&block).unwrap(), v);
    }

    #[test]
    fn fields_tie_hint_and_error_to_the_input() {
        let html = field(&Field {
            id: "email",
            label: "E-mail",
            hint: Some("optional"),
            kind: "email",
            autocomplete: "email",
            required: false,
            value: "\"><b>",
            max_length: 254,
            error: None,
        });
        assert!(html.contains(r#"aria-describedby="email-hint email-error""#));
        assert!(html.contains(r#"<label for="email">"#));
        assert!(html.contains("value=\"&quot;&gt;&lt;b&gt;\""));
    }

    #[test]
    fn the_language_switch_keeps_the_parameters() {
        assert_eq!(
            language_switch("/signin?next=%2Fauthorize%2Fcontinue%2Fx&ui_locales=fr", Lang::En),
            "/signin?next=%2Fauthorize%2Fcontinue%2Fx&ui_locales=en"
        );
        assert_eq!(language_switch("/account", Lang::Fr), "/account?ui_locales=fr");
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(when(1_767_225_600), "2026-01-01 00:00 UTC");
    }
}
