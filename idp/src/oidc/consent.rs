//! The consent step of an authorization (OIDC Core §3.1.2.4): the citizen
//! sees which service asks for what, in plain words, and allows or refuses.
//! Consent is remembered per service and scope set, and audited.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::authorize::{self, request::AuthorizationRequest};
use super::error::{ErrorCode, OAuthError};
use crate::app::AppState;
use crate::clients::{self, Client};
use crate::i18n::Lang;
use crate::login::AuthSession;
use crate::store::NewAuditEvent;
use crate::web::csrf;
use crate::web::pages::consent::ConsentView;
use crate::web::pages::{self, Frame};
use crate::web::respond::{self, PageError, html, see_other};

async fn load(
    state: &AppState,
    session: &Session,
    id: &str,
    lang: Lang,
) -> Result<(AuthorizationRequest, Client, AuthSession), Response> {
    let expired = || PageError::new(StatusCode::BAD_REQUEST, lang, "authz.expired", "/account").into_response();
    let request = authorize::pending(state, session, id).await.ok_or_else(expired)?;
    let auth = AuthSession::current(session, &state.db, state.clock.now())
        .await
        .map_err(|e| PageError::internal(lang, &e).into_response())?;
    let Some(auth) = auth else {
        // Signed out meanwhile: the request resumes through sign-in.
        return Err(see_other(&format!("/authorize/continue/{id}")));
    };
    let client = clients::find(&state.db, &request.client_id)
        .await
        .map_err(|e| PageError::internal(lang, &e).into_response())?
        .ok_or_else(expired)?;
    Ok((request, client, auth))
}

/// `GET /authorize/consent/{id}`.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = respond::lang(&session, &headers, None).await;
    let (request, client, _) = match load(&state, &session, &id, lang).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let token = match csrf::token(&session).await {
        Ok(token) => token,
        Err(e) => return PageError::internal(lang, &e).into_response(),
    };
    let organisation = match &client.organisation_id {
        Some(id) => match state.db.organisation(id).await {
            Ok(found) => found.map(|o| o.name),
            Err(e) => return PageError::internal(lang, &e).into_response(),
        },
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
    // Either answer ends at the service: its origin must be a form target.
    let mut policy = crate::web::csp_allowing_form_to(&request.redirect_uri);
    if let Some(logo) = &client.metadata.logo_uri {
        policy = crate::web::csp_allowing_image_from(&policy, logo);
    }
    crate::web::set_csp(&mut response, &policy);
    response
}

#[derive(Debug, Deserialize)]
pub struct Decision {
    csrf: Option<String>,
    decision: Option<String>,
}

/// `POST /authorize/consent/{id}`.
pub async fn decide(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Decision>,
) -> Response {
    let lang = respond::lang(&session, &headers, None).await;
    if csrf::verify(&session, form.csrf.as_deref()).await.is_err() {
        return PageError::new(StatusCode::FORBIDDEN, lang, "err.csrf", "/account").into_response();
    }
    let (request, client, auth) = match load(&state, &session, &id, lang).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    match form.decision.as_deref() {
        Some("allow") => {}
        Some("deny") => {
            let _ = state.cache.delete(&crate::endings::cache_keys::pending_authorization(&id)).await;
            let error = OAuthError::new(ErrorCode::AccessDenied, "the citizen refused");
            return request.target().error(&state.config.issuer, &error);
        }
        _ => return PageError::new(StatusCode::BAD_REQUEST, lang, "authz.expired", "/account").into_response(),
    }
    let now = state.clock.now();
    let mut scope: Vec<String> = match state.db.consent(&auth.citizen_id, &client.client_id).await {
        Ok(existing) => super::grant::scope_list(&existing.unwrap_or_default()),
        Err(e) => return PageError::internal(lang, &e).into_response(),
    };
    scope.extend(request.scope.iter().cloned());
    scope.sort();
    scope.dedup();
    let event = NewAuditEvent {
        citizen_id: auth.citizen_id.clone(),
        kind: "consent.granted".into(),
        details: serde_json::json!({"client_id": client.client_id, "client_name": client.client_name, "scope": request.scope})
            .to_string(),
        at: now,
    };
    if let Err(e) = state.db.grant_consent(&auth.citizen_id, &client.client_id, &scope.join(" "), &event).await {
        return PageError::internal(lang, &e).into_response();
    }
    let request = AuthorizationRequest { consented: true, ..request };
    if let Err(e) = authorize::save_pending(&state, &session, Some(&id), &request).await {
        return e.into_response();
    }
    see_other(&format!("/authorize/continue/{id}"))
}
