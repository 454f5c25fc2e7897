//! OAuth 2.0 Form Post Response Mode: the page that carries the answer to
//! the client in a form the browser submits by itself.

use crate::web::html::esc;

/// Script that submits the form_post form; static, so the CSP can stay
/// free of inline script.
pub const FORM_POST_SCRIPT: &str = "document.forms[0].submit();\n";
pub const FORM_POST_SCRIPT_PATH: &str = "/authorize/form_post.js";

pub fn form_post(action: &str, params: &[(&'static str, String)]) -> String {
    let fields: String = params
        .iter()
        .map(|(name, value)| format!(r#"<input type="hidden" name="{}" value="{}">"#, esc(name), esc(value)))
        .collect();
    format!(
        r#"<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Sésame</title>
<script src="{FORM_POST_SCRIPT_PATH}" defer></script></head>
<body><form method="post" action="{}">{fields}<noscript><button type="submit">Continuer / Continue</button></noscript></form></body></html>"#,
        esc(action)
    )
}
