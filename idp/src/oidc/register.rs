//! Dynamic client registration (RFC 7591 §3, OIDC Registration §3) behind
//! an initial access token bound to one organisation, and client
//! management with the registration access token (RFC 7592 §2).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::bearer;
use super::error::OAuthError;
use super::paths;
use crate::app::AppState;
use crate::clients::{self, Actor, Client, NewClient};
use crate::store::TokenKind;

/// The bearer token of a management request; a missing one is answered
/// with a bare challenge (RFC 6750 §3.1).
fn bearer_token(headers: &HeaderMap, what: &'static str) -> Result<String, OAuthError> {
    match bearer::extract(headers, None)? {
        Some(token) if !token.is_empty() => Ok(token),
        _ => Err(OAuthError::invalid_token(what)),
    }
}

/// RFC 7591 §3.1: the request is a JSON document.
fn require_json(headers: &HeaderMap) -> Result<(), OAuthError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(OAuthError::invalid_request("the request body must be JSON, sent with Content-Type: application/json"))
    }
}

/// The client's metadata as RFC 7591 §3.2.1 names it, with the
/// management URI and, when given, credentials that exist only now.
pub fn client_information(
    state: &AppState,
    client: &Client,
    client_secret: Option<&str>,
    registration_access_token: Option<&str>,
) -> Value {
    let mut value = serde_json::to_value(client).unwrap_or_else(|_| json!({}));
    if let Some(map) = value.as_object_mut() {
        for internal in [
            "sector",
            "skip_consent",
            "pkce_exempt_reason",
            "secret_overlap",
            "registered_by",
            "created_at",
            "updated_at",
            "version",
        ] {
            map.remove(internal);
        }
        map.insert("client_id_issued_at".into(), json!(client.created_at));
        if let Some(secret) = client_secret {
            map.insert("client_secret".into(), json!(secret));
        }
        if client.token_endpoint_auth_method.uses_secret() {
            // Secrets do not expire (rotation is explicit, with an overlap).
            map.insert("client_secret_expires_at".into(), json!(0));
        }
        if let Some(token) = registration_access_token {
            map.insert("registration_access_token".into(), json!(token));
        }
        map.insert(
            "registration_client_uri".into(),
            json!(state.config.url(&paths::REGISTRATION.replace("{client_id}", &client.client_id))),
        );
    }
    value
}

fn no_store(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /register` (RFC 7591 §3.1): authorised by an initial access
/// token, which fixes the organisation; the registrant grants itself no
/// entitlement. A single-use token is spent in the registration's transaction.
pub async fn register(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, OAuthError> {
    let presented =
        bearer_token(&headers, "registration needs an initial access token (Authorization: Bearer <token>)")?;
    let now = state.clock.now();
    let token = clients::admin::verify_token(&state.db, TokenKind::InitialAccess, &presented, now).await?;
    require_json(&headers)?;
    let mut new = NewClient::from_registration_json(&body)?;
    new.organisation_id = token.organisation_id.clone().unwrap_or_default();
    let spend = token.single_use.then_some(token.token_id.as_str());
    let registered =
        clients::register(&state.db, &state.fetcher, new, &Actor::initial_access_token(&token.token_id), spend, now)
            .await?;
    tracing::info!(client_id = %registered.client.client_id, token_id = %token.token_id, "client registered");
    let body = client_information(
        &state,
        &registered.client,
        registered.client_secret.as_deref(),
        registered.registration_access_token.as_deref(),
    );
    Ok(no_store(StatusCode::CREATED, body))
}

/// The client a registration access token manages. Unknown client and
/// wrong token look the same (RFC 7592 §3: 401).
async fn managed_client(
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<(Client, String), OAuthError> {
    let presented =
        bearer_token(headers, "client management needs the registration access token (Authorization: Bearer <token>)")?;
    let client = clients::find(&state.db, client_id).await?;
    match client {
        Some(client) if client.registration_token_matches(&presented) => Ok((client, presented)),
        _ => Err(OAuthError::invalid_token("the registration access token is not valid for this client")),
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
pub async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let (client, token) = managed_client(&state, &headers, &client_id).await?;
    Ok(no_store(StatusCode::OK, client_information(&state, &client, None, Some(&token))))
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2): the body replaces the
/// metadata as a whole; organisation and entitlements stay as an
/// administrator set them. Written only if nobody changed the client since
/// it was read here.
pub async fn update(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (client, token) = managed_client(&state, &headers, &client_id).await?;
    require_json(&headers)?;
    let fields: Value = serde_json::from_slice(&body).map_err(|e| {
        OAuthError::from(clients::ClientError::InvalidMetadata(format!("the request body is not valid JSON: {e}")))
    })?;
    if fields.get("client_id").and_then(Value::as_str) != Some(client.client_id.as_str()) {
        return Err(clients::ClientError::InvalidMetadata(
            "client_id must be present and be this client's (RFC 7592 §2.2)".into(),
        )
        .into());
    }
    if let Some(secret) = fields.get("client_secret") {
        let matches = secret.as_str().is_some_and(|s| client.secret_matches(s, state.clock.now()));
        if !matches {
            return Err(clients::ClientError::InvalidMetadata(
                "client_secret, when sent, must be the client's current secret".into(),
            )
            .into());
        }
    }
    let mut new = NewClient::from_registration_json(&body)?;
    client.keep_administrator_settings(&mut new);
    let now = state.clock.now();
    let updated = clients::update(
        &state.db,
        &state.fetcher,
        &client_id,
        new,
        Some(client.version),
        &Actor::registration(&client_id),
        now,
    )
    .await?;
    let body = client_information(&state, &updated.client, updated.client_secret.as_deref(), Some(&token));
    Ok(no_store(StatusCode::OK, body))
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): 204, and the client's
/// consents, grants and refresh tokens are gone.
pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let (client, _) = managed_client(&state, &headers, &client_id).await?;
    clients::delete(&state.db, &client, &Actor::registration(&client_id), state.clock.now()).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
