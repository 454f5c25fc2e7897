//! The account's own forms beyond the main page: the email address and
//! its verification, the confirmation of a mailed link, and the passkey
//! confirmation asked before a sensitive change.

use std::fmt::Write as _;

use super::{Frame, page};
use crate::web::html::{self, Field, esc, field, status_region};

/// What the email page shows.
pub struct EmailView<'a> {
    pub email: Option<&'a str>,
    pub verified: bool,
    /// A code was sent and waits.
    pub pending: Option<&'a str>,
    /// Catalogue key of a refusal of the address, shown next to its field.
    pub email_error: Option<&'static str>,
    /// Catalogue key of a refusal of the code, shown next to its field.
    pub code_error: Option<&'static str>,
    pub notice: Option<&'static str>,
}

pub fn email(frame: &Frame<'_>, view: &EmailView<'_>) -> String {
    let t = |k| frame.lang.t(k);
    let csrf = esc(frame.csrf);
    let mut body = String::new();
    if let Some(key) = view.notice {
        body.push_str(&html::notice(t(key), false));
    }
    let status = match (view.email, view.verified) {
        (None, _) => t("account.no_email"),
        (Some(_), true) => t("email.status_verified"),
        (Some(_), false) => t("email.status_unverified"),
    };
    let _ = write!(body, "<p>{}</p>", esc(&format!("{} — {status}", view.email.unwrap_or(""))));
    if view.verified {
        let _ = write!(body, r#"<p class="notice" role="note">{}</p>"#, esc(t("email.change_warning")));
    }
    let address = field(&Field {
        id: "email",
        label: t("account.email"),
        hint: Some(t("signup.email_hint")),
        kind: "email",
        autocomplete: "email",
        required: true,
        value: view.email.unwrap_or(""),
        max_length: 254,
        error: view.email_error.map(t),
    });
    let _ = write!(
        body,
        r#"<form method="post" action="/account/email" novalidate><input type="hidden" name="csrf" value="{csrf}">
{address}
<button type="submit">{send}</button>
</form>"#,
        send = esc(t("email.send")),
    );
    // The code form stays when a code was just refused, with the refusal.
    let waiting = view.pending.or(view.code_error.and(view.email));
    if let Some(pending) = waiting {
        let code = field(&Field {
            id: "code",
            label: t("email.code_label"),
            hint: Some(t("email.code_hint")),
            kind: "text",
            autocomplete: "one-time-code",
            required: true,
            value: "",
            max_length: 12,
            error: view.code_error.map(t),
        });
        let _ = write!(
            body,
            r#"<h2>{title}</h2>
<p>{sent}</p>
<form method="post" action="/account/email/verify" novalidate><input type="hidden" name="csrf" value="{csrf}">
{code}
<button type="submit">{verify}</button>
</form>
<form method="post" action="/account/email/resend"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="secondary">{resend}</button></form>"#,
            title = esc(t("email.code_title")),
            sent = esc(&t("email.sent_to").replace("{email}", pending)),
            verify = esc(t("email.verify")),
            resend = esc(t("email.resend")),
        );
    }
    let _ = write!(body, r#"<p><a href="/account">{}</a></p>"#, esc(t("error.back")));
    page(frame, "email.title", body)
}

/// The mailed link's page: one button, so that a mail scanner fetching the
/// link verifies nothing.
pub fn email_confirm(frame: &Frame<'_>, token: &str) -> String {
    let t = |k| frame.lang.t(k);
    let body = format!(
        r#"<p>{intro}</p>
<form method="post" action="/account/email/confirm"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="token" value="{token}"><button type="submit">{button}</button></form>"#,
        intro = esc(t("email.confirm_intro")),
        csrf = esc(frame.csrf),
        token = esc(token),
        button = esc(t("email.confirm_button")),
    );
    page(frame, "email.confirm_title", body)
}

/// Before a sensitive change: a passkey assertion, then the change goes on
/// (the script submits the form it carries once the assertion succeeded).
pub fn reauthenticate(frame: &Frame<'_>, action: &str, fields: &[(String, String)]) -> String {
    let t = |k| frame.lang.t(k);
    let hidden: String = fields
        .iter()
        .filter(|(name, _)| name != "csrf")
        .map(|(name, value)| format!(r#"<input type="hidden" name="{}" value="{}">"#, esc(name), esc(value)))
        .collect();
    let body = format!(
        r#"<p>{intro}</p>
{status}
<form id="confirm-form" data-ceremony="confirm" novalidate><button type="submit">{button}</button></form>
<form id="confirm-continue" method="post" action="{action}"><input type="hidden" name="csrf" value="{csrf}">{hidden}</form>
<p><a href="/account">{cancel}</a></p>"#,
        intro = esc(t("confirm.intro")),
        status = status_region(frame.lang),
        button = esc(t("confirm.button")),
        action = esc(action),
        csrf = esc(frame.csrf),
        cancel = esc(t("confirm.cancel")),
    );
    page(frame, "confirm.title", body)
}

/// The renewed recovery codes, shown once.
pub fn recovery_codes(frame: &Frame<'_>, codes: &[String]) -> String {
    let t = |k| frame.lang.t(k);
    let items: String = codes.iter().map(|c| format!(r#"<li class="code">{}</li>"#, esc(c))).collect();
    let body = format!(
        r#"<p>{intro}</p>
<ul class="codes" id="recovery-codes">{items}</ul>
<p class="notice" role="note">{once}</p>
<p><a href="/account">{back}</a></p>"#,
        intro = esc(t("codes.renewed")),
        once = esc(t("done.shown_once")),
        back = esc(t("error.back")),
    );
    page(frame, "codes.title", body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn the_confirmation_page_escapes_what_it_carries() {
        let frame = Frame { lang: Lang::En, csrf: "c", signed_in: true, path: "/account" };
        let page = reauthenticate(&frame, "/account/delete", &[("confirm\"".into(), "<b>".into())]);
        assert!(page.contains("confirm&quot;") && page.contains("&lt;b&gt;") && !page.contains("<b>"));
    }
}
