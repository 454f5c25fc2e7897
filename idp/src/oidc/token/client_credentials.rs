//! `grant_type=client_credentials` (RFC 6749 §4.4): service-to-service calls,
//! no citizen, so no ID token and no refresh token.

use crate::app::AppState;
use crate::clients::Client;
use crate::keys::Alg;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::grant::{AccessClaims, TokenResponse};
use crate::oidc::params::Params;

/// Every scope the provider offers is about a citizen: a service acting for
/// itself gets only the scopes outside them it was registered for.
const CITIZEN_SCOPES: &[&str] = crate::oidc::SCOPES;

pub async fn exchange(state: &AppState, client: &Client, params: &Params) -> Result<TokenResponse, OAuthError> {
    if !client.is_confidential() {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "client_credentials needs a confidential client"));
    }
    let service_scopes: Vec<&String> = client.scope.iter().filter(|s| !CITIZEN_SCOPES.contains(&s.as_str())).collect();
    let scope: Vec<String> = match params.get("scope") {
        None => service_scopes.iter().map(|s| (*s).clone()).collect(),
        Some(asked) => {
            let asked = crate::oidc::grant::scope_list(asked);
            if asked.iter().any(|s| !service_scopes.contains(&s)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "a requested scope is not registered for service calls",
                ));
            }
            asked
        }
    };
    let now = state.clock.now();
    let lifetime = state.config.lifetimes.access_token;
    let claims = AccessClaims {
        iss: state.config.issuer.clone(),
        sub: client.client_id.clone(),
        aud: state.config.issuer.clone(),
        client_id: client.client_id.clone(),
        iat: now,
        exp: now + lifetime,
        jti: crate::random::id(),
        scope: scope.join(" "),
        auth_time: None,
        acr: None,
        amr: Vec::new(),
        sid: None,
        gid: None,
    };
    let access_token = state.keys.sign(Alg::ES256, "at+jwt", &claims)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: lifetime,
        scope: scope.join(" "),
        id_token: None,
        refresh_token: None,
    })
}
