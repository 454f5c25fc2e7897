//! Token introspection (RFC 7662) for confidential clients. A client sees
//! only tokens issued to itself: anything else is `{"active": false}`, so
//! pairwise subjects never leak across services.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::OAuthError;
use super::grant::subject;
use super::{bearer, client_auth};
use crate::app::AppState;
use crate::keys::sha256_b64;

pub async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let params = super::token::form(&headers, &body)?;
        let client = client_auth::authenticate(&state, &headers, &params).await?;
        if !client.is_confidential() {
            return Err(OAuthError::invalid_client("introspection is for confidential clients"));
        }
        let token = params.require("token")?;
        let inactive = json!({ "active": false });
        if let Ok(claims) = bearer::validate(&state, token).await {
            if claims.client_id != client.client_id {
                return Ok(inactive);
            }
            if let Some(gid) = &claims.gid
                && state.db.grant(gid).await?.is_none_or(|g| g.revoked_at.is_some())
            {
                return Ok(inactive);
            }
            return Ok(json!({
                "active": true,
                "token_type": "Bearer",
                "scope": claims.scope,
                "client_id": claims.client_id,
                "sub": claims.sub,
                "aud": claims.aud,
                "iss": claims.iss,
                "exp": claims.exp,
                "iat": claims.iat,
                "jti": claims.jti,
                "acr": claims.acr,
                "auth_time": claims.auth_time,
            }));
        }
        let now = state.clock.now();
        match state.db.refresh_token(&sha256_b64(token.as_bytes())).await? {
            Some(t)
                if t.client_id == client.client_id
                    && t.revoked_at.is_none()
                    && t.rotated_at.is_none()
                    && t.expires_at > now
                    && t.family_expires_at > now =>
            {
                Ok(json!({
                    "active": true,
                    "scope": t.scope,
                    "client_id": t.client_id,
                    "sub": subject(&state, &client, &t.citizen_id).await?,
                    "iss": state.config.issuer,
                    "exp": t.expires_at,
                    "iat": t.created_at,
                }))
            }
            _ => Ok(inactive),
        }
    }
    .await;
    match result {
        Ok(body) => {
            let mut response = Json(body).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => error.into_response(),
    }
}
