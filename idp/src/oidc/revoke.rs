//! Token revocation (RFC 7009): refresh tokens revoke their family and
//! grant; access tokens are marked revoked until they would have expired,
//! in the shared cache, so every replica refuses them at once. Unknown or
//! foreign tokens get the same 200 (§2.2).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::OAuthError;
use super::{bearer, client_auth};
use crate::app::AppState;
use crate::endings;
use crate::keys::sha256_b64;

pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let params = super::token::form(&headers, &body)?;
        let client = client_auth::authenticate(&state, &headers, &params).await?;
        let token = params.require("token")?;
        if let Some(refresh) = state.db.refresh_token(&sha256_b64(token.as_bytes())).await? {
            if refresh.client_id == client.client_id {
                endings::refresh_token_revoked(&state, &refresh.grant_id).await?;
                tracing::info!(client_id = %client.client_id, "refresh token revoked");
            }
            return Ok::<(), OAuthError>(());
        }
        if let Ok(claims) = bearer::validate(&state, token).await
            && claims.client_id == client.client_id
        {
            endings::access_token_revoked(&state, &claims).await?;
            tracing::info!(client_id = %client.client_id, "access token revoked");
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response(),
        Err(error) => error.into_response(),
    }
}
