//! The UserInfo endpoint (OIDC Core §5.3): claims allowed by the granted
//! scopes and the `claims` request, as JSON or signed (`application/jwt`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};

use super::bearer;
use super::claims::{Target, names, released};
use super::error::{Challenge, ErrorCode, OAuthError};
use super::grant::{Grant, release_event, subject_of};
use super::params::Params;
use crate::app::AppState;
use crate::citizen::identity::Identity;
use crate::clients::{self, SubjectType};

pub async fn userinfo(State(state): State<AppState>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    match answer(&state, &method, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn answer(state: &AppState, method: &Method, headers: &HeaderMap, body: &Bytes) -> Result<Response, OAuthError> {
    let form = if method == Method::POST && !body.is_empty() { Some(super::token::form(headers, body)?) } else { None };
    let form_token = form.as_ref().and_then(|f: &Params| f.get("access_token"));
    let Some(token) = bearer::extract(headers, form_token)? else {
        // RFC 6750 §3.1: no error code when no credentials were sent.
        return Err(OAuthError { challenge: Challenge::Bearer, ..OAuthError::new(ErrorCode::InvalidToken, "") });
    };
    let claims = bearer::validate(state, &token).await?;
    if !claims.scope.contains("openid") || claims.gid.is_none() {
        return Err(OAuthError::new(ErrorCode::InsufficientScope, "the access token was not issued for openid")
            .with_challenge(Challenge::Bearer));
    }
    let grant_id = claims.gid.as_deref().unwrap_or_default();
    let grant = match state.db.grant(grant_id).await? {
        Some(grant) if grant.revoked_at.is_none() && grant.client_id == claims.client_id => {
            // The access token's own scope governs (it may be narrower after a refresh).
            let mut grant = Grant::from_record(&grant);
            grant.scope = grant.scope.narrowed_to(&claims.scope);
            grant
        }
        _ => return Err(OAuthError::invalid_token("the access token is invalid, expired or revoked")),
    };
    let client = clients::find(&state.db, &claims.client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("unknown client"))?;
    let Some(mut identity) = Identity::load(&state.db, &grant.citizen_id).await? else {
        return Err(OAuthError::invalid_token("the citizen's account no longer exists"));
    };
    if super::verified_claims::wanted(&grant.claims) {
        identity.load_verifications(&state.db).await?;
    }
    let mut body = serde_json::Map::new();
    body.insert("sub".into(), subject_of(state, &client, &identity.citizen).into());
    let claims = released(&grant, &identity, client.subject_type == SubjectType::Public, Target::UserInfo);
    if !claims.is_empty() {
        // The one extra write of this endpoint: the citizen sees every release.
        let event = release_event(&client, &grant, Target::UserInfo, &names(&claims), state.clock.now());
        state.db.append_audit_event(&event).await?;
    }
    for (name, value) in claims {
        body.insert(name.into(), value);
    }

    let mut response = match client.userinfo_signed_response_alg {
        None => Json(serde_json::Value::Object(body)).into_response(),
        Some(alg) => {
            body.insert("iss".into(), state.config.issuer.clone().into());
            body.insert("aud".into(), client.client_id.clone().into());
            let jwt = state.keys.sign(alg, "JWT", &body)?;
            ([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response()
        }
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
