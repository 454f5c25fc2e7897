//! The pages of an authorization's steps: consent (OIDC Core §3.1.2.4):
//! which service asks for what, in plain words, with its organisation, logo
//! and policy links; the account choice (`prompt=select_account`).

use std::fmt::Write as _;

use super::{Frame, page};
use crate::scope::Scope;
use crate::web::html::esc;

/// What the consent page shows, gathered by the handler.
pub struct ConsentView<'a> {
    /// The pending authorization the form answers.
    pub id: &'a str,
    /// The service's name in the citizen's language.
    pub service: &'a str,
    pub organisation: Option<&'a str>,
    pub logo_uri: Option<&'a str>,
    pub policy_uri: Option<&'a str>,
    pub tos_uri: Option<&'a str>,
    /// The scopes asked for.
    pub scope: &'a Scope,
}

/// What each scope means for the citizen, as catalogue keys.
pub(super) fn scope_key(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "consent.scope.openid",
        "profile" => "consent.scope.profile",
        "email" => "consent.scope.email",
        "phone" => "consent.scope.phone",
        "address" => "consent.scope.address",
        "offline_access" => "consent.scope.offline_access",
        "citizen_identifier" => "consent.scope.citizen_identifier",
        _ => return None,
    })
}

pub fn consent(frame: &Frame<'_>, view: &ConsentView<'_>) -> String {
    let t = |key| frame.lang.t(key);
    let mut items = String::new();
    for key in view.scope.iter().filter_map(scope_key) {
        let _ = write!(items, "<li>{}</li>", esc(t(key)));
    }
    let mut body = String::new();
    // Decorative: the name is written next to it. No referrer leaves with the request.
    if let Some(logo) = view.logo_uri {
        let _ = write!(body, r#"<img class="service-logo" src="{}" alt="" referrerpolicy="no-referrer">"#, esc(logo));
    }
    let _ = write!(
        body,
        "<p>{intro}</p>",
        intro = esc(t("consent.intro")).replace("{service}", &format!("<strong>{}</strong>", esc(view.service)))
    );
    if let Some(organisation) = view.organisation {
        let _ = write!(body, "<p>{}</p>", esc(&t("consent.organisation").replace("{organisation}", organisation)));
    }
    let mut links = String::new();
    for (uri, key) in [(view.policy_uri, "consent.policy"), (view.tos_uri, "consent.tos")] {
        if let Some(uri) = uri {
            let _ = write!(
                links,
                r#"<li><a href="{}" rel="noreferrer" target="_blank">{}</a></li>"#,
                esc(uri),
                esc(t(key))
            );
        }
    }
    if !links.is_empty() {
        links = format!("<ul>{links}</ul>");
    }
    let _ = write!(
        body,
        r#"<ul>{items}</ul>
<p>{remember}</p>{links}
<form method="post" action="/authorize/consent/{id}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit" name="decision" value="allow">{allow}</button>
<button type="submit" name="decision" value="deny" class="secondary">{deny}</button>
</form>"#,
        remember = esc(t("consent.remember")),
        id = esc(view.id),
        csrf = esc(frame.csrf),
        allow = esc(t("consent.allow")),
        deny = esc(t("consent.deny")),
    );
    page(frame, "consent.title", body)
}

/// What the account choice shows.
pub struct AccountView<'a> {
    /// The pending authorization the form answers.
    pub id: &'a str,
    pub service: &'a str,
    /// The signed-in citizen's names and email, so they recognise the account.
    pub name: &'a str,
    pub email: Option<&'a str>,
}

/// Two answers, one form: go on as the signed-in citizen, or sign in as
/// someone else.
pub fn select_account(frame: &Frame<'_>, view: &AccountView<'_>) -> String {
    let t = |key| frame.lang.t(key);
    let email = view.email.map(|email| format!("<br>{}", esc(email))).unwrap_or_default();
    let body = format!(
        r#"<p>{intro}</p>
<p>{signed_in_as}</p>
<p><strong>{name}</strong>{email}</p>
<form method="post" action="/authorize/select-account/{id}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit" name="account" value="current">{current}</button>
<button type="submit" name="account" value="another" class="secondary">{another}</button>
</form>
<p>{another_hint}</p>"#,
        intro = esc(t("select_account.intro")).replace("{service}", &format!("<strong>{}</strong>", esc(view.service))),
        signed_in_as = esc(t("select_account.signed_in_as")),
        name = esc(view.name),
        id = esc(view.id),
        csrf = esc(frame.csrf),
        current = esc(&t("select_account.current").replace("{name}", view.name)),
        another = esc(t("select_account.another")),
        another_hint = esc(t("select_account.another_hint")),
    );
    page(frame, "select_account.title", body)
}

#[cfg(test)]
mod tests {
    use super::scope_key;
    use crate::i18n::Lang;

    #[test]
    fn every_offered_scope_is_explained_in_both_languages() {
        for scope in crate::clients::KNOWN_SCOPES {
            let key = scope_key(scope).unwrap_or_else(|| panic!("{scope} has no explanation"));
            for lang in [Lang::Fr, Lang::En] {
                assert_ne!(lang.t(key), key, "{scope} in {lang:?}");
            }
        }
    }
}
