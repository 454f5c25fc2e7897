//! The consent step of an authorization (OIDC Core §3.1.2.4): the citizen
//! sees which service asks for what, in plain words, and allows or refuses.
//! Consent is remembered per service and scope set, and audited.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tower_sessions::Session;

use super::authorize::{self, request::AuthorizationRequest};
use super::error::{ErrorCode, OAuthError};
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::clients::{self, Client};
use crate::i18n::Lang;
use crate::login::AuthSession;
use crate::store::NewAuditEvent;
use crate::web::csrf;
use crate::web::extract::{CsrfForm, MaybeSignedIn};
use crate::web::pages::consent::ConsentView;
use crate::web::pages::{self, Frame};
use crate::web::respond::{PageError, html, see_other};

/// The pending request this browser started, its client, and the
/// signed-in citizen; `None` when signed out meanwhile (see [`resume`]).
pub(super) async fn load(
    state: &AppState,
    session: &Session,
    id: &str,
    auth: Option<AuthSession>,
) -> Result<Option<(AuthorizationRequest, Client, AuthSession)>, PageError> {
    let expired = PageError::bad_request("authz.expired");
    let request = authorize::pending(state, session, id).await.ok_or(expired)?;
    let Some(auth) = auth else { return Ok(None) };
    let client = clients::find(&state.db, &request.client_id).await?.ok_or(expired)?;
    Ok(Some((request, client, auth)))
}

/// Signed out meanwhile: the request resumes through sign-in.
pub(super) fn resume(id: &str) -> Response {
    see_other(&format!("/authorize/continue/{id}"))
}

/// `GET /authorize/consent/{id}`.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    MaybeSignedIn(auth): MaybeSignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Some((request, client, _)) = load(&state, &session, &id, auth).await? else { return Ok(resume(&id)) };
    let token = csrf::token(&session).await?;
    let organisation = match &client.organisation_id {
        Some(id) => state.db.organisation(id).await?.map(|o| o.name),
        None => None,
    };
    let view = ConsentView {
        id: &id,
        service: client.display_name(lang),
        organisation: organisation.as_deref(),
        logo_uri: client.metadata.logo_uri.as_deref(),
        policy_uri: client.metadata.policy_uri.as_deref(),
        tos_uri: client.metadata.tos_uri.as_deref(),
        scope: &request.scope,
    };
    let path = format!("/authorize/consent/{id}");
    let frame = Frame { lang, csrf: &token, signed_in: true, path: &path };
    let mut response = html(StatusCode::OK, pages::consent::consent(&frame, &view));
    // The form posts here only (`form-action 'self'`): the answer reaches the
    // service through a page (`AuthorizationRequest::after_form`).
    if let Some(logo) = &client.metadata.logo_uri {
        crate::web::set_csp(&mut response, &crate::web::csp_allowing_image_from(crate::web::CSP, logo));
    }
    Ok(response)
}

/// `POST /authorize/consent/{id}`.
pub async fn decide(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    MaybeSignedIn(auth): MaybeSignedIn,
    Path(id): Path<String>,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let Some((request, client, auth)) = load(&state, &session, &id, auth).await? else { return Ok(resume(&id)) };
    // Whatever the service's callback does next (a redirect to another
    // origin, an SSO portal's), this form's CSP must not govern it.
    let request = AuthorizationRequest { after_form: Some(lang), ..request };
    match form.field("decision").as_deref() {
        Some("allow") => {}
        Some("deny") => {
            let _ = state.cache.delete(&crate::endings::cache_keys::pending_authorization(&id)).await;
            let error = OAuthError::new(ErrorCode::AccessDenied, "the citizen refused");
            return Ok(request.target().error(&state.config.issuer, &error));
        }
        _ => return Err(PageError::bad_request("authz.expired")),
    }
    grant(&state, &session, &id, request, &client, &auth).await
}

/// The citizen allowed: consent remembered (scopes merged) and audited,
/// then the request goes on.
async fn grant(
    state: &AppState,
    session: &Session,
    id: &str,
    request: AuthorizationRequest,
    client: &Client,
    auth: &AuthSession,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let existing = state.db.consent(&auth.citizen_id, &client.client_id).await?;
    let scope = existing.unwrap_or_default().union(&request.scope);
    let granted = AuditEvent::ConsentGranted {
        client_id: client.client_id.clone(),
        client_name: client.client_name.clone(),
        scope: request.scope.as_list().to_vec(),
    };
    let event = NewAuditEvent::new(&auth.citizen_id, granted, now);
    state.db.grant_consent(&auth.citizen_id, &client.client_id, &scope, &event).await?;
    let request = AuthorizationRequest { consented: true, ..request };
    authorize::save_pending(state, session, Some(id), &request).await?;
    Ok(see_other(&format!("/authorize/continue/{id}")))
}
