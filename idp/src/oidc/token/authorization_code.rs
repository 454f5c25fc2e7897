//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6,
//! OIDC Core §3.1.3.2): the code is taken atomically — of concurrent
//! redemptions exactly one succeeds — and a replayed code revokes what the
//! first redemption issued (RFC 6749 §4.1.2).

use subtle::ConstantTimeEq as _;

use crate::app::AppState;
use crate::citizen::identity::Identity;
use crate::clients::Client;
use crate::clients::SubjectType;
use crate::endings::{self, cache_keys};
use crate::keys::sha256_b64;
use crate::oidc::authorize::CodeRecord;
use crate::oidc::claims::{Target, names, released};
use crate::oidc::error::OAuthError;
use crate::oidc::grant::{IdTokenExtras, TokenResponse, mint, release_event, subject_of};
use crate::oidc::params::Params;

pub async fn exchange(state: &AppState, client: &Client, params: &Params) -> Result<TokenResponse, OAuthError> {
    let code = params.require("code")?;
    let redirect_uri = params.require("redirect_uri")?;
    let verifier = params.get("code_verifier");
    if verifier.is_some_and(|v| {
        !(43..=128).contains(&v.len())
            || !v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    }) {
        return Err(OAuthError::invalid_request(
            "code_verifier must be 43 to 128 unreserved characters (RFC 7636 §4.1)",
        ));
    }
    let Some(raw) = state.cache.take(&cache_keys::code(code)).await? else {
        if let Some(grant_id) = state.cache.get(&cache_keys::used_code(code)).await? {
            let grant_id = String::from_utf8_lossy(&grant_id).into_owned();
            // Revoke what the first redemption issued. A presentation racing
            // that redemption (its grant not stored yet) is only refused, so
            // that of simultaneous redemptions exactly one succeeds.
            if state.db.grant(&grant_id).await?.is_some() {
                tracing::warn!(client_id = %client.client_id, "authorization code replayed");
                endings::code_replayed(state, &grant_id).await?;
            }
        }
        return Err(OAuthError::invalid_grant("the code is invalid, expired or already used"));
    };
    let record: CodeRecord = serde_json::from_slice(&raw).map_err(OAuthError::server)?;

    if record.grant.client_id != client.client_id {
        // A code stolen from another client (code injection).
        endings::code_replayed(state, &record.grant.grant_id).await?;
        return Err(OAuthError::invalid_grant("the code was not issued to this client"));
    }
    if record.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    match (&record.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            let computed = sha256_b64(verifier.as_bytes());
            if !bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required (PKCE)")),
        // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a downgrade.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant("code_verifier sent for a code issued without code_challenge"));
        }
        // Only a client exempt from PKCE (checked again: it may have been withdrawn since).
        (None, None) if client.pkce_exempt_reason.is_some() => {}
        (None, None) => return Err(OAuthError::invalid_grant("code_verifier is required (PKCE)")),
    }
    let mut identity = Identity::load(&state.db, &record.grant.citizen_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the citizen's account no longer exists"))?;
    if crate::oidc::verified_claims::wanted(&record.grant.claims) {
        identity.load_verifications(&state.db).await?;
    }
    let entitled = client.subject_type == SubjectType::Public;
    let id_token_claims = released(&record.grant, &identity, entitled, Target::IdToken);
    // What the service receives now (ID token) and may fetch at UserInfo
    // under this grant: one audit event, written with the grant.
    let mut claim_names = names(&id_token_claims);
    for name in names(&released(&record.grant, &identity, entitled, Target::UserInfo)) {
        if !claim_names.contains(&name) {
            claim_names.push(name);
        }
    }
    let now = state.clock.now();
    let event = release_event(client, &record.grant, Target::IdToken, &claim_names, now);
    let sub = subject_of(state, client, &identity.citizen);
    let extras = IdTokenExtras { nonce: record.nonce.as_deref(), claims: id_token_claims };
    let minted = mint(state, client, &record.grant, &sub, Some(extras), None)?;
    if !state.db.login_session_active(&record.grant.sid, &record.grant.citizen_id, now).await? {
        return Err(OAuthError::invalid_grant("the sign-in this code belongs to has ended"));
    }
    state.db.insert_grant(&record.grant.to_record(now), minted.refresh_record.as_ref(), Some(&event)).await?;
    tracing::info!(client_id = %client.client_id, "code redeemed");
    Ok(minted.response)
}
