//! Admin API handlers: authenticate, check the token's organisation, call
//! the registry (`clients`), answer JSON. Refusals are the registry's
//! errors, as OAuth error JSON (RFC 6750 §3.1 for tokens, RFC 7591 §3.2.2
//! for metadata).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Admin;
use crate::app::AppState;
use crate::clients::admin::{self, NewOrganisation, NewToken};
use crate::clients::{self, Client, ClientError, NewClient};
use crate::oidc::error::OAuthError;
use crate::oidc::register::client_information;
use crate::store::TokenKind;

pub(super) type Result<T> = std::result::Result<T, OAuthError>;

pub(super) fn reply(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(super) fn no_content() -> Response {
    (StatusCode::NO_CONTENT, [(header::CACHE_CONTROL, "no-store")]).into_response()
}

/// A JSON object body, or `invalid_request` / `invalid_client_metadata`.
pub(super) fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json") {
        return Err(OAuthError::invalid_request("the request body must be JSON (Content-Type: application/json)"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(ClientError::InvalidMetadata("the request body must be a JSON object".into()).into()),
        Err(e) => Err(ClientError::InvalidMetadata(format!("the request body is not valid JSON: {e}")).into()),
    }
}

pub(super) fn text(body: &Value, name: &str) -> Result<Option<String>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ClientError::InvalidMetadata(format!("{name} must be a string")).into()),
    }
}

pub(super) fn not_found(what: &str) -> OAuthError {
    ClientError::NotFound(what.to_owned()).into()
}

pub async fn list_organisations(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let list = match admin.scope() {
        Some(mine) => admin::find_organisation(&state.db, mine).await?.into_iter().collect(),
        None => admin::organisations(&state.db).await?,
    };
    Ok(reply(StatusCode::OK, json!(list)))
}

pub async fn create_organisation(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    admin.require_global()?;
    let body = json_body(&headers, &body)?;
    let contacts = match body.get("contacts") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|_| ClientError::InvalidMetadata("contacts must be an array of strings".into()))?,
    };
    let new = NewOrganisation {
        name: text(&body, "name")?.unwrap_or_default(),
        kind: text(&body, "kind")?.unwrap_or_default(),
        official_code: text(&body, "official_code")?.unwrap_or_default(),
        contacts,
    };
    let org = admin::create_organisation(&state.db, new, &admin.actor(), state.clock.now()).await?;
    Ok(reply(StatusCode::CREATED, json!(org)))
}

pub async fn show_organisation(
    State(state): State<AppState>,
    Path(organisation_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let org = admin::find_organisation(&state.db, &organisation_id)
        .await?
        .ok_or_else(|| not_found(&format!("no organisation {organisation_id:?}")))?;
    admin.require_organisation(Some(&org.organisation_id))?;
    let services = clients::list(&state.db, Some(&org.organisation_id)).await?;
    let mut value = json!(org);
    value["clients"] = json!(services.iter().map(|c| c.client_id.as_str()).collect::<Vec<_>>());
    Ok(reply(StatusCode::OK, value))
}

#[derive(Debug, Deserialize)]
pub struct ClientFilter {
    organisation_id: Option<String>,
}

/// A client as the admin API shows it: its registration metadata plus
/// what administrators manage.
fn client_view(state: &AppState, client: &Client, secret: Option<&str>, token: Option<&str>) -> Value {
    let mut value = client_information(state, client, secret, token);
    value["skip_consent"] = json!(client.skip_consent);
    value["pkce_exempt"] = json!(client.pkce_exempt_reason.is_some());
    value["pkce_exempt_reason"] = json!(client.pkce_exempt_reason);
    value["secret_overlap"] = json!(client.secret_overlap);
    value["registered_by"] = json!(client.registered_by);
    value["version"] = json!(client.version);
    value
}

pub async fn list_clients(
    State(state): State<AppState>,
    Query(filter): Query<ClientFilter>,
    headers: HeaderMap,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let organisation = match (admin.scope(), filter.organisation_id.as_deref()) {
        (Some(mine), Some(wanted)) if mine != wanted => {
            return Err(
                ClientError::Forbidden("this administrator token is limited to another organisation".into()).into()
            );
        }
        (Some(mine), _) => Some(mine.to_owned()),
        (None, wanted) => wanted.map(str::to_owned),
    };
    let list = clients::list(&state.db, organisation.as_deref()).await?;
    Ok(reply(StatusCode::OK, json!(list.iter().map(|c| client_view(&state, c, None, None)).collect::<Vec<_>>())))
}

pub async fn create_client(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let fields = json_body(&headers, &body)?;
    let mut new = NewClient::from_registration_json(&body)?;
    new.origin = clients::Origin::Administrator;
    new.organisation_id = match (text(&fields, "organisation_id")?, admin.scope()) {
        (Some(wanted), _) => {
            let org = admin::find_organisation(&state.db, &wanted)
                .await?
                .ok_or_else(|| ClientError::InvalidMetadata(format!("no organisation {wanted:?}")))?;
            admin.require_organisation(Some(&org.organisation_id))?;
            org.organisation_id
        }
        (None, Some(mine)) => mine.to_owned(),
        (None, None) => String::new(),
    };
    let registered = clients::register(&state.db, &state.fetcher, new, &admin.actor(), None, state.clock.now()).await?;
    let body = client_view(
        &state,
        &registered.client,
        registered.client_secret.as_deref(),
        registered.registration_access_token.as_deref(),
    );
    Ok(reply(StatusCode::CREATED, body))
}

/// The client, if this administrator may manage it.
async fn managed(state: &AppState, admin: &Admin, client_id: &str) -> Result<Client> {
    let client =
        clients::find(&state.db, client_id).await?.ok_or_else(|| not_found(&format!("no client {client_id:?}")))?;
    admin.require_organisation(client.organisation_id.as_deref())?;
    Ok(client)
}

pub async fn show_client(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let client = managed(&state, &admin, &client_id).await?;
    Ok(reply(StatusCode::OK, client_view(&state, &client, None, None)))
}

/// Replaces the metadata as a whole (like RFC 7592 §2.2); entitlements and
/// organisation stay. An optional `version` makes the write conditional.
pub async fn update_client(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let client = managed(&state, &admin, &client_id).await?;
    let fields = json_body(&headers, &body)?;
    let version = match fields.get("version") {
        None | Some(Value::Null) => client.version,
        Some(v) => v.as_i64().ok_or_else(|| ClientError::InvalidMetadata("version must be an integer".into()))?,
    };
    let mut new = NewClient::from_registration_json(&body)?;
    client.keep_administrator_settings(&mut new);
    let updated =
        clients::update(&state.db, &state.fetcher, &client_id, new, Some(version), &admin.actor(), state.clock.now())
            .await?;
    Ok(reply(StatusCode::OK, client_view(&state, &updated.client, updated.client_secret.as_deref(), None)))
}

pub async fn delete_client(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let client = managed(&state, &admin, &client_id).await?;
    clients::delete(&state.db, &client, &admin.actor(), state.clock.now()).await?;
    Ok(no_content())
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    managed(&state, &admin, &client_id).await?;
    let overlap = if body.is_empty() {
        None
    } else {
        match json_body(&headers, &body)?.get("overlap") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().ok_or_else(|| ClientError::InvalidMetadata("overlap must be seconds".into()))?),
        }
    };
    let (client, secret) =
        clients::rotate_secret(&state.db, &client_id, overlap, &admin.actor(), state.clock.now()).await?;
    Ok(reply(
        StatusCode::OK,
        json!({
            "client_id": client.client_id,
            "client_secret": secret,
            "client_secret_expires_at": 0,
            "previous_secret_expires_at": client.previous_secret_expires_at,
        }),
    ))
}

fn entitlements_of(client: &Client) -> Value {
    json!({
        "public_subject": client.public_subject(),
        "skip_consent": client.skip_consent,
        "pkce_exempt": client.pkce_exempt_reason.is_some(),
        "pkce_exempt_reason": client.pkce_exempt_reason,
    })
}

pub async fn entitlements(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let client = managed(&state, &admin, &client_id).await?;
    Ok(reply(StatusCode::OK, entitlements_of(&client)))
}

/// Entitlements are granted by global administrators only. A PKCE
/// exemption (`pkce_exempt`) needs a `pkce_exempt_reason`, which the
/// administrators' log keeps.
pub async fn set_entitlements(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    managed(&state, &admin, &client_id).await?;
    admin.require_global()?;
    let fields = json_body(&headers, &body)?;
    let flag = |name: &str| -> Result<Option<bool>> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ClientError::InvalidMetadata(format!("{name} must be true or false")).into()),
        }
    };
    let (public_subject, skip_consent) = (flag("public_subject")?, flag("skip_consent")?);
    let pkce_exempt_reason = match (flag("pkce_exempt")?, fields.get("pkce_exempt_reason")) {
        (Some(true), Some(Value::String(reason))) => Some(Some(reason.clone())),
        (Some(true), _) => {
            return Err(ClientError::InvalidMetadata("pkce_exempt needs a pkce_exempt_reason (a string)".into()).into());
        }
        (Some(false), _) => Some(None),
        (None, None | Some(Value::Null)) => None,
        (None, Some(_)) => {
            return Err(ClientError::InvalidMetadata("pkce_exempt_reason goes with pkce_exempt: true".into()).into());
        }
    };
    let updated = clients::modify(&state.db, &state.fetcher, &client_id, &admin.actor(), state.clock.now(), |new| {
        if let Some(public) = public_subject {
            new.public_subject = public;
        }
        if let Some(skip) = skip_consent {
            new.skip_consent = skip;
        }
        if let Some(exemption) = &pkce_exempt_reason {
            new.pkce_exempt_reason = exemption.clone();
        }
    })
    .await?;
    Ok(reply(StatusCode::OK, entitlements_of(&updated.client)))
}

pub async fn list_tokens(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let list = admin::tokens(&state.db, TokenKind::InitialAccess, admin.scope()).await?;
    Ok(reply(StatusCode::OK, json!(list)))
}

pub async fn issue_token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let fields = json_body(&headers, &body)?;
    let organisation = match (text(&fields, "organisation_id")?, admin.scope()) {
        (Some(wanted), _) => {
            let org = admin::find_organisation(&state.db, &wanted)
                .await?
                .ok_or_else(|| ClientError::InvalidMetadata(format!("no organisation {wanted:?}")))?;
            admin.require_organisation(Some(&org.organisation_id))?;
            Some(org.organisation_id)
        }
        (None, Some(mine)) => Some(mine.to_owned()),
        (None, None) => None,
    };
    let lifetime = match fields.get("expires_in") {
        None | Some(Value::Null) => 7 * 86_400,
        Some(v) => v.as_i64().ok_or_else(|| ClientError::InvalidMetadata("expires_in must be seconds".into()))?,
    };
    let new = NewToken {
        kind: TokenKind::InitialAccess,
        organisation,
        description: text(&fields, "description")?.unwrap_or_default(),
        lifetime,
        single_use: fields.get("single_use").and_then(Value::as_bool).unwrap_or(false),
    };
    let issued = admin::issue_token(&state.db, new, &admin.actor(), state.clock.now()).await?;
    Ok(reply(StatusCode::CREATED, json!(issued)))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Path(token_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let token = admin::find_token(&state.db, TokenKind::InitialAccess, &token_id)
        .await?
        .ok_or_else(|| not_found(&format!("no initial access token {token_id:?}")))?;
    admin.require_organisation(token.organisation_id.as_deref())?;
    admin::revoke_token(&state.db, TokenKind::InitialAccess, &token_id, &admin.actor(), state.clock.now()).await?;
    Ok(no_content())
}

#[derive(Debug, Deserialize)]
pub struct EventQuery {
    limit: Option<i64>,
}

/// The administrators' log, newest first; an organisation's token sees its
/// organisation's entries only.
pub async fn events(
    State(state): State<AppState>,
    Query(query): Query<EventQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1_000);
    let list = admin::recent_events(&state.db, admin.scope(), limit).await?;
    let list: Vec<Value> = list
        .into_iter()
        .map(|e| {
            json!({
                "event_id": e.event_id, "at": e.at, "actor": e.actor, "action": e.action,
                "organisation_id": e.organisation_id, "target": e.target,
                "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or_default(),
            })
        })
        .collect();
    Ok(reply(StatusCode::OK, json!(list)))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    citizen_id: Option<String>,
}

/// A citizen's audit trail (global administrators only; the read is logged).
pub async fn audit(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    admin.require_global()?;
    let citizen_id = query.citizen_id.unwrap_or_default();
    let events = admin::citizen_audit_trail(&state.db, &citizen_id, &admin.actor(), state.clock.now()).await?;
    let list: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id, "citizen_id": e.citizen_id, "kind": e.kind, "at": e.at,
                "details": e.details_json(),
            })
        })
        .collect();
    Ok(reply(StatusCode::OK, json!(list)))
}
