//! Email verification: a six-digit code and a link (single use, 30
//! minutes, SHA-256 at rest) mailed through the outbox; the proof is
//! recorded as a verification whose evidence is the citizen's own mailbox,
//! and one verified address belongs to one account.

use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::citizen::profile::plausible_email;
use crate::clock::UnixTime;
use crate::i18n::Lang;
use crate::keys::sha256_b64;
use crate::mail;
use crate::store::VerificationRecord;
use crate::store::{AttributeRecord, EmailChallenge, NewAuditEvent, NewVerification, Recorded, StoreError};

/// How long a code and its link stay valid.
pub const CODE_TTL: i64 = 30 * 60;
/// Mails sent per window; then the citizen waits for the window's end.
pub const MAX_SENDS: i64 = 5;
pub const SEND_WINDOW: i64 = 60 * 60;
/// Wrong codes before the challenge is dropped (a new code must be asked for).
pub const MAX_FAILURES: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("not an email address")]
    Invalid,
    #[error("too many codes sent; retry in {retry_after} s")]
    TooManySends { retry_after: i64 },
    #[error("no code pending")]
    NoChallenge,
    #[error("wrong code")]
    WrongCode,
    #[error("code expired")]
    Expired,
    /// The address changed since the code was sent.
    #[error("address changed")]
    Changed,
    /// Another account has verified this address.
    #[error("address verified by another account")]
    Taken,
    #[error(transparent)]
    NoRandomness(#[from] crate::random::NoRandomness),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::outage::Failure for EmailError {
    fn unavailable(&self) -> Option<crate::outage::Dependency> {
        match self {
            Self::Store(e) => e.unavailable(),
            _ => None,
        }
    }
}

impl EmailError {
    /// Catalogue key of the message shown next to the field.
    pub fn message_key(&self) -> &'static str {
        match self {
            Self::Invalid => "email.invalid",
            Self::TooManySends { .. } => "email.too_many",
            Self::NoChallenge => "email.no_code",
            Self::WrongCode => "email.wrong_code",
            Self::Expired => "email.expired",
            Self::Changed => "email.changed",
            Self::Taken => "email.taken",
            Self::NoRandomness(_) | Self::Store(_) => "err.server",
        }
    }
}

fn code_hash(citizen_id: &str, code: &str) -> String {
    sha256_b64(format!("email-code\0{citizen_id}\0{code}").as_bytes())
}

/// Sets the citizen's address (an unverified one when it changes) and mails
/// a fresh code and link, in the citizen's language, through the outbox.
/// `None` `email`: send again to the address on record.
pub async fn send_code(
    state: &AppState,
    citizen_id: &str,
    email: Option<&str>,
    lang: Lang,
) -> Result<String, EmailError> {
    let now = state.clock.now();
    let Some(citizen) = state.db.citizen_by_id(citizen_id).await? else { return Err(EmailError::NoChallenge) };
    let email = match email.map(str::trim) {
        Some(typed) if plausible_email(typed) => typed.to_owned(),
        Some(_) => return Err(EmailError::Invalid),
        None => citizen.email.clone().ok_or(EmailError::Invalid)?,
    };
    let previous = state.db.email_challenge(citizen_id).await?;
    let (sends, window_start) = match &previous {
        Some(p) if now < p.window_start + SEND_WINDOW => (p.sends, p.window_start),
        _ => (0, now),
    };
    if sends >= MAX_SENDS {
        return Err(EmailError::TooManySends { retry_after: window_start + SEND_WINDOW - now });
    }
    let digits = crate::random::bytes::<4>()?;
    let code = format!("{:06}", u32::from_be_bytes(digits) % 1_000_000);
    let secret = crate::random::token::<32>()?;
    let challenge = EmailChallenge {
        citizen_id: citizen_id.to_owned(),
        email: email.clone(),
        code_hash: code_hash(citizen_id, &code),
        link_hash: sha256_b64(secret.as_bytes()),
        expires_at: now + CODE_TTL,
        sends: sends + 1,
        window_start,
        failures: 0,
    };
    let link = state.config.url(&format!("/account/email/confirm?token={secret}"));
    let mail = mail::email_code(citizen_id, &email, lang, &code, &link, now);
    if !state.db.start_email_challenge(&challenge, &mail, lang.code()).await? {
        return Err(EmailError::NoChallenge);
    }
    Ok(email)
}

/// Verifies the code the citizen typed.
pub async fn verify_code(state: &AppState, citizen_id: &str, code: &str) -> Result<String, EmailError> {
    let code: String = code.chars().filter(char::is_ascii_digit).collect();
    match state.db.take_email_challenge_by_code(citizen_id, &code_hash(citizen_id, &code)).await? {
        Some(challenge) => record(state, &challenge).await,
        None => match state.db.email_challenge(citizen_id).await? {
            Some(c) if c.code_hash.is_empty() => Err(EmailError::NoChallenge),
            Some(c) if state.clock.now() >= c.expires_at => Err(EmailError::Expired),
            Some(_) => {
                state.db.email_challenge_failed(citizen_id, MAX_FAILURES).await?;
                Err(EmailError::WrongCode)
            }
            None => Err(EmailError::NoChallenge),
        },
    }
}

/// Verifies through the mailed link (whoever's browser follows it: the
/// secret proves the mailbox).
pub async fn verify_link(state: &AppState, secret: &str) -> Result<String, EmailError> {
    let challenge =
        state.db.take_email_challenge_by_link(&sha256_b64(secret.as_bytes())).await?.ok_or(EmailError::NoChallenge)?;
    record(state, &challenge).await
}

/// The verification, once the challenge is taken: the address must still
/// be the citizen's, and verified by no other account.
async fn record(state: &AppState, challenge: &EmailChallenge) -> Result<String, EmailError> {
    let now: UnixTime = state.clock.now();
    if now >= challenge.expires_at {
        return Err(EmailError::Expired);
    }
    let Some(citizen) = state.db.citizen_by_id(&challenge.citizen_id).await? else {
        return Err(EmailError::NoChallenge);
    };
    if citizen.email.as_deref() != Some(challenge.email.as_str()) {
        return Err(EmailError::Changed);
    }
    let verification_id = crate::random::id();
    let record = VerificationRecord {
        verification_id: verification_id.clone(),
        citizen_id: citizen.id.clone(),
        kind: "email".into(),
        organisation_id: String::new(),
        organisation_name: String::new(),
        agent_id: citizen.id.clone(),
        method: "email".into(),
        document_type: "mailbox".into(),
        document_issuer: String::new(),
        // One verified address per account, through the documents' uniqueness.
        document_hash: state.keys.evidence_digest(&["mailbox", &challenge.email.to_lowercase()]),
        document_expires: String::new(),
        attributes: serde_json::json!(["email"]).to_string(),
        verified_at: now,
    };
    let attributes = [AttributeRecord {
        name: "email".into(),
        value: challenge.email.clone(),
        verified_by: Some(verification_id),
        verified_at: Some(now),
        updated_at: now,
    }];
    let history = NewAuditEvent::new(
        &citizen.id,
        AuditEvent::IdentityVerified {
            organisation: String::new(),
            method: "email".into(),
            document: "mailbox".into(),
            attributes: vec!["email".into()],
            names_corrected: false,
        },
        now,
    );
    let new = NewVerification { record: &record, attributes: &attributes, names: None, history: &history, log: None };
    match state.db.record_verification(&new).await? {
        Recorded::Done => Ok(challenge.email.clone()),
        Recorded::DocumentTaken => Err(EmailError::Taken),
        Recorded::NoCitizen => Err(EmailError::NoChallenge),
    }
}
