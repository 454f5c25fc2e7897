//! Admin API for organisation members: list members and invitations,
//! invite (the link is in the answer, once), withdraw an invitation,
//! remove a member's role. An organisation's token manages its own.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Admin;
use super::handlers::{Result, json_body, no_content, not_found, reply, text};
use crate::app::AppState;
use crate::clients::ClientError;
use crate::clients::admin::{self, Organisation};
use crate::clients::members::{self, INVITATION_LIFETIME, Role};

/// The organisation in the path, if this token may manage it.
async fn managed(state: &AppState, admin: &Admin, organisation_id: &str) -> Result<Organisation> {
    let organisation = admin::find_organisation(&state.db, organisation_id)
        .await?
        .ok_or_else(|| not_found(&format!("no organisation {organisation_id:?}")))?;
    admin.require_organisation(Some(&organisation.organisation_id))?;
    Ok(organisation)
}

pub async fn list(
    State(state): State<AppState>,
    Path(organisation_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let organisation = managed(&state, &admin, &organisation_id).await?;
    let list = members::members(&state.db, &organisation.organisation_id).await?;
    let invitations = members::invitations(&state.db, &organisation.organisation_id, state.clock.now()).await?;
    Ok(reply(StatusCode::OK, json!({ "members": list, "invitations": invitations })))
}

pub async fn invite(
    State(state): State<AppState>,
    Path(organisation_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let organisation = managed(&state, &admin, &organisation_id).await?;
    let fields = json_body(&headers, &body)?;
    let role = Role::parse(&text(&fields, "role")?.unwrap_or_default())?;
    let lifetime = match fields.get("expires_in") {
        None | Some(Value::Null) => INVITATION_LIFETIME,
        Some(v) => v.as_i64().ok_or_else(|| ClientError::InvalidMetadata("expires_in must be seconds".into()))?,
    };
    let issued = members::invite(
        &state.db,
        &organisation.organisation_id,
        role,
        lifetime,
        &state.config.issuer,
        &admin.actor(),
        state.clock.now(),
    )
    .await?;
    Ok(reply(StatusCode::CREATED, json!(issued)))
}

pub async fn uninvite(
    State(state): State<AppState>,
    Path((organisation_id, invitation_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let organisation = managed(&state, &admin, &organisation_id).await?;
    members::revoke_invitation(
        &state.db,
        &organisation.organisation_id,
        &invitation_id,
        &admin.actor(),
        state.clock.now(),
    )
    .await?;
    Ok(no_content())
}

#[derive(Debug, Deserialize)]
pub struct RoleQuery {
    role: Option<String>,
}

pub async fn remove(
    State(state): State<AppState>,
    Path((organisation_id, member)): Path<(String, String)>,
    Query(query): Query<RoleQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let admin = Admin::authenticate(&state, &headers).await?;
    let organisation = managed(&state, &admin, &organisation_id).await?;
    let role = query.role.as_deref().map(Role::parse).transpose()?;
    members::remove(&state.db, &organisation.organisation_id, &member, role, &admin.actor(), state.clock.now()).await?;
    Ok(no_content())
}
