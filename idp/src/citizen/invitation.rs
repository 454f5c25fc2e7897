//! `/invitation?token=…`: a citizen accepts an invitation to act for an
//! organisation (`clients::members`). Signed-out visitors sign in (or up)
//! first and come back here; the link's secret stays in the query, which
//! is never logged.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use tower_sessions::Session;

use crate::app::AppState;
use crate::clients::admin::find_organisation;
use crate::clients::members::{self, INVITATION_PATH, InvitationError, InvitationLookupError, Role};
use crate::i18n::Lang;
use crate::web::csrf;
use crate::web::extract::{CsrfForm, MaybeSignedIn, SignedIn, query_param};
use crate::web::pages::Frame;
use crate::web::pages::console::role_key;
use crate::web::pages::counter as pages;
use crate::web::respond::{PageError, html, see_other};

pub fn router() -> Router<AppState> {
    Router::new().route(INVITATION_PATH, get(show).post(accept))
}

fn refused(e: InvitationLookupError) -> PageError {
    let key = match e {
        InvitationLookupError::Store(e) => return e.into(),
        InvitationLookupError::Refused(InvitationError::Unknown) => "err.invitation_unknown",
        InvitationLookupError::Refused(InvitationError::Used) => "err.invitation_used",
        InvitationLookupError::Refused(InvitationError::Expired) => "err.invitation_expired",
        InvitationLookupError::Refused(InvitationError::Revoked) => "err.invitation_revoked",
    };
    PageError::new(StatusCode::BAD_REQUEST, key, "/account")
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    MaybeSignedIn(auth): MaybeSignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let token = query_param(query.as_deref(), "token").unwrap_or_default();
    if auth.is_none() {
        let back: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("token", &token).finish();
        let next: String =
            url::form_urlencoded::byte_serialize(format!("{INVITATION_PATH}?{back}").as_bytes()).collect();
        return Ok(see_other(&format!("/signin?next={next}")));
    }
    let invitation = members::pending_invitation(&state.db, &token, state.clock.now()).await.map_err(refused)?;
    let organisation = find_organisation(&state.db, &invitation.organisation_id)
        .await?
        .ok_or(InvitationLookupError::Refused(InvitationError::Unknown))
        .map_err(refused)?;
    let csrf = csrf::token(&session).await?;
    let frame = Frame { lang, csrf: &csrf, signed_in: true, path: INVITATION_PATH };
    Ok(html(StatusCode::OK, pages::invitation(&frame, &organisation.name, role_key(invitation.role), &token)))
}

async fn accept(
    State(state): State<AppState>,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let token = form.field("token").unwrap_or_default();
    let joined = members::accept(&state.db, &token, &auth.citizen_id, state.clock.now()).await.map_err(refused)?;
    Ok(see_other(if joined.role == Role::Agent { "/guichet" } else { "/account?notice=joined" }))
}
