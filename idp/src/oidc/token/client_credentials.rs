//! `grant_type=client_credentials` (RFC 6749 §4.4): service-to-service calls,
//! no citizen, so no ID token and no refresh token.

use crate::app::AppState;
use crate::clients::Client;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::grant::{TokenResponse, mint_access_token};
use crate::oidc::params::Params;
use crate::scope::Scope;

/// Every scope the provider offers is about a citizen: a service acting for
/// itself gets only the scopes outside them it was registered for.
const CITIZEN_SCOPES: &[&str] = crate::oidc::SCOPES;

pub async fn exchange(state: &AppState, client: &Client, params: &Params) -> Result<TokenResponse, OAuthError> {
    if !client.is_confidential() {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "client_credentials needs a confidential client"));
    }
    let service_scopes: Scope = client.scope.iter().filter(|s| !CITIZEN_SCOPES.contains(s)).collect();
    let scope = match params.get("scope") {
        None => service_scopes,
        Some(asked) => {
            let asked = Scope::parse(asked);
            if !asked.is_subset_of(&service_scopes) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "a requested scope is not registered for service calls",
                ));
            }
            asked
        }
    };
    let access_token = mint_access_token(state, client, &client.client_id, &scope, None)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.config.lifetimes.access_token,
        scope,
        id_token: None,
        refresh_token: None,
    })
}
