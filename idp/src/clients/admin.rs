//! Organisations (the territorial authorities services belong to), initial
//! access tokens (RFC 7591 §3: registration is never open), administrator
//! tokens, and who did what (the administrators' log).

use serde::Serialize;

use super::ClientError;
use crate::clock::UnixTime;
use crate::keys::sha256_b64;
use crate::random;
use crate::store::{Db, EventRecord, OrganisationRecord, StoreError, TokenKind, TokenRecord};

/// What an entry of the administrators' log records (its `action` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    ClientCreated,
    ClientUpdated,
    ClientSecretRotated,
    ClientDeleted,
    OrganisationCreated,
    MemberInvited,
    /// A citizen accepted an invitation.
    MemberJoined,
    MemberRemoved,
    InvitationRevoked,
    TokenIssued(TokenKind),
    TokenRevoked(TokenKind),
    /// A citizen's audit trail was read.
    AuditRead,
    /// An agent verified a citizen's identity at a counter.
    IdentityVerified,
    /// An agent handed a citizen an assisted-recovery enrolment link.
    IdentityRecovery,
    LogoutDelivered,
    LogoutGivenUp,
}

impl AdminAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCreated => "client.create",
            Self::ClientUpdated => "client.update",
            Self::ClientSecretRotated => "client.rotate_secret",
            Self::ClientDeleted => "client.delete",
            Self::OrganisationCreated => "organisation.create",
            Self::MemberInvited => "member.invite",
            Self::MemberJoined => "member.join",
            Self::MemberRemoved => "member.remove",
            Self::InvitationRevoked => "member.invitation_revoke",
            Self::TokenIssued(TokenKind::InitialAccess) => "initial_access_token.issue",
            Self::TokenIssued(TokenKind::Admin) => "admin_token.issue",
            Self::TokenRevoked(TokenKind::InitialAccess) => "initial_access_token.revoke",
            Self::TokenRevoked(TokenKind::Admin) => "admin_token.revoke",
            Self::AuditRead => "audit.read",
            Self::IdentityVerified => "identity.verify",
            Self::IdentityRecovery => "identity.recovery",
            Self::LogoutDelivered => "logout.delivered",
            Self::LogoutGivenUp => "logout.given_up",
        }
    }
}

/// Who acts, as the log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    /// An operator at the `idp` command line (database access is the credential).
    pub fn cli() -> Self {
        Self("cli".into())
    }

    pub fn admin_token(token_id: &str) -> Self {
        Self(format!("admin-token:{token_id}"))
    }

    pub fn initial_access_token(token_id: &str) -> Self {
        Self(format!("initial-access-token:{token_id}"))
    }

    /// A citizen acting as a member of an organisation (signed in with a passkey).
    pub fn member(citizen_id: &str) -> Self {
        Self(format!("member:{citizen_id}"))
    }

    /// A client managing itself with its registration access token (RFC 7592).
    pub fn registration(client_id: &str) -> Self {
        Self(format!("registration:{client_id}"))
    }

    /// The back-channel logout outbox, recording a delivery's outcome.
    pub fn logout_outbox() -> Self {
        Self("logout-outbox".into())
    }

    pub fn record(
        &self,
        action: AdminAction,
        organisation_id: Option<&str>,
        target: &str,
        detail: serde_json::Value,
        now: UnixTime,
    ) -> EventRecord {
        EventRecord {
            event_id: random::id(),
            at: now,
            actor: self.0.clone(),
            action: action.as_str().to_owned(),
            organisation_id: organisation_id.map(str::to_owned),
            target: target.to_owned(),
            detail: detail.to_string(),
        }
    }
}

/// Kinds of public bodies that enrol services.
pub const ORGANISATION_KINDS: [&str; 6] = ["commune", "intercommunalite", "departement", "region", "syndicat", "other"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub organisation_id: String,
    pub name: String,
    pub kind: String,
    /// SIREN (9 digits, Luhn-checked) or INSEE commune code (5 characters).
    pub official_code: String,
    pub contacts: Vec<String>,
    pub created_at: UnixTime,
}

impl Organisation {
    pub(crate) fn from_record(r: OrganisationRecord) -> Result<Self, StoreError> {
        Ok(Self {
            contacts: serde_json::from_str(&r.contacts)
                .map_err(|_| StoreError::Corrupt(format!("organisation {}: contacts", r.organisation_id)))?,
            organisation_id: r.organisation_id,
            name: r.name,
            kind: r.kind,
            official_code: r.official_code,
            created_at: r.created_at,
        })
    }
}

/// What an administrator enrols.
#[derive(Debug, Clone, Default)]
pub struct NewOrganisation {
    pub name: String,
    pub kind: String,
    pub official_code: String,
    pub contacts: Vec<String>,
}

/// SIREN numbers carry a Luhn check digit.
fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A SIREN (9 digits with a valid check digit) or an INSEE commune code
/// (5 characters: digits, or 2A/2B for Corsica).
pub fn check_official_code(code: &str) -> Result<(), ClientError> {
    let bad = |why: &str| ClientError::InvalidMetadata(format!("official_code {code:?} {why}"));
    let digits = code.bytes().all(|b| b.is_ascii_digit());
    match code.len() {
        9 if digits && luhn_ok(code) => Ok(()),
        9 if digits => Err(bad("is not a valid SIREN (wrong check digit)")),
        5 if digits || code.starts_with("2A") || code.starts_with("2B") => {
            if code[2..].bytes().all(|b| b.is_ascii_digit()) { Ok(()) } else { Err(bad("is not an INSEE code")) }
        }
        _ => Err(bad("must be a SIREN (9 digits) or an INSEE commune code (5 characters)")),
    }
}

pub async fn create_organisation(
    db: &Db,
    new: NewOrganisation,
    actor: &Actor,
    now: UnixTime,
) -> Result<Organisation, ClientError> {
    let meta = ClientError::InvalidMetadata;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(meta("name must be 1 to 200 characters".into()));
    }
    if !ORGANISATION_KINDS.contains(&new.kind.as_str()) {
        return Err(meta(format!("kind {:?} is not one of {}", new.kind, ORGANISATION_KINDS.join(", "))));
    }
    let code = new.official_code.trim().to_ascii_uppercase();
    check_official_code(&code)?;
    super::metadata::check_extra(&super::ExtraMetadata { contacts: new.contacts.clone(), ..Default::default() })?;
    let record = OrganisationRecord {
        organisation_id: random::id(),
        name: name.to_owned(),
        kind: new.kind,
        official_code: code.clone(),
        contacts: serde_json::to_string(&new.contacts).unwrap_or_else(|_| "[]".into()),
        created_at: now,
    };
    let event = actor.record(
        AdminAction::OrganisationCreated,
        Some(&record.organisation_id),
        &record.organisation_id,
        serde_json::json!({ "name": record.name, "official_code": code }),
        now,
    );
    if !db.insert_organisation(&record, &event).await? {
        return Err(ClientError::Conflict(format!("an organisation with official_code {code:?} exists already")));
    }
    Ok(Organisation::from_record(record)?)
}

/// An organisation by id or official code.
pub async fn find_organisation(db: &Db, id_or_code: &str) -> Result<Option<Organisation>, StoreError> {
    db.organisation(id_or_code).await?.map(Organisation::from_record).transpose()
}

pub async fn organisations(db: &Db) -> Result<Vec<Organisation>, StoreError> {
    db.organisations().await?.into_iter().map(Organisation::from_record).collect()
}

/// The organisation a client is to belong to; required.
pub(super) async fn organisation_for(db: &Db, id_or_code: &str) -> Result<Organisation, ClientError> {
    if id_or_code.trim().is_empty() {
        return Err(ClientError::InvalidMetadata(
            "every service belongs to an organisation: name one (id or official code)".into(),
        ));
    }
    find_organisation(db, id_or_code)
        .await?
        .ok_or_else(|| ClientError::InvalidMetadata(format!("no organisation {id_or_code:?}")))
}

/// A token as listed (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub token_id: String,
    pub organisation_id: Option<String>,
    pub description: String,
    pub single_use: bool,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

impl From<TokenRecord> for TokenInfo {
    fn from(t: TokenRecord) -> Self {
        Self {
            token_id: t.token_id,
            organisation_id: t.organisation_id,
            description: t.description,
            single_use: t.single_use,
            created_at: t.created_at,
            expires_at: t.expires_at,
            used_at: t.used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A token just issued: its value is shown once.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

/// What to issue.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub kind: TokenKind,
    /// Required for initial access tokens; `None` = global administrator.
    pub organisation: Option<String>,
    pub description: String,
    pub lifetime: i64,
    pub single_use: bool,
}

/// Longest lifetime of an initial access token or administrator token.
pub const MAX_TOKEN_LIFETIME: i64 = 366 * 86_400;

pub async fn issue_token(db: &Db, new: NewToken, actor: &Actor, now: UnixTime) -> Result<IssuedToken, ClientError> {
    let meta = ClientError::InvalidMetadata;
    if !(60..=MAX_TOKEN_LIFETIME).contains(&new.lifetime) {
        return Err(meta("the lifetime must be between 1 minute and 366 days".into()));
    }
    if new.description.chars().count() > 200 {
        return Err(meta("the description is longer than 200 characters".into()));
    }
    let organisation_id = match (&new.organisation, new.kind) {
        (Some(org), _) => Some(organisation_for(db, org).await?.organisation_id),
        (None, TokenKind::InitialAccess) => {
            return Err(meta("an initial access token is issued for one organisation: name it".into()));
        }
        (None, TokenKind::Admin) => None,
    };
    let token = random::token::<32>()?;
    let record = TokenRecord {
        token_id: random::id(),
        token_hash: sha256_b64(token.as_bytes()),
        organisation_id,
        description: new.description,
        single_use: new.single_use && new.kind == TokenKind::InitialAccess,
        created_at: now,
        expires_at: now + new.lifetime,
        used_at: None,
        revoked_at: None,
    };
    let event = actor.record(
        AdminAction::TokenIssued(new.kind),
        record.organisation_id.as_deref(),
        &record.token_id,
        serde_json::json!({ "expires_at": record.expires_at, "single_use": record.single_use }),
        now,
    );
    db.insert_token(new.kind, &record, &event).await?;
    Ok(IssuedToken { token, info: record.into() })
}

pub async fn tokens(db: &Db, kind: TokenKind, organisation_id: Option<&str>) -> Result<Vec<TokenInfo>, StoreError> {
    Ok(db.tokens(kind, organisation_id).await?.into_iter().map(TokenInfo::from).collect())
}

pub async fn find_token(db: &Db, kind: TokenKind, token_id: &str) -> Result<Option<TokenInfo>, StoreError> {
    Ok(db.token_by_id(kind, token_id).await?.map(TokenInfo::from))
}

pub async fn revoke_token(
    db: &Db,
    kind: TokenKind,
    token_id: &str,
    actor: &Actor,
    now: UnixTime,
) -> Result<(), ClientError> {
    let token =
        db.token_by_id(kind, token_id).await?.ok_or_else(|| ClientError::NotFound(format!("no token {token_id:?}")))?;
    let action = AdminAction::TokenRevoked(kind);
    let event = actor.record(action, token.organisation_id.as_deref(), token_id, serde_json::json!({}), now);
    if !db.revoke_token(kind, token_id, &event).await? {
        return Err(ClientError::Conflict(format!("token {token_id:?} is revoked already")));
    }
    Ok(())
}

/// Checks a presented bearer token: known, not expired, not revoked, not
/// spent. Every refusal is the same kind (`invalid_token`) with its reason.
pub async fn verify_token(db: &Db, kind: TokenKind, presented: &str, now: UnixTime) -> Result<TokenInfo, ClientError> {
    let invalid = |why: &str| ClientError::InvalidToken(why.to_owned());
    if presented.is_empty() || presented.len() > 512 {
        return Err(invalid("the token is unknown"));
    }
    let token = db
        .token_by_hash(kind, &sha256_b64(presented.as_bytes()))
        .await?
        .ok_or_else(|| invalid("the token is unknown"))?;
    if token.revoked_at.is_some() {
        return Err(invalid("the token was revoked"));
    }
    if token.expires_at <= now {
        return Err(invalid("the token has expired"));
    }
    if token.single_use && token.used_at.is_some() {
        return Err(invalid("the initial access token was already used"));
    }
    Ok(token.into())
}

/// A citizen's audit trail (passkeys, logins, consents), read by an
/// administrator; the reading itself is logged.
pub async fn citizen_audit_trail(
    db: &Db,
    citizen_id: &str,
    actor: &Actor,
    now: UnixTime,
) -> Result<Vec<crate::store::AuditEntry>, ClientError> {
    if citizen_id.is_empty() || citizen_id.len() > 100 {
        return Err(ClientError::InvalidMetadata("citizen_id is required".into()));
    }
    db.insert_admin_event(&actor.record(AdminAction::AuditRead, None, citizen_id, serde_json::json!({}), now)).await?;
    Ok(db.audit_events_of(citizen_id).await?)
}

/// The most recent administrators' log entries (CLI and admin API readers),
/// of one organisation when `organisation_id` is given.
pub async fn recent_events(db: &Db, organisation_id: Option<&str>, limit: i64) -> Result<Vec<EventRecord>, StoreError> {
    db.admin_events(organisation_id, limit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_codes() {
        assert!(check_official_code("213105554").is_ok(), "SIREN of Toulouse");
        assert!(check_official_code("200046977").is_ok(), "SIREN of Métropole de Lyon");
        assert!(check_official_code("213105555").is_err());
        assert!(check_official_code("31555").is_ok(), "INSEE of Toulouse");
        assert!(check_official_code("2A004").is_ok(), "INSEE of Ajaccio");
        assert!(check_official_code("1234").is_err());
        assert!(check_official_code("ABCDEFGHI").is_err());
    }
}
