//! The token endpoint (RFC 6749 §3.2, §5): authenticate the client, then a
//! visible dispatch on `grant_type`.

mod authorization_code;
mod client_credentials;
mod refresh_token;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::client_auth;
use super::error::{ErrorCode, OAuthError};
use super::grant::TokenResponse;
use super::params::Params;
use crate::app::AppState;
use crate::web::rate_limit::{self, Limited, Scope, TooManyRequests};

/// Reads a form body, refusing other content types (RFC 6749 §3.2).
pub fn form(headers: &HeaderMap, body: &Bytes) -> Result<Params, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    Params::parse(body)
}

/// Why a token request got no tokens.
enum Refused {
    OAuth(OAuthError),
    /// The authenticated client's budget is spent.
    Limited(TooManyRequests),
}

impl From<OAuthError> for Refused {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match exchange(&state, &headers, &body).await {
        Err(Refused::Limited(refused)) => refused.into_response(),
        Err(Refused::OAuth(error)) => {
            if error.code != ErrorCode::ServerError {
                tracing::info!(error = error.code.as_str(), description = %error.description, "token request refused");
            }
            error.into_response()
        }
        Ok(tokens) => {
            let mut response = Json(tokens).into_response();
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
    }
}

async fn exchange(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Result<TokenResponse, Refused> {
    let params = form(headers, body)?;
    let grant_type = params.require("grant_type")?.to_owned();
    let client = client_auth::authenticate(state, headers, &params).await?;
    // Only now the client's budget: a `client_id` alone is public.
    let per_client = state.config.rate_limits.per_client;
    rate_limit::spend(state, Limited::Token, Scope::Client, &client.client_id, per_client)
        .await
        .map_err(Refused::Limited)?;
    if !client.allows_grant(&grant_type) && crate::clients::GRANT_TYPES.contains(&grant_type.as_str()) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client is not registered for {grant_type}"),
        )
        .into());
    }
    let tokens = match grant_type.as_str() {
        "authorization_code" => authorization_code::exchange(state, &client, &params).await,
        "refresh_token" => refresh_token::exchange(state, &client, &params).await,
        "client_credentials" => client_credentials::exchange(state, &client, &params).await,
        _ => Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "grant_type is not supported")),
    };
    Ok(tokens?)
}
