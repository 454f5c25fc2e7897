//! Mail to citizens: the email verification code and the security notices,
//! composed in the citizen's language (plain text and HTML, no tracking, no
//! remote images), queued in the durable outbox by the change that causes
//! them, and sent by `delivery` over SMTP (or written to the log).

pub mod delivery;
mod transport;

pub use transport::Transport;

use crate::citizen::identity::Identity;
use crate::clock::UnixTime;
use crate::config::Config;
use crate::i18n::Lang;
use crate::random;
use crate::store::{Db, MailRecord, StoreError};
use crate::web::html::{esc, when};

/// What a security notice tells of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    PasskeyAdded,
    PasskeyRemoved,
    RecoveryCodeUsed,
    RecoveryCodesRenewed,
    AssistedRecovery,
    AccountDeleted,
    /// A sign-in from a browser family and passkey not seen together before.
    NewDevice {
        device: String,
    },
    /// A service's permission withdrawn (by the citizen, from `/account`).
    ServiceWithdrawn {
        service: String,
    },
}

impl Notice {
    /// Critical notices are always sent; the others can be turned off.
    pub fn critical(&self) -> bool {
        !matches!(self, Self::NewDevice { .. } | Self::ServiceWithdrawn { .. })
    }

    /// The outbox `kind` and catalogue stem.
    pub fn name(&self) -> &'static str {
        match self {
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::RecoveryCodeUsed => "recovery_used",
            Self::RecoveryCodesRenewed => "codes_renewed",
            Self::AssistedRecovery => "assisted_recovery",
            Self::AccountDeleted => "account_deleted",
            Self::NewDevice { .. } => "new_device",
            Self::ServiceWithdrawn { .. } => "service_withdrawn",
        }
    }

    fn keys(&self) -> (&'static str, &'static str) {
        match self {
            Self::PasskeyAdded => ("mail.passkey_added.subject", "mail.passkey_added.body"),
            Self::PasskeyRemoved => ("mail.passkey_removed.subject", "mail.passkey_removed.body"),
            Self::RecoveryCodeUsed => ("mail.recovery_used.subject", "mail.recovery_used.body"),
            Self::RecoveryCodesRenewed => ("mail.codes_renewed.subject", "mail.codes_renewed.body"),
            Self::AssistedRecovery => ("mail.assisted_recovery.subject", "mail.assisted_recovery.body"),
            Self::AccountDeleted => ("mail.account_deleted.subject", "mail.account_deleted.body"),
            Self::NewDevice { .. } => ("mail.new_device.subject", "mail.new_device.body"),
            Self::ServiceWithdrawn { .. } => ("mail.service_withdrawn.subject", "mail.service_withdrawn.body"),
        }
    }
}

/// The language of a citizen's mail: the one stored, else French.
pub fn lang_of(stored: Option<&str>) -> Lang {
    stored.and_then(Lang::from_tag).unwrap_or(Lang::Fr)
}

/// The notice to queue for `citizen_id`, if they have a verified email and
/// want it (critical ones always). Read before the change, queued with it.
pub async fn notice(
    db: &Db,
    config: &Config,
    citizen_id: &str,
    notice: &Notice,
    now: UnixTime,
) -> Result<Option<MailRecord>, StoreError> {
    let Some(identity) = Identity::load(db, citizen_id).await? else { return Ok(None) };
    let Some((lang, quiet)) = db.mail_settings(citizen_id).await? else { return Ok(None) };
    let (Some(email), true) = (identity.value("email"), identity.verified("email")) else { return Ok(None) };
    if quiet && !notice.critical() {
        return Ok(None);
    }
    let lang = lang_of(lang.as_deref());
    let (subject, body) = notice.keys();
    let detail = match notice {
        Notice::NewDevice { device } => device.as_str(),
        Notice::ServiceWithdrawn { service } => service.as_str(),
        _ => "",
    };
    let account = config.url("/account");
    let paragraphs = vec![
        lang.t(body).replace("{detail}", detail),
        lang.t("mail.notice.when").replace("{when}", &when(now)),
        lang.t("mail.notice.not_you").to_owned(),
    ];
    let mut footer = vec![lang.t("mail.footer").to_owned()];
    if !notice.critical() {
        footer.push(lang.t("mail.notice.optional").to_owned());
    }
    let content =
        Content { subject: lang.t(subject), paragraphs, link: (lang.t("mail.notice.link"), &account), footer };
    let kind = format!("notice.{}", notice.name());
    Ok(Some(record(Some(citizen_id), email, &kind, lang, &content, now)))
}

/// The notice of a sign-in from a device not seen before: this browser
/// family (`device`) with this passkey never signed this citizen in.
pub async fn new_device_notice(
    db: &Db,
    config: &Config,
    citizen_id: &str,
    device: &str,
    passkey: &str,
    now: UnixTime,
) -> Result<Option<MailRecord>, StoreError> {
    let seen = db.audit_events_of(citizen_id).await?.iter().any(|e| {
        matches!(e.event(), Some(crate::audit::AuditEvent::SignedIn { device: d, passkey: Some(p), .. })
            if d == device && p == passkey)
    });
    if seen {
        return Ok(None);
    }
    notice(db, config, citizen_id, &Notice::NewDevice { device: device.to_owned() }, now).await
}

/// The mail carrying an email verification code and link.
pub fn email_code(citizen_id: &str, to: &str, lang: Lang, code: &str, link: &str, now: UnixTime) -> MailRecord {
    let content = Content {
        subject: lang.t("mail.code.subject"),
        paragraphs: vec![lang.t("mail.code.body").replace("{code}", code), lang.t("mail.code.expiry").to_owned()],
        link: (lang.t("mail.code.link"), link),
        footer: vec![lang.t("mail.code.not_you").to_owned(), lang.t("mail.footer").to_owned()],
    };
    record(Some(citizen_id), to, "email_code", lang, &content, now)
}

struct Content<'a> {
    subject: &'a str,
    paragraphs: Vec<String>,
    /// Label and URL of the one link (always to this provider).
    link: (&'a str, &'a str),
    footer: Vec<String>,
}

fn record(citizen_id: Option<&str>, to: &str, kind: &str, lang: Lang, c: &Content<'_>, now: UnixTime) -> MailRecord {
    let (label, url) = c.link;
    let mut text = String::new();
    for p in &c.paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
    }
    text.push_str(&format!("{label} : {url}\n\n-- \n"));
    text.push_str(&c.footer.join("\n"));
    text.push('\n');
    // One self-contained document: inline styles, no images, no remote
    // resources, no tracking parameters.
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;line-height:1.5;color:#161616;max-width:40em\">",
        lang.code(),
        esc(c.subject)
    );
    for p in &c.paragraphs {
        html.push_str(&format!("<p>{}</p>", esc(p)));
    }
    html.push_str(&format!(
        "<p><a href=\"{}\" style=\"color:#000091\">{}</a></p><hr><p style=\"font-size:.9em;color:#3a3a3a\">{}</p></body></html>",
        esc(url),
        esc(label),
        c.footer.iter().map(|f| esc(f)).collect::<Vec<_>>().join("<br>")
    ));
    MailRecord {
        mail_id: random::id(),
        citizen_id: citizen_id.map(str::to_owned),
        recipient: to.to_owned(),
        kind: kind.to_owned(),
        lang: lang.code().to_owned(),
        subject: c.subject.to_owned(),
        text_body: text,
        html_body: html,
        created_at: now,
        attempts: 0,
        next_attempt_at: now,
        delivered_at: None,
        gave_up_at: None,
        last_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_mail_has_both_parts_and_no_remote_resource() {
        let mail = email_code("c", "a@example.org", Lang::En, "123456", "https://id.example/account/email?t=x<", 0);
        assert!(mail.text_body.contains("123456") && mail.text_body.contains("https://id.example/account/email"));
        assert!(mail.html_body.contains("123456") && mail.html_body.contains("x&lt;"));
        assert!(!mail.html_body.contains("<img") && !mail.html_body.contains("src="));
        let fr = email_code("c", "a@example.org", Lang::Fr, "123456", "https://id.example/", 0);
        assert_ne!(fr.subject, mail.subject);
    }

    #[test]
    fn only_optional_notices_can_be_turned_off() {
        assert!(Notice::PasskeyAdded.critical() && Notice::AccountDeleted.critical());
        assert!(!Notice::NewDevice { device: "x".into() }.critical());
    }
}
