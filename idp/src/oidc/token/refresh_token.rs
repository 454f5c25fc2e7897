//! `grant_type=refresh_token` (RFC 6749 §6): rotated on every use; a spent
//! token presented again revokes its whole family (OAuth 2.0 Security BCP
//! §4.14.2); idle and absolute lifetimes.

use crate::app::AppState;
use crate::clients::Client;
use crate::keys::sha256_b64;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::grant::{Grant, TokenResponse, mint, subject};
use crate::oidc::params::Params;
use crate::scope::Scope;
use crate::store::Rotation;

pub async fn exchange(state: &AppState, client: &Client, params: &Params) -> Result<TokenResponse, OAuthError> {
    let presented = params.require("refresh_token")?;
    let hash = sha256_b64(presented.as_bytes());
    let now = state.clock.now();
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let Some(current) = state.db.refresh_token(&hash).await? else { return Err(invalid()) };
    if current.client_id != client.client_id {
        return Err(invalid());
    }
    if current.revoked_at.is_some() || current.expires_at <= now || current.family_expires_at <= now {
        return Err(invalid());
    }
    // Without offline_access a refresh token lives only as long as the login.
    if !current.offline && !state.db.login_session_active(&current.sid, &current.citizen_id, now).await? {
        return Err(OAuthError::invalid_grant("the sign-in this token belongs to has ended"));
    }
    let scope = match params.get("scope") {
        None => current.scope.clone(),
        Some(asked) => {
            let asked = Scope::parse(asked);
            if !asked.is_subset_of(&current.scope) {
                return Err(OAuthError::new(ErrorCode::InvalidScope, "a refresh cannot widen the granted scope"));
            }
            asked
        }
    };
    let grant = Grant::from_refresh(&current, scope);
    // No new ID token on refresh (OIDC Core §12.2 makes it optional).
    let sub = subject(state, client, &grant.citizen_id).await?;
    let mut minted = mint(state, client, &grant, &sub, None, Some((&current.family_id, current.family_expires_at)))?;
    let Some(mut next) = minted.refresh_record.take() else {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "this client may not use refresh tokens"));
    };
    // Keep the granted scope on the family even when this access token is narrower.
    next.scope = current.scope.clone();
    next.offline = current.offline;
    match state.db.rotate_refresh_token(&hash, &next, now).await? {
        Rotation::Rotated(_) => Ok(minted.response),
        Rotation::Unknown => Err(invalid()),
        Rotation::Reused(old) => {
            tracing::warn!(client_id = %client.client_id, "refresh token reused");
            crate::endings::refresh_token_reused(state, &old.grant_id).await?;
            Err(invalid())
        }
    }
}
