//! Every page template: plain functions from typed data to HTML, every
//! dynamic value escaped, every string from the catalogue. Handlers gather
//! the data; these render it. The login and account pages are here; the
//! rest by subject below.

pub mod account;
pub mod consent;
pub mod console;
pub mod counter;
pub mod developers;
pub mod form_post;
pub mod identity;
pub mod logout;
pub mod transparency;

use std::fmt::Write as _;

use crate::i18n::Lang;
use crate::web::html::{self, Field, Page, esc, field, layout, status_region, when};

/// What every page needs besides its own data.
pub struct Frame<'a> {
    pub lang: Lang,
    pub csrf: &'a str,
    pub signed_in: bool,
    pub path: &'a str,
}

pub(super) fn page(frame: &Frame<'_>, title_key: &'static str, body: String) -> String {
    layout(&Page {
        lang: frame.lang,
        title: frame.lang.t(title_key),
        body,
        csrf: frame.csrf,
        signed_in: frame.signed_in,
        path: frame.path,
        refresh_to: None,
    })
}

/// A page that takes the browser on to `url` at once (meta refresh), with
/// a link for when it does not. It ends the chain of redirects that follows
/// one of our forms: `form-action` governs those redirects, never this
/// navigation, so a service whose callback redirects to another origin
/// (an SSO portal) is reached all the same.
pub fn continue_to(frame: &Frame<'_>, url: &str) -> String {
    let t = |key| frame.lang.t(key);
    let body = format!(
        r#"<p role="status">{text}</p><p><a href="{url}">{link}</a></p>"#,
        text = esc(t("continue.text")),
        url = esc(url),
        link = esc(t("continue.link")),
    );
    layout(&Page {
        lang: frame.lang,
        title: t("continue.title"),
        body,
        csrf: frame.csrf,
        signed_in: false,
        path: frame.path,
        refresh_to: Some(url),
    })
}

pub fn sign_in(frame: &Frame<'_>, next: &str) -> String {
    let t = |k| frame.lang.t(k);
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<p>{intro}</p>
{status}
<form id="signin-form" data-ceremony="signin" data-autofill data-next="{next}" novalidate>
<div class="field"><label for="username">{label}</label><p class="hint" id="username-hint">{hint}</p><input id="username" name="username" type="text" autocomplete="username webauthn" aria-describedby="username-hint"></div>
<button type="submit">{button}</button>
</form>
<h2>{no_account_title}</h2>
<p><a href="/signup{next_query}">{no_account}</a></p>
<p><a href="/recover">{lost}</a></p>"#,
        intro = esc(t("signin.intro")),
        status = status_region(frame.lang),
        next = esc(next),
        label = esc(t("signin.username_label")),
        hint = esc(t("signin.username_hint")),
        button = esc(t("signin.button")),
        no_account_title = esc(t("signin.no_account_title")),
        next_query = esc(&next_query(next)),
        no_account = esc(t("signin.no_account")),
        lost = esc(t("signin.lost_passkey")),
    );
    page(frame, "signin.title", body)
}

pub fn sign_up(frame: &Frame<'_>, next: &str) -> String {
    let t = |k| frame.lang.t(k);
    let fields = [
        Field {
            id: "given_name",
            label: t("signup.given_name"),
            hint: None,
            kind: "text",
            autocomplete: "given-name",
            required: true,
            value: "",
            max_length: 100,
            error: None,
        },
        Field {
            id: "family_name",
            label: t("signup.family_name"),
            hint: None,
            kind: "text",
            autocomplete: "family-name",
            required: true,
            value: "",
            max_length: 100,
            error: None,
        },
        Field {
            id: "email",
            label: t("signup.email"),
            hint: Some(t("signup.email_hint")),
            kind: "email",
            autocomplete: "email",
            required: false,
            value: "",
            max_length: 254,
            error: None,
        },
    ];
    let fields: String = fields.iter().map(field).collect();
    let body = format!(
        r#"<p>{intro}</p>
<p>{required}</p>
{status}
<form id="signup-form" data-ceremony="signup" data-next="{next}" novalidate>
{fields}
<button type="submit">{button}</button>
</form>
<p><a href="/signin{next_query}">{have_account}</a></p>"#,
        intro = esc(t("signup.intro")),
        required = esc(t("signup.required_note")),
        status = status_region(frame.lang),
        next = esc(next),
        button = esc(t("signup.button")),
        next_query = esc(&next_query(next)),
        have_account = esc(t("signup.have_account")),
    );
    page(frame, "signup.title", body)
}

/// What the "shown once" page shows.
pub struct ShownOnce<'a> {
    pub identifier: &'a str,
    pub recovery_codes: &'a [String],
    pub next: &'a str,
}

/// Shown once, right after sign-up, or after an assisted recovery (then
/// with the recovery's own title and first line).
pub fn signed_up(frame: &Frame<'_>, shown: &ShownOnce<'_>, recovered: bool) -> String {
    let t = |k| frame.lang.t(k);
    let codes: String = shown.recovery_codes.iter().map(|c| format!(r#"<li class="code">{}</li>"#, esc(c))).collect();
    let (title, welcome) =
        if recovered { ("done.recovered_title", "done.recovered") } else { ("done.title", "done.welcome") };
    let body = format!(
        r#"<p>{welcome}</p>
<h2 id="identifier-title">{identifier_title}</h2>
<p class="identifier" id="citizen-identifier" aria-labelledby="identifier-title">{identifier}</p>
<p>{identifier_help}</p>
<h2>{codes_title}</h2>
<p>{codes_help}</p>
<ul class="codes" id="recovery-codes">{codes}</ul>
<p class="notice" role="note">{once}</p>
<p><a href="{next}">{continue_label}</a></p>"#,
        welcome = esc(t(welcome)),
        identifier_title = esc(t("done.identifier_title")),
        identifier = esc(shown.identifier),
        identifier_help = esc(t("done.identifier_help")),
        codes_title = esc(t("done.codes_title")),
        codes_help = esc(t("done.codes_help")),
        once = esc(t("done.shown_once")),
        next = esc(shown.next),
        continue_label = esc(t("done.continue")),
    );
    page(frame, title, body)
}

/// The page of the enrolment link handed over at a counter: what will
/// happen, and one button.
pub fn assisted_recover(frame: &Frame<'_>, token: &str) -> String {
    let t = |k| frame.lang.t(k);
    let body = format!(
        r#"<p>{intro}</p>
<p>{level}</p>
{status}
<form id="assisted-recover-form" data-ceremony="assisted-recover" novalidate>
<input type="hidden" name="token" value="{token}">
<button type="submit">{button}</button>
</form>"#,
        intro = esc(t("assisted.intro")),
        level = esc(t("assisted.level")),
        status = status_region(frame.lang),
        token = esc(token),
        button = esc(t("recover.button")),
    );
    page(frame, "assisted.title", body)
}

pub fn recover(frame: &Frame<'_>) -> String {
    let t = |k| frame.lang.t(k);
    let fields = [
        Field {
            id: "identifier",
            label: t("recover.identifier"),
            hint: Some(t("recover.identifier_hint")),
            kind: "text",
            autocomplete: "username",
            required: true,
            value: "",
            max_length: 40,
            error: None,
        },
        Field {
            id: "code",
            label: t("recover.code"),
            hint: Some(t("recover.code_hint")),
            kind: "text",
            autocomplete: "off",
            required: true,
            value: "",
            max_length: 40,
            error: None,
        },
    ];
    let fields: String = fields.iter().map(field).collect();
    let body = format!(
        r#"<p>{intro}</p>
{status}
<form id="recover-form" data-ceremony="recover" novalidate>
{fields}
<button type="submit">{button}</button>
</form>
<p><a href="/signin">{back}</a></p>"#,
        intro = esc(t("recover.intro")),
        status = status_region(frame.lang),
        button = esc(t("recover.button")),
        back = esc(t("recover.back")),
    );
    page(frame, "recover.title", body)
}

/// What the account page shows.
pub struct AccountView<'a> {
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub email: Option<&'a str>,
    pub email_verified: bool,
    /// Grouped for display.
    pub identifier: &'a str,
    pub acr: &'a str,
    pub passkeys: Vec<PasskeyView<'a>>,
    pub recovery_codes_left: i64,
    /// The non-critical security notices are wanted.
    pub optional_notices: bool,
    pub sessions: Vec<SessionView<'a>>,
    /// A catalogue key of a message to show (after a redirect), and whether it is an error.
    pub notice: Option<(&'static str, bool)>,
    /// Services the citizen consented to, and what happened on the account.
    /// Identity attributes beyond the sign-up names, with their verification.
    pub attributes: &'a [crate::store::AttributeRecord],
    /// Checks of the identity at counters, and assisted recoveries.
    pub verifications: &'a [crate::store::VerificationRecord],
    pub services: &'a [crate::citizen::transparency::ConnectedService],
    pub activity: &'a [crate::citizen::transparency::Activity],
}

pub struct PasskeyView<'a> {
    pub credential_id: &'a str,
    pub name: &'a str,
    pub synced: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub struct SessionView<'a> {
    pub device: &'a str,
    pub created_at: i64,
    pub current: bool,
}

pub fn account(frame: &Frame<'_>, view: &AccountView<'_>) -> String {
    let t = |k| frame.lang.t(k);
    let csrf = esc(frame.csrf);
    let mut body = String::new();
    if let Some((key, is_error)) = view.notice {
        body.push_str(&html::notice(t(key), is_error));
    }
    let _ = write!(
        body,
        r#"<h2>{identity}</h2>
<dl class="identity">
<dt>{given_label}</dt><dd>{given}</dd>
<dt>{family_label}</dt><dd>{family}</dd>
<dt>{email_label}</dt><dd>{email} <span class="hint">({email_status})</span> <a href="/account/email">{email_change}</a></dd>
<dt>{identifier_label}</dt><dd class="identifier-inline" id="citizen-identifier">{identifier}</dd>
{attributes}<dt>{level_label}</dt><dd>{level}</dd>
</dl>
<p><a href="/account/identity">{edit_identity}</a></p>
<h2 id="passkeys-title">{passkeys_title}</h2>
<ul class="cards" aria-labelledby="passkeys-title">"#,
        identity = esc(t("account.identity")),
        edit_identity = esc(t("account.edit_identity")),
        given_label = esc(t("signup.given_name")),
        given = esc(view.given_name),
        family_label = esc(t("signup.family_name")),
        family = esc(view.family_name),
        email_label = esc(t("account.email")),
        email = esc(view.email.unwrap_or(t("account.no_email"))),
        email_status = esc(if view.email_verified { t("email.status_verified") } else { t("account.self_declared") }),
        email_change = esc(t("email.manage")),
        identifier_label = esc(t("account.identifier")),
        identifier = esc(view.identifier),
        attributes = transparency::attribute_rows(frame.lang, view.attributes, view.verifications),
        level_label = esc(t("account.level")),
        level = esc(match view.acr {
            "eidas1" => t("account.level_eidas1"),
            "eidas2" => t("account.level_eidas2"),
            other => other,
        }),
        passkeys_title = esc(t("account.passkeys")),
    );
    let only_one = view.passkeys.len() <= 1;
    for (index, key) in view.passkeys.iter().enumerate() {
        let id = esc(key.credential_id);
        let kind = if key.synced { t("account.passkey_synced") } else { t("account.passkey_device") };
        let last = key.last_used_at.map_or_else(|| t("account.never").to_owned(), when);
        let rename_id = format!("rename-{index}");
        let _ = write!(
            body,
            r#"<li><h3>{name}</h3><p>{kind}</p><p>{created_label} {created} · {last_label} {last}</p>
<div class="actions"><form method="post" action="/account/passkeys/rename" class="actions"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="credential_id" value="{id}"><div class="field"><label for="{rename_id}">{rename_label}</label><input id="{rename_id}" name="name" type="text" maxlength="60" required value="{name}"></div><button type="submit" class="secondary">{rename_button}</button></form>"#,
            name = esc(key.name),
            kind = esc(kind),
            created_label = esc(t("account.added")),
            created = esc(&when(key.created_at)),
            last_label = esc(t("account.last_used")),
            last = esc(&last),
            rename_label = esc(t("account.rename_label")),
            rename_button = esc(t("account.rename")),
        );
        if only_one {
            let _ = write!(body, r#"<p class="hint">{}</p>"#, esc(t("account.last_passkey")));
        } else {
            let _ = write!(
                body,
                r#"<form method="post" action="/account/passkeys/remove"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="credential_id" value="{id}"><button type="submit" class="danger">{remove} <span class="visually-hidden">{name}</span></button></form>"#,
                remove = esc(t("account.remove")),
                name = esc(key.name),
            );
        }
        body.push_str("</div></li>");
    }
    let add_field = field(&Field {
        id: "passkey_name",
        label: t("account.new_passkey_name"),
        hint: Some(t("account.new_passkey_hint")),
        kind: "text",
        autocomplete: "off",
        required: false,
        value: "",
        max_length: 60,
        error: None,
    });
    let _ = write!(
        body,
        r#"</ul>
{status}
<form id="add-passkey-form" data-ceremony="add-passkey" data-next="/account?notice=passkey_added" novalidate>
{add_field}
<button type="submit">{add}</button>
</form>
<h2>{recovery_title}</h2>
{recovery_warning}<p>{recovery_left}</p>
<form method="post" action="/account/recovery-codes"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="secondary">{renew}</button></form>
<h2 id="sessions-title">{sessions_title}</h2>
<ul class="cards" aria-labelledby="sessions-title">"#,
        status = status_region(frame.lang),
        add = esc(t("account.add_passkey")),
        recovery_title = esc(t("account.recovery_title")),
        recovery_warning = if view.recovery_codes_left <= 2 {
            format!(r#"<p class="notice error" role="note">{}</p>"#, esc(t("codes.few_left")))
        } else {
            String::new()
        },
        renew = esc(t("codes.renew")),
        recovery_left = esc(&t("account.recovery_left").replace("{n}", &view.recovery_codes_left.to_string())),
        sessions_title = esc(t("account.sessions")),
    );
    for s in &view.sessions {
        let _ = write!(
            body,
            r#"<li><p><strong>{device}</strong>{current}</p><p>{since} {created}</p></li>"#,
            device = esc(s.device),
            current = if s.current { format!(" — {}", esc(t("account.this_browser"))) } else { String::new() },
            since = esc(t("account.since")),
            created = esc(&when(s.created_at)),
        );
    }
    let _ = write!(
        body,
        r#"</ul>
<form method="post" action="/account/sessions/revoke-others"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="secondary">{others}</button></form>"#,
        others = esc(t("account.signout_others")),
    );
    let _ = write!(
        body,
        r#"<h2>{title}</h2>
<p>{intro}</p>
<form method="post" action="/account/notices"><input type="hidden" name="csrf" value="{csrf}"><div class="check"><input type="checkbox" id="optional_notices" name="optional_notices" value="yes"{checked}><label for="optional_notices">{label}</label></div><button type="submit" class="secondary">{save}</button></form>"#,
        title = esc(t("notices.title")),
        intro = esc(t("notices.intro")),
        checked = if view.optional_notices { " checked" } else { "" },
        label = esc(t("notices.optional")),
        save = esc(t("notices.save")),
    );
    body.push_str(&transparency::verifications(frame.lang, view.verifications));
    let _ = write!(
        body,
        r#"<h2>{title}</h2>
<p>{intro}</p>
<form method="post" action="/account/counter-code"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="secondary">{button}</button></form>"#,
        title = esc(t("account.counter_title")),
        intro = esc(t("account.counter_intro")),
        button = esc(t("account.counter_button")),
    );
    body.push_str(&transparency::sections(frame, view.services, view.activity));
    page(frame, "account.title", body)
}

/// A readable error page with a way back.
pub fn error(frame: &Frame<'_>, message: &str, back: &str) -> String {
    let body = format!(
        r#"<p class="notice error" role="alert">{message}</p><p><a href="{back}">{back_label}</a></p>"#,
        message = esc(message),
        back = esc(back),
        back_label = esc(frame.lang.t("error.back")),
    );
    page(frame, "error.title", body)
}

/// `?next=…` to carry a return path between the sign-in and sign-up pages.
fn next_query(next: &str) -> String {
    if next.is_empty() {
        String::new()
    } else {
        format!("?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame<'static> {
        Frame { lang: Lang::Fr, csrf: "tok\"en", signed_in: true, path: "/account?x=<y>" }
    }

    #[test]
    fn user_input_is_escaped_everywhere() {
        let evil = "<img src=x onerror=alert(1)>";
        let view = AccountView {
            given_name: evil,
            family_name: evil,
            email: Some(evil),
            email_verified: false,
            identifier: "ABCD-EFGH-JKMN-PQRS-T",
            acr: "eidas1",
            passkeys: vec![PasskeyView {
                credential_id: "\"><script>",
                name: evil,
                synced: true,
                created_at: 0,
                last_used_at: None,
            }],
            recovery_codes_left: 8,
            optional_notices: true,
            sessions: vec![SessionView { device: evil, created_at: 0, current: true }],
            notice: None,
            attributes: &[],
            verifications: &[],
            services: &[],
            activity: &[],
        };
        let html = account(&frame(), &view);
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(!html.contains("tok\"en"));
        assert!(sign_in(&frame(), "/x\"><b>").contains("data-next=\"/x&quot;&gt;&lt;b&gt;\""));
        assert!(error(&frame(), evil, "/signin").contains("&lt;img"));
    }

    #[test]
    fn pages_declare_their_language() {
        assert!(sign_up(&frame(), "").contains(r#"<html lang="fr">"#));
        let en = Frame { lang: Lang::En, ..frame() };
        assert!(recover(&en).contains(r#"<html lang="en">"#));
    }
}
