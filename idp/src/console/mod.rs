//! The organisation console (`/console`), for members signed in with their
//! passkey: an organisation's admins manage its members here (invite by
//! single-use link, withdraw an invitation, remove a role). The same domain
//! functions as the CLI and the admin API (`clients::members`); every
//! change is in the administrators' log under the member's name.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use tower_sessions::Session;

use crate::app::AppState;
use crate::clients::admin::find_organisation;
use crate::clients::members::{self, INVITATION_LIFETIME, Role};
use crate::clients::{Actor, ClientError, Organisation};
use crate::i18n::Lang;
use crate::web::csrf;
use crate::web::extract::{CsrfForm, SignedIn, query_param};
use crate::web::pages::Frame;
use crate::web::pages::console::{self as pages, MembersView};
use crate::web::respond::{PageError, html, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/members", get(members_page))
        .route("/console/members/invite", post(invite))
        .route("/console/members/remove", post(remove))
        .route("/console/members/uninvite", post(uninvite))
}

fn not_found() -> PageError {
    PageError::new(StatusCode::NOT_FOUND, "err.not_found", "/console/members")
}

/// The organisations the citizen administers; none: this page is not for them.
async fn administered(state: &AppState, citizen_id: &str) -> Result<Vec<Organisation>, PageError> {
    let mut organisations = Vec::new();
    for membership in members::memberships(&state.db, citizen_id).await? {
        if membership.roles.contains(&Role::Admin)
            && let Some(organisation) = find_organisation(&state.db, &membership.organisation_id).await?
        {
            organisations.push(organisation);
        }
    }
    if organisations.is_empty() {
        return Err(PageError::new(StatusCode::FORBIDDEN, "err.not_org_admin", "/account"));
    }
    Ok(organisations)
}

/// The organisation named in a request, if the citizen administers it
/// (another organisation's objects answer 404, as if absent).
async fn one_administered(state: &AppState, citizen_id: &str, wanted: Option<&str>) -> Result<Organisation, PageError> {
    let mine = administered(state, citizen_id).await?;
    match wanted {
        None | Some("") => mine.into_iter().next().ok_or_else(not_found),
        Some(id) => mine.into_iter().find(|o| o.organisation_id == id).ok_or_else(not_found),
    }
}

fn domain(e: ClientError) -> PageError {
    match e {
        ClientError::NotFound(_) | ClientError::Conflict(_) => not_found(),
        ClientError::Store(cause) => cause.into(),
        _ => PageError::bad_request("err.not_found"),
    }
}

fn notice(value: Option<&str>) -> Option<(&'static str, bool)> {
    match value? {
        "removed" => Some(("notice.member_removed", false)),
        "withdrawn" => Some(("notice.invitation_withdrawn", false)),
        _ => None,
    }
}

async fn members_page(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let wanted = query_param(query.as_deref(), "org");
    let organisation = one_administered(&state, &auth.citizen_id, wanted.as_deref()).await?;
    let list = members::members(&state.db, &organisation.organisation_id).await?;
    let invitations = members::invitations(&state.db, &organisation.organisation_id, state.clock.now()).await?;
    let token = csrf::token(&session).await?;
    let frame = Frame { lang, csrf: &token, signed_in: true, path: "/console/members" };
    let view = MembersView {
        organisation_id: &organisation.organisation_id,
        organisation_name: &organisation.name,
        members: &list,
        invitations: &invitations,
        notice: notice(query_param(query.as_deref(), "notice").as_deref()),
    };
    Ok(html(StatusCode::OK, pages::members(&frame, &view)))
}

async fn invite(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let organisation = one_administered(&state, &auth.citizen_id, form.field("org").as_deref()).await?;
    let role =
        Role::parse(&form.field("role").unwrap_or_default()).map_err(|_| PageError::bad_request("err.not_found"))?;
    let issued = members::invite(
        &state.db,
        &organisation.organisation_id,
        role,
        INVITATION_LIFETIME,
        &state.config.issuer,
        &Actor::member(&auth.citizen_id),
        state.clock.now(),
    )
    .await
    .map_err(domain)?;
    let token = csrf::token(&session).await?;
    let frame = Frame { lang, csrf: &token, signed_in: true, path: "/console/members" };
    Ok(html(StatusCode::OK, pages::invitation_link(&frame, &organisation.organisation_id, &issued.link)))
}

async fn remove(
    State(state): State<AppState>,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let organisation = one_administered(&state, &auth.citizen_id, form.field("org").as_deref()).await?;
    let role = match form.field("role").filter(|r| !r.is_empty()) {
        Some(role) => Some(Role::parse(&role).map_err(|_| not_found())?),
        None => None,
    };
    let member = form.field("member").unwrap_or_default();
    let actor = Actor::member(&auth.citizen_id);
    members::remove(&state.db, &organisation.organisation_id, &member, role, &actor, state.clock.now())
        .await
        .map_err(domain)?;
    Ok(see_other(&format!("/console/members?org={}&notice=removed", organisation.organisation_id)))
}

async fn uninvite(
    State(state): State<AppState>,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let organisation = one_administered(&state, &auth.citizen_id, form.field("org").as_deref()).await?;
    let invitation = form.field("invitation").unwrap_or_default();
    let actor = Actor::member(&auth.citizen_id);
    members::revoke_invitation(&state.db, &organisation.organisation_id, &invitation, &actor, state.clock.now())
        .await
        .map_err(domain)?;
    Ok(see_other(&format!("/console/members?org={}&notice=withdrawn", organisation.organisation_id)))
}
