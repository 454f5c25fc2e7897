//! The registry of territorial services (OAuth clients) and their
//! organisations: metadata validated once for the CLI, the admin API and
//! dynamic registration (RFC 7591 §2, RFC 7592 §2.2), and credentials.

pub mod admin;
pub mod documents;
pub mod fetch;
pub mod members;
pub mod metadata;
mod validate;

use serde::Serialize;

use admin::AdminAction;
pub use admin::{Actor, Organisation};
pub use fetch::Fetcher;
pub use metadata::ExtraMetadata;
pub use validate::{KNOWN_SCOPES, check_redirect_uri};
use validate::{record_of, validate};

use crate::clock::UnixTime;
use crate::keys::{Alg, sha256_b64};
use crate::outage::{Dependency, Failure};
use crate::random;
use crate::scope::Scope;
use crate::store::{ClientRecord, Db, SecretChange, StoreError};

/// How a client authenticates at the token endpoint (OIDC Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    /// Public clients (apps that cannot keep a secret); PKCE protects them.
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] =
        [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost, AuthMethod::PrivateKeyJwt, AuthMethod::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == value)
    }

    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
pub const GRANT_TYPES: [&str; 3] = [GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_CLIENT_CREDENTIALS];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    Pairwise,
    /// The citizen identifier itself: only for clients an administrator entitled.
    Public,
}

/// Who asked for a client: an administrator (CLI, admin API) or a developer
/// through dynamic registration. Defaults differ (OIDC Registration §2:
/// RS256 ID tokens when a registered client names no algorithm).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    #[default]
    Administrator,
    Registration,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Administrator => "administrator",
            Self::Registration => "registration",
        }
    }
}

/// `http://` redirect and logout URIs are accepted only for these hosts.
pub fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Whether `presented` is the registered redirect URI: the exact string
/// (OAuth 2.0 Security BCP §4.1.3), except that for the loopback IP
/// literals `http://127.0.0.1` and `http://[::1]` any port matches (RFC 8252
/// §7.3: a native app listens on whatever port the system gives it); the
/// path and query still match exactly. Not `localhost` (RFC 8252 §8.3).
pub fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    match (loopback_without_port(registered), loopback_without_port(presented)) {
        (Some(registered), Some(presented)) => registered == presented,
        _ => false,
    }
}

/// `(host, rest)` of an `http://127.0.0.1[:port]rest` or `http://[::1][:port]rest`
/// URI, the port left out; `None` for anything else.
fn loopback_without_port(uri: &str) -> Option<(&str, &str)> {
    let authority_and_rest = uri.strip_prefix("http://")?;
    let host = ["127.0.0.1", "[::1]"].into_iter().find(|h| authority_and_rest.starts_with(h))?;
    let after_host = &authority_and_rest[host.len()..];
    let rest = match after_host.strip_prefix(':') {
        Some(port_and_rest) => {
            let digits = port_and_rest.bytes().take_while(u8::is_ascii_digit).count();
            if !(1..=5).contains(&digits) {
                return None;
            }
            &port_and_rest[digits..]
        }
        None => after_host,
    };
    (rest.is_empty() || rest.starts_with(['/', '?'])).then_some((host, rest))
}

/// How long the previous secret stays valid after a rotation, unless the
/// client was registered with another overlap.
pub const DEFAULT_SECRET_OVERLAP: i64 = 86_400;
/// Longest overlap an administrator may set.
pub const MAX_SECRET_OVERLAP: i64 = 30 * 86_400;

/// A registered client, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Client {
    pub client_id: String,
    #[serde(skip)]
    pub secret_hash: Option<String>,
    #[serde(skip)]
    pub previous_secret_hash: Option<String>,
    /// Until when the secret replaced by the last rotation is still accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<UnixTime>,
    #[serde(skip)]
    pub registration_token_hash: Option<String>,
    pub organisation_id: Option<String>,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    pub scope: Scope,
    pub id_token_signed_response_alg: Alg,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<Alg>,
    pub subject_type: SubjectType,
    pub sector: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its public keys (read at authentication).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(flatten)]
    pub metadata: ExtraMetadata,
    /// Entitlement: consent is not asked (first-party services; administrators only).
    pub skip_consent: bool,
    /// Exempt from PKCE by a global administrator, for this reason; `nonce`
    /// is then required (RFC 9700 §2.1.1). Confidential clients only.
    pub pkce_exempt_reason: Option<String>,
    /// Seconds the previous secret outlives a rotation.
    pub secret_overlap: i64,
    pub registered_by: Origin,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
    /// Bumped by every change (optimistic concurrency).
    pub version: i64,
}

impl Serialize for Alg {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

fn digest_matches(stored: &str, presented: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    sha256_b64(presented.as_bytes()).as_bytes().ct_eq(stored.as_bytes()).into()
}

impl Client {
    /// The name citizens see: `client_name#fr` / `#en` when registered, else `client_name`.
    pub fn display_name(&self, lang: crate::i18n::Lang) -> &str {
        self.metadata.name_in(lang).unwrap_or(&self.client_name)
    }

    /// Copies into a developer's replacement metadata what only an
    /// administrator sets (organisation, entitlements, secret overlap), so an
    /// RFC 7592 PUT or an admin-API update never resets it.
    pub fn keep_administrator_settings(&self, new: &mut NewClient) {
        new.organisation_id = self.organisation_id.clone().unwrap_or_default();
        new.public_subject = self.public_subject();
        new.skip_consent = self.skip_consent;
        new.pkce_exempt_reason = self.pkce_exempt_reason.clone();
        new.secret_overlap = Some(self.secret_overlap);
    }

    /// Whether `uri` is one of the registered redirect URIs ([`redirect_uri_matches`]).
    pub fn accepts_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|registered| redirect_uri_matches(registered, uri))
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    pub fn is_confidential(&self) -> bool {
        self.token_endpoint_auth_method != AuthMethod::None
    }

    /// Constant-time check of a presented secret against the stored digest,
    /// or against the previous one while its rotation overlap lasts.
    pub fn secret_matches(&self, presented: &str, now: UnixTime) -> bool {
        let current = self.secret_hash.as_deref().is_some_and(|stored| digest_matches(stored, presented));
        let previous = self.previous_secret_expires_at.is_some_and(|until| now < until)
            && self.previous_secret_hash.as_deref().is_some_and(|stored| digest_matches(stored, presented));
        current | previous
    }

    /// RFC 7592 §3: the registration access token of this client.
    pub fn registration_token_matches(&self, presented: &str) -> bool {
        self.registration_token_hash.as_deref().is_some_and(|stored| digest_matches(stored, presented))
    }

    pub fn public_subject(&self) -> bool {
        self.subject_type == SubjectType::Public
    }

    /// The request that would register this client as it is (for updates
    /// that change a few fields).
    pub fn to_new(&self) -> NewClient {
        NewClient {
            organisation_id: self.organisation_id.clone().unwrap_or_default(),
            client_name: self.client_name.clone(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            grant_types: self.grant_types.clone(),
            response_types: Some(self.response_types.clone()),
            token_endpoint_auth_method: Some(self.token_endpoint_auth_method.as_str().to_owned()),
            scope: Some(self.scope.to_string()),
            id_token_signed_response_alg: Some(self.id_token_signed_response_alg.as_str().to_owned()),
            userinfo_signed_response_alg: self.userinfo_signed_response_alg.map(|a| a.as_str().to_owned()),
            subject_type: None,
            jwks: self.jwks.clone(),
            jwks_uri: self.jwks_uri.clone(),
            extra: self.metadata.clone(),
            public_subject: self.public_subject(),
            skip_consent: self.skip_consent,
            pkce_exempt_reason: self.pkce_exempt_reason.clone(),
            secret_overlap: Some(self.secret_overlap),
            origin: self.registered_by,
        }
    }

    fn from_record(r: ClientRecord) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("client {}: {what}", r.client_id));
        let json_list = |text: &str, what: &str| -> Result<Vec<String>, StoreError> {
            serde_json::from_str(text).map_err(|_| corrupt(what))
        };
        let mut metadata: serde_json::Value = serde_json::from_str(&r.metadata).map_err(|_| corrupt("metadata"))?;
        let response_types = match metadata.as_object_mut().and_then(|m| m.remove("response_types")) {
            Some(list) => serde_json::from_value(list).map_err(|_| corrupt("response_types"))?,
            None => vec!["code".to_owned()],
        };
        Ok(Client {
            redirect_uris: json_list(&r.redirect_uris, "redirect_uris")?,
            post_logout_redirect_uris: json_list(&r.post_logout_redirect_uris, "post_logout_redirect_uris")?,
            grant_types: json_list(&r.grant_types, "grant_types")?,
            response_types,
            token_endpoint_auth_method: AuthMethod::parse(&r.token_endpoint_auth_method)
                .ok_or_else(|| corrupt("token_endpoint_auth_method"))?,
            scope: Scope::parse(&r.scope),
            id_token_signed_response_alg: Alg::parse(&r.id_token_signed_response_alg)
                .ok_or_else(|| corrupt("id_token_signed_response_alg"))?,
            userinfo_signed_response_alg: match &r.userinfo_signed_response_alg {
                Some(a) => Some(Alg::parse(a).ok_or_else(|| corrupt("userinfo_signed_response_alg"))?),
                None => None,
            },
            subject_type: match r.subject_type.as_str() {
                "public" => SubjectType::Public,
                "pairwise" => SubjectType::Pairwise,
                _ => return Err(corrupt("subject_type")),
            },
            jwks: match &r.jwks {
                Some(text) => Some(serde_json::from_str(text).map_err(|_| corrupt("jwks"))?),
                None => None,
            },
            jwks_uri: r.jwks_uri,
            metadata: serde_json::from_value(metadata).map_err(|_| corrupt("metadata"))?,
            registered_by: match r.registered_by.as_str() {
                "registration" => Origin::Registration,
                _ => Origin::Administrator,
            },
            client_id: r.client_id,
            secret_hash: r.client_secret_hash,
            previous_secret_hash: r.previous_secret_hash,
            previous_secret_expires_at: r.previous_secret_expires_at,
            registration_token_hash: r.registration_token_hash,
            organisation_id: r.organisation_id,
            client_name: r.client_name,
            sector: r.sector,
            skip_consent: r.skip_consent,
            pkce_exempt_reason: r.pkce_exempt_reason,
            secret_overlap: r.secret_overlap,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        })
    }
}

/// What an administrator (CLI, admin API) or a developer (registration) asks for.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// The organisation the service belongs to (id or official code).
    pub organisation_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub scope: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    pub userinfo_signed_response_alg: Option<String>,
    pub subject_type: Option<String>,
    pub jwks: Option<serde_json::Value>,
    /// Instead of `jwks`: fetched and checked at registration, read (and
    /// cached) when the client authenticates.
    pub jwks_uri: Option<String>,
    pub extra: ExtraMetadata,
    /// Entitlement (administrators only): the citizen identifier as `sub`.
    pub public_subject: bool,
    /// Entitlement (administrators only): no consent page (first-party service).
    pub skip_consent: bool,
    /// Global administrators only: exempt from PKCE, for this reason.
    pub pkce_exempt_reason: Option<String>,
    pub secret_overlap: Option<i64>,
    pub origin: Origin,
}

/// Why a registry request was refused (RFC 7591 §3.2.2 codes and more).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    #[error("invalid_client_metadata: {0}")]
    InvalidMetadata(String),
    /// A missing, unknown, expired, revoked or spent token.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// A valid administrator token used outside its organisation.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// Changed by someone else meanwhile, or a duplicate.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreErrorText),
}

/// A store error carried as text and class (so `ClientError` stays `Clone + Eq`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct StoreErrorText {
    pub text: String,
    pub unavailable: Option<Dependency>,
}

impl Failure for StoreErrorText {
    fn unavailable(&self) -> Option<Dependency> {
        self.unavailable
    }
}

impl From<StoreError> for ClientError {
    fn from(e: StoreError) -> Self {
        ClientError::Store(StoreErrorText { text: e.to_string(), unavailable: e.unavailable() })
    }
}

impl From<crate::random::NoRandomness> for ClientError {
    fn from(e: crate::random::NoRandomness) -> Self {
        ClientError::Store(StoreErrorText { text: e.to_string(), unavailable: None })
    }
}

/// A client just registered or updated, with the credentials in clear that
/// exist only now: shown once.
#[derive(Debug, Clone)]
pub struct Registered {
    pub client: Client,
    pub client_secret: Option<String>,
    pub registration_access_token: Option<String>,
}

impl Registered {
    /// A client known by its credentials (tests, or a client read back).
    pub fn new(client: Client, client_secret: Option<String>) -> Self {
        Self { client, client_secret, registration_access_token: None }
    }
}

/// Validates and stores a new client, with its registration access token
/// (RFC 7592) and, for confidential clients, a 256-bit secret. Defaults:
/// `client_secret_basic`, scope `openid`, pairwise subjects; administrators
/// get `authorization_code` + `refresh_token` and ES256 ID tokens,
/// registrations `authorization_code` and RS256 (RFC 7591 §2, OIDC
/// Registration §2). `spend_token`: the single-use initial access token
/// that authorises this registration, spent in the same transaction.
/// Documents named by reference (`sector_identifier_uri`, `jwks_uri`) are
/// fetched with `fetcher` and checked before anything is written.
pub async fn register(
    db: &Db,
    fetcher: &Fetcher,
    new: NewClient,
    actor: &Actor,
    spend_token: Option<&str>,
    now: UnixTime,
) -> Result<Registered, ClientError> {
    let valid = validate(&new)?;
    documents::check_references(&new, None, fetcher).await?;
    let organisation = admin::organisation_for(db, &new.organisation_id).await?;
    let auth_method = valid.auth_method;
    let mut record = record_of(&new, valid, organisation.organisation_id.clone(), random::id(), now);
    let client_secret = if auth_method.uses_secret() { Some(random::token::<32>()?) } else { None };
    let registration_access_token = random::token::<32>()?;
    record.client_secret_hash = client_secret.as_deref().map(|s| sha256_b64(s.as_bytes()));
    record.registration_token_hash = Some(sha256_b64(registration_access_token.as_bytes()));
    let event = actor.record(
        AdminAction::ClientCreated,
        Some(&organisation.organisation_id),
        &record.client_id,
        serde_json::json!({ "client_name": record.client_name, "registered_by": record.registered_by }),
        now,
    );
    if !db.insert_client(&record, spend_token.map(|t| (t, now)), &event).await? {
        return Err(ClientError::InvalidToken("the initial access token was already used".into()));
    }
    Ok(Registered {
        client: Client::from_record(record)?,
        client_secret,
        registration_access_token: Some(registration_access_token),
    })
}

/// Replaces a client's metadata with `new` (RFC 7592 §2.2: fields left out
/// return to their defaults), as of `expected_version` when given. The
/// organisation stays unless `new` names another; entitlements are what
/// `new` says — callers keep them (`Client::keep_administrator_settings`) unless an administrator
/// changes them. A client switching to a secret-based method gets a secret.
/// The client's sector cannot change (see `keep_sector`); referenced
/// documents are fetched again when what they must agree with changed.
pub async fn update(
    db: &Db,
    fetcher: &Fetcher,
    client_id: &str,
    mut new: NewClient,
    expected_version: Option<i64>,
    actor: &Actor,
    now: UnixTime,
) -> Result<Registered, ClientError> {
    let current =
        find(db, client_id).await?.ok_or_else(|| ClientError::NotFound(format!("no client {client_id:?}")))?;
    new.origin = current.registered_by;
    let valid = validate(&new)?;
    keep_sector(&current, &valid.sector)?;
    documents::check_references(&new, Some(&current), fetcher).await?;
    let organisation_id = match new.organisation_id.as_str() {
        "" => current.organisation_id.clone().ok_or_else(|| {
            ClientError::InvalidMetadata("this client belongs to no organisation yet: name one".into())
        })?,
        wanted => admin::organisation_for(db, wanted).await?.organisation_id,
    };
    let auth_method = valid.auth_method;
    let mut record = record_of(&new, valid, organisation_id, current.client_id.clone(), now);
    record.version = expected_version.unwrap_or(current.version);
    let (secret, client_secret) = match (auth_method.uses_secret(), current.secret_hash.is_some()) {
        (true, true) => (SecretChange::Keep, None),
        (true, false) => {
            let secret = random::token::<32>()?;
            (SecretChange::Replace(sha256_b64(secret.as_bytes())), Some(secret))
        }
        (false, true) => (SecretChange::Clear, None),
        (false, false) => (SecretChange::Keep, None),
    };
    let mut detail = serde_json::json!({ "from_version": record.version });
    // The administrators' log says who exempted a client from PKCE, and why.
    if record.pkce_exempt_reason != current.pkce_exempt_reason {
        detail["pkce_exempt"] = serde_json::json!(record.pkce_exempt_reason.is_some());
        detail["pkce_exempt_reason"] = serde_json::json!(record.pkce_exempt_reason);
    }
    let event = actor.record(AdminAction::ClientUpdated, record.organisation_id.as_deref(), client_id, detail, now);
    if !db.update_client(&record, &secret, &event).await? {
        return Err(ClientError::Conflict(format!(
            "client {client_id:?} was changed by someone else meanwhile: read it again and retry"
        )));
    }
    let client = find(db, client_id).await?.ok_or_else(|| ClientError::NotFound(format!("no client {client_id:?}")))?;
    Ok(Registered { client, client_secret, registration_access_token: None })
}

/// A pairwise `sub` is derived from the sector: moving a client to another
/// sector would silently give every citizen a new identifier there, and the
/// service would lose track of its users. Refused, with the ways out. A
/// client without a sector yet (no redirect URI) may gain one.
fn keep_sector(current: &Client, sector: &str) -> Result<(), ClientError> {
    if current.sector.is_empty() || current.sector == sector {
        return Ok(());
    }
    let old = &current.sector;
    Err(ClientError::InvalidMetadata(format!(
        "this change would move the client from sector {old:?} to {sector:?}, which changes the sub of every citizen \
         it knows: keep the redirect URIs on {old:?}, or keep the sector with a sector_identifier_uri on {old:?} \
         listing the new redirect URIs, or register a new client"
    )))
}

/// Changes some fields of a client: reads it, applies `change`, writes it
/// back if nobody else wrote meanwhile, else starts again (a few times).
pub async fn modify(
    db: &Db,
    fetcher: &Fetcher,
    client_id: &str,
    actor: &Actor,
    now: UnixTime,
    change: impl Fn(&mut NewClient),
) -> Result<Registered, ClientError> {
    const MAX_ATTEMPTS: u32 = 32;
    let mut attempts = 0;
    loop {
        let current =
            find(db, client_id).await?.ok_or_else(|| ClientError::NotFound(format!("no client {client_id:?}")))?;
        let mut new = current.to_new();
        change(&mut new);
        match update(db, fetcher, client_id, new, Some(current.version), actor, now).await {
            // Each round, one of the competing writers wins: with n
            // writers at most n rounds are needed.
            Err(ClientError::Conflict(_)) if attempts < MAX_ATTEMPTS => {
                attempts += 1;
                tokio::task::yield_now().await;
            }
            other => return other,
        }
    }
}

/// Issues a new 256-bit secret; the current one stays valid for `overlap`
/// seconds (the client's own overlap when `None`).
pub async fn rotate_secret(
    db: &Db,
    client_id: &str,
    overlap: Option<i64>,
    actor: &Actor,
    now: UnixTime,
) -> Result<(Client, String), ClientError> {
    let client = find(db, client_id).await?.ok_or_else(|| ClientError::NotFound(format!("no client {client_id:?}")))?;
    if !client.token_endpoint_auth_method.uses_secret() {
        return Err(ClientError::InvalidMetadata(format!(
            "client {client_id:?} authenticates with {}: it has no secret to rotate",
            client.token_endpoint_auth_method.as_str()
        )));
    }
    let overlap = overlap.unwrap_or(client.secret_overlap);
    if !(0..=MAX_SECRET_OVERLAP).contains(&overlap) {
        return Err(ClientError::InvalidMetadata("overlap must be between 0 and 30 days".into()));
    }
    let secret = random::token::<32>()?;
    let event = actor.record(
        AdminAction::ClientSecretRotated,
        client.organisation_id.as_deref(),
        client_id,
        serde_json::json!({ "previous_secret_valid_until": now + overlap }),
        now,
    );
    if !db.rotate_client_secret(client_id, &sha256_b64(secret.as_bytes()), now + overlap, &event).await? {
        return Err(ClientError::NotFound(format!("no confidential client {client_id:?}")));
    }
    let client = find(db, client_id).await?.ok_or_else(|| ClientError::NotFound(format!("no client {client_id:?}")))?;
    Ok((client, secret))
}

/// Deletes a client with its consents, grants and refresh tokens.
pub async fn delete(db: &Db, client: &Client, actor: &Actor, now: UnixTime) -> Result<(), ClientError> {
    let event = actor.record(
        AdminAction::ClientDeleted,
        client.organisation_id.as_deref(),
        &client.client_id,
        serde_json::json!({ "client_name": client.client_name }),
        now,
    );
    if !db.delete_client(&client.client_id, &event).await? {
        return Err(ClientError::NotFound(format!("no client {:?}", client.client_id)));
    }
    Ok(())
}

pub async fn find(db: &Db, client_id: &str) -> Result<Option<Client>, StoreError> {
    db.client(client_id).await?.map(Client::from_record).transpose()
}

/// Every client, or those of one organisation.
pub async fn list(db: &Db, organisation_id: Option<&str>) -> Result<Vec<Client>, StoreError> {
    let records = match organisation_id {
        Some(org) => db.clients_of_organisation(org).await?,
        None => db.clients().await?,
    };
    records.into_iter().map(Client::from_record).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        assert!(check_redirect_uri("https://mairie.example.fr/callback").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:9000/cb").is_ok());
        assert!(check_redirect_uri("http://localhost/cb").is_ok());
        assert!(check_redirect_uri("http://[::1]:8000/cb").is_ok());
        for bad in [
            "http://mairie.example.fr/cb",
            "https://mairie.example.fr/cb#frag",
            "https://*.example.fr/cb",
            "https://user:pw@mairie.example.fr/cb",
            "/relative",
            "javascript:alert(1)",
            "custom:/cb",
        ] {
            assert!(matches!(check_redirect_uri(bad), Err(ClientError::InvalidRedirectUri(_))), "{bad}");
        }
    }

    #[test]
    fn loopback_redirect_uris_match_any_port() {
        let yes = [
            ("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb"),
            ("http://127.0.0.1:8080/cb?x=1", "http://127.0.0.1:9/cb?x=1"),
            ("http://[::1]/cb", "http://[::1]:61000/cb"),
            ("http://127.0.0.1", "http://127.0.0.1:1234"),
            ("https://mairie.example.fr/cb", "https://mairie.example.fr/cb"),
        ];
        for (registered, presented) in yes {
            assert!(redirect_uri_matches(registered, presented), "{registered} {presented}");
        }
        let no = [
            ("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb2"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb?x=1"),
            ("http://127.0.0.1/cb", "http://[::1]:51004/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.10:51004/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1.evil.example/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:123456/cb"),
            ("http://127.0.0.1/cb", "https://127.0.0.1:443/cb"),
            ("http://localhost/cb", "http://localhost:8080/cb"),
            ("https://mairie.example.fr/cb", "https://mairie.example.fr:8443/cb"),
        ];
        for (registered, presented) in no {
            assert!(!redirect_uri_matches(registered, presented), "{registered} {presented}");
        }
    }

    #[test]
    fn auth_methods_round_trip() {
        for m in AuthMethod::ALL {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(AuthMethod::parse("client_secret_jwt"), None);
    }
}
