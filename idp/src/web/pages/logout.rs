//! The logout pages (OIDC RP-Initiated Logout 1.0): "sign out?" when the
//! request does not prove who asks, and "signed out" with the front-channel
//! iframes (OIDC Front-Channel Logout 1.0).

use std::fmt::Write as _;

use super::{Frame, page};
use crate::web::html::esc;

/// The confirmation form; `hidden` carries the request's parameters to
/// `POST /logout/confirm`.
pub fn confirmation(frame: &Frame<'_>, service: Option<&str>, hidden: &[(&str, Option<String>)]) -> String {
    let t = |key| frame.lang.t(key);
    let mut fields = String::new();
    for (name, value) in hidden {
        if let Some(value) = value {
            let _ = write!(fields, r#"<input type="hidden" name="{name}" value="{}">"#, esc(value));
        }
    }
    let service = service
        .map(|name| format!("<p>{}</p>", esc(&t("logout.from_service").replace("{service}", name))))
        .unwrap_or_default();
    let body = format!(
        r#"{service}<p>{question}</p>
<form method="post" action="/logout/confirm"><input type="hidden" name="csrf" value="{csrf}">{fields}
<button type="submit">{yes}</button></form>
<p><a href="/account">{no}</a></p>"#,
        question = esc(t("logout.question")),
        csrf = esc(frame.csrf),
        yes = esc(t("logout.confirm")),
        no = esc(t("logout.cancel")),
    );
    page(frame, "logout.title", body)
}

/// Signed out: the services' front-channel pages load in hidden frames; a
/// link back to the service when it asked, else to sign in again.
pub fn signed_out(frame: &Frame<'_>, frontchannel: &[String], back: Option<&str>) -> String {
    let t = |key| frame.lang.t(key);
    let mut body = format!("<p role=\"status\">{}</p>", esc(t("logout.done")));
    for url in frontchannel {
        let _ = write!(body, r#"<iframe src="{}" title="{}" hidden></iframe>"#, esc(url), esc(t("logout.frame_title")));
    }
    match back {
        Some(back) => {
            let _ = write!(body, r#"<p><a href="{}">{}</a></p>"#, esc(back), esc(t("logout.back_to_service")));
        }
        None => {
            let _ = write!(body, r#"<p><a href="/signin">{}</a></p>"#, esc(t("logout.sign_in_again")));
        }
    }
    page(frame, "logout.title", body)
}
