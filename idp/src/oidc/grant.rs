//! What a citizen granted a client in one authorization, and the tokens
//! minted from it: JWT access tokens (RFC 9068), ID tokens (OIDC Core §2),
//! opaque rotating refresh tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

use super::error::OAuthError;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::clients::{Client, GRANT_REFRESH_TOKEN, SubjectType};
use crate::clock::UnixTime;
use crate::keys::{Alg, sha256_b64};
use crate::random;
use crate::scope::Scope;
use crate::store::{CitizenRecord, GrantRecord, RefreshTokenRecord, StoreError};

/// One authorization: carried by the code, then by each refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Links every token minted from this authorization (for revocation).
    pub grant_id: String,
    pub client_id: String,
    pub citizen_id: String,
    pub sid: String,
    pub scope: Scope,
    /// The OIDC `claims` request (§5.5), or null.
    pub claims: serde_json::Value,
    pub auth_time: UnixTime,
    pub acr: String,
    pub amr: Vec<String>,
}

impl Grant {
    pub fn to_record(&self, now: UnixTime) -> GrantRecord {
        GrantRecord {
            grant_id: self.grant_id.clone(),
            client_id: self.client_id.clone(),
            citizen_id: self.citizen_id.clone(),
            sid: self.sid.clone(),
            scope: self.scope.clone(),
            claims: self.claims.to_string(),
            auth_time: self.auth_time,
            acr: self.acr.clone(),
            amr: serde_json::to_string(&self.amr).unwrap_or_else(|_| "[]".into()),
            created_at: now,
            revoked_at: None,
        }
    }

    pub fn from_record(r: &GrantRecord) -> Self {
        Grant {
            grant_id: r.grant_id.clone(),
            client_id: r.client_id.clone(),
            citizen_id: r.citizen_id.clone(),
            sid: r.sid.clone(),
            scope: r.scope.clone(),
            claims: serde_json::from_str(&r.claims).unwrap_or(serde_json::Value::Null),
            auth_time: r.auth_time,
            acr: r.acr.clone(),
            amr: serde_json::from_str(&r.amr).unwrap_or_default(),
        }
    }

    /// The grant a refresh token carries on, for `scope` (at most the granted one).
    pub fn from_refresh(r: &RefreshTokenRecord, scope: Scope) -> Self {
        Grant {
            grant_id: r.grant_id.clone(),
            client_id: r.client_id.clone(),
            citizen_id: r.citizen_id.clone(),
            sid: r.sid.clone(),
            scope,
            claims: serde_json::from_str(&r.claims).unwrap_or(serde_json::Value::Null),
            auth_time: r.auth_time,
            acr: r.acr.clone(),
            amr: serde_json::from_str(&r.amr).unwrap_or_default(),
        }
    }
}

/// The token endpoint's success body (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: Scope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Claims of our JWT access tokens (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub iat: UnixTime,
    pub exp: UnixTime,
    pub jti: String,
    pub scope: Scope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Grant id, so revoking a grant revokes its access tokens at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
}

/// The `sub` a client sees for a citizen whose record is at hand: the
/// citizen identifier for entitled clients, else the pairwise value.
pub fn subject_of(state: &AppState, client: &Client, citizen: &CitizenRecord) -> String {
    match client.subject_type {
        SubjectType::Public => citizen.identifier.clone(),
        SubjectType::Pairwise => state.keys.pairwise_subject(&client.sector, &citizen.id),
    }
}

/// The `sub` a client sees for a citizen id: pairwise subjects need no
/// read; public ones read the identifier. A deleted account has none.
pub async fn subject(state: &AppState, client: &Client, citizen_id: &str) -> Result<String, OAuthError> {
    subject_for(state, client, citizen_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the citizen's account no longer exists"))
}

/// [`subject`], `None` for a public subject of a deleted account.
pub async fn subject_for(state: &AppState, client: &Client, citizen_id: &str) -> Result<Option<String>, StoreError> {
    match client.subject_type {
        SubjectType::Pairwise => Ok(Some(state.keys.pairwise_subject(&client.sector, citizen_id))),
        SubjectType::Public => Ok(state.db.citizen_by_id(citizen_id).await?.map(|citizen| citizen.identifier)),
    }
}

/// OIDC Core §3.1.3.6: left half of the hash of the access token, with the
/// hash of the ID token's algorithm (SHA-512 for Ed25519).
fn at_hash(alg: Alg, access_token: &str) -> String {
    let digest = match alg {
        Alg::EdDSA => ring::digest::digest(&ring::digest::SHA512, access_token.as_bytes()),
        _ => ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes()),
    };
    let bytes = digest.as_ref();
    B64.encode(&bytes[..bytes.len() / 2])
}

/// The audit event of a release of claims to a service (DESIGN.md
/// "Transparency": who received what, when, at which assurance level).
pub fn release_event(
    client: &Client,
    grant: &Grant,
    target: super::claims::Target,
    claims: &[&str],
    now: UnixTime,
) -> crate::store::NewAuditEvent {
    let released = AuditEvent::ClaimsReleased {
        client_id: client.client_id.clone(),
        client_name: client.client_name.clone(),
        to: target.member().to_owned(),
        scope: grant.scope.as_list().to_vec(),
        claims: claims.iter().map(|c| (*c).to_owned()).collect(),
        acr: grant.acr.clone(),
    };
    crate::store::NewAuditEvent::new(&grant.citizen_id, released, now)
}

/// Tokens minted but not yet answered: the caller stores the refresh token
/// record (insert, or rotate atomically with the token it replaces).
#[derive(Debug)]
pub struct Minted {
    pub response: TokenResponse,
    pub refresh_record: Option<RefreshTokenRecord>,
}

/// What goes into an ID token beyond the standard claims.
#[derive(Debug, Default)]
pub struct IdTokenExtras<'a> {
    pub nonce: Option<&'a str>,
    /// Identity claims the `claims` request asked for in the ID token.
    pub claims: Vec<(&'static str, serde_json::Value)>,
}

/// Signs a JWT access token (RFC 9068) for `client`: under a citizen's
/// `grant` (`sub` is then their subject for the client), or, without one,
/// for the client itself (`client_credentials`, `sub` its client id).
pub fn mint_access_token(
    state: &AppState,
    client: &Client,
    sub: &str,
    scope: &Scope,
    grant: Option<&Grant>,
) -> Result<String, OAuthError> {
    let now = state.clock.now();
    let claims = AccessClaims {
        iss: state.config.issuer.clone(),
        sub: sub.to_owned(),
        aud: state.config.issuer.clone(),
        client_id: client.client_id.clone(),
        iat: now,
        exp: now + state.config.lifetimes.access_token,
        jti: random::id(),
        scope: scope.clone(),
        auth_time: grant.map(|g| g.auth_time),
        acr: grant.map(|g| g.acr.clone()),
        amr: grant.map(|g| g.amr.clone()).unwrap_or_default(),
        sid: grant.map(|g| g.sid.clone()),
        gid: grant.map(|g| g.grant_id.clone()),
    };
    Ok(state.keys.sign(Alg::ES256, "at+jwt", &claims)?)
}

/// Mints the access token, the ID token (when `id_token` is `Some`: the code
/// grant), and a refresh token when the client may use one, for subject
/// `sub` ([`subject`]). `refresh_family` continues an existing family.
pub fn mint(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    sub: &str,
    id_token: Option<IdTokenExtras<'_>>,
    refresh_family: Option<(&str, UnixTime)>,
) -> Result<Minted, OAuthError> {
    let now = state.clock.now();
    let lifetimes = state.config.lifetimes;
    let access_token = mint_access_token(state, client, sub, &grant.scope, Some(grant))?;

    let id_token = match id_token {
        Some(extras) if grant.scope.contains("openid") => {
            let alg = client.id_token_signed_response_alg;
            let mut claims = serde_json::json!({
                "iss": state.config.issuer,
                "sub": sub,
                "aud": client.client_id,
                "azp": client.client_id,
                "exp": now + lifetimes.id_token,
                "iat": now,
                "auth_time": grant.auth_time,
                "acr": grant.acr,
                "amr": grant.amr,
                "sid": grant.sid,
                "at_hash": at_hash(alg, &access_token),
            });
            if let Some(map) = claims.as_object_mut() {
                if let Some(nonce) = extras.nonce {
                    map.insert("nonce".into(), nonce.into());
                }
                for (name, value) in extras.claims {
                    map.insert(name.into(), value);
                }
            }
            Some(state.keys.sign(alg, "JWT", &claims)?)
        }
        _ => None,
    };

    let continues_family = refresh_family.is_some();
    let refresh_token =
        if client.allows_grant(GRANT_REFRESH_TOKEN) && (grant.scope.contains("openid") || continues_family) {
            let token = random::token::<32>()?;
            let (family_id, family_expires_at) = match refresh_family {
                Some((family, expires)) => (family.to_owned(), expires),
                None => (random::id(), now + lifetimes.refresh_token_absolute),
            };
            let record = RefreshTokenRecord {
                token_hash: sha256_b64(token.as_bytes()),
                family_id,
                grant_id: grant.grant_id.clone(),
                client_id: client.client_id.clone(),
                citizen_id: grant.citizen_id.clone(),
                sid: grant.sid.clone(),
                scope: grant.scope.clone(),
                claims: grant.claims.to_string(),
                auth_time: grant.auth_time,
                acr: grant.acr.clone(),
                amr: serde_json::to_string(&grant.amr).unwrap_or_else(|_| "[]".into()),
                offline: grant.scope.contains("offline_access"),
                created_at: now,
                expires_at: (now + lifetimes.refresh_token_idle).min(family_expires_at),
                family_expires_at,
                rotated_at: None,
                revoked_at: None,
            };
            Some((token, record))
        } else {
            None
        };
    let (refresh_token, refresh_record) = match refresh_token {
        Some((token, record)) => (Some(token), Some(record)),
        None => (None, None),
    };
    Ok(Minted {
        response: TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: lifetimes.access_token,
            scope: grant.scope.clone(),
            id_token,
            refresh_token,
        },
        refresh_record,
    })
}
