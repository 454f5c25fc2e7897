//! Logout: RP-initiated (OIDC RP-Initiated Logout 1.0) at the
//! `end_session_endpoint`, and the notices every service of the ended login
//! receives — back-channel (queued, see [`backchannel`]) and front-channel
//! (iframes on the logged-out page, OIDC Front-Channel Logout 1.0).

pub mod backchannel;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::authorize::response::redirect;
use super::grant::subject;
use super::params::Params;
use crate::app::AppState;
use crate::clients::{self, Client};
use crate::endings::{self, LoginEnd};
use crate::i18n::Lang;
use crate::login::AuthSession;
use crate::web::csrf;
use crate::web::extract::{CsrfForm, MaybeSignedIn, again_as_get, carries_session_cookie, negotiate};
use crate::web::pages::{self, Frame};
use crate::web::respond::{PageError, continue_to, html};

/// What a valid `id_token_hint` tells us.
struct Hint {
    client_id: String,
    sub: String,
}

/// An ID token we issued (signature checked, expiry ignored: OIDC
/// RP-Initiated Logout §2 allows expired hints).
fn read_hint(state: &AppState, token: &str) -> Option<Hint> {
    let claims = super::bearer::own_claims(state, token)?;
    let client_id = match claims.get("aud")? {
        serde_json::Value::String(aud) => aud.clone(),
        serde_json::Value::Array(list) if list.len() == 1 => list.first()?.as_str()?.to_owned(),
        _ => claims.get("azp")?.as_str()?.to_owned(),
    };
    Some(Hint { client_id, sub: claims.get("sub")?.as_str()?.to_owned() })
}

/// The validated request: where to send the citizen afterwards, if anywhere.
struct LogoutRequest {
    client: Option<Client>,
    hint: Option<Hint>,
    /// Registered for the client: the only place we ever redirect to.
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    ui_locales: Option<String>,
}

async fn validate(state: &AppState, params: &Params) -> Result<LogoutRequest, &'static str> {
    let hint = match params.get("id_token_hint") {
        Some(token) => Some(read_hint(state, token).ok_or("logout.bad_hint")?),
        None => None,
    };
    let client_id = match (params.get("client_id"), &hint) {
        (Some(id), Some(hint)) if id != hint.client_id => return Err("logout.bad_hint"),
        (Some(id), _) => Some(id.to_owned()),
        (None, Some(hint)) => Some(hint.client_id.clone()),
        (None, None) => None,
    };
    let client = match client_id {
        Some(id) => Some(clients::find(&state.db, &id).await.ok().flatten().ok_or("authz.unknown_client")?),
        None => None,
    };
    // Never an open redirect: only a URI registered for this very client.
    let post_logout_redirect_uri = params.get("post_logout_redirect_uri").and_then(|uri| {
        client.as_ref().filter(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri)).map(|_| uri.to_owned())
    });
    Ok(LogoutRequest {
        client,
        hint,
        post_logout_redirect_uri,
        state: params.get("state").map(str::to_owned),
        ui_locales: params.get("ui_locales").map(str::to_owned),
    })
}

/// Signs this browser out: its login ends everywhere
/// ([`endings::login_ended`]), then the browser session is cleared.
/// Returns the front-channel logout URLs.
pub async fn end_login(state: &AppState, session: &Session, auth: &AuthSession) -> Result<Vec<String>, PageError> {
    let frontchannel = endings::login_ended(state, &auth.citizen_id, &auth.sid, LoginEnd::SignedOut).await?;
    AuthSession::end(session).await?;
    Ok(frontchannel)
}

/// `GET|POST /logout` (`end_session_endpoint`).
pub async fn end_session(
    State(state): State<AppState>,
    session: Session,
    MaybeSignedIn(auth): MaybeSignedIn,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, PageError> {
    let raw: &[u8] = if method == Method::POST { &body } else { query.as_deref().unwrap_or_default().as_bytes() };
    let params = Params::parse(raw).map_err(|_| PageError::bad_request("authz.malformed"))?;
    // A POST from another site never sees the session (SameSite=Lax): it
    // would look signed out while every login lives on. Ask again as a GET.
    if method == Method::POST && !carries_session_cookie(&headers) {
        return Ok(again_as_get(super::paths::END_SESSION, &params));
    }
    // The request's own `ui_locales`, wherever it was sent (query or body).
    let lang = negotiate(Some(&session), headers.get(header::ACCEPT_LANGUAGE), params.get("ui_locales")).await;
    let request = validate(&state, &params).await.map_err(PageError::bad_request)?;
    let Some(auth) = auth else {
        // Already signed out: nothing to confirm.
        return Ok(finish(lang, &request, Vec::new(), false));
    };
    let hint_matches = match (&request.hint, &request.client) {
        (Some(hint), Some(client)) => subject(&state, client, &auth.citizen_id).await.is_ok_and(|sub| hint.sub == sub),
        _ => false,
    };
    if !hint_matches {
        return confirmation_page(&session, lang, &request).await;
    }
    let frontchannel = end_login(&state, &session, &auth).await?;
    Ok(finish(lang, &request, frontchannel, false))
}

/// `POST /logout/confirm`: the citizen confirmed on our page.
pub async fn confirm(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    MaybeSignedIn(auth): MaybeSignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let params = Params::parse(form.bytes()).map_err(|_| PageError::bad_request("authz.malformed"))?;
    let request = validate(&state, &params).await.map_err(PageError::bad_request)?;
    let frontchannel = match auth {
        Some(auth) => end_login(&state, &session, &auth).await?,
        None => Vec::new(),
    };
    Ok(finish(lang, &request, frontchannel, true))
}

async fn confirmation_page(session: &Session, lang: Lang, request: &LogoutRequest) -> Result<Response, PageError> {
    let token = csrf::token(session).await?;
    let hidden = [
        ("client_id", request.client.as_ref().map(|c| c.client_id.clone())),
        ("post_logout_redirect_uri", request.post_logout_redirect_uri.clone()),
        ("state", request.state.clone()),
        ("ui_locales", request.ui_locales.clone()),
    ];
    let service = request.client.as_ref().map(|c| c.display_name(lang));
    let frame = Frame { lang, csrf: &token, signed_in: true, path: "/logout" };
    // The form posts here only (`form-action 'self'`); the way back to the
    // service is a page (see `finish`).
    Ok(html(StatusCode::OK, pages::logout::confirmation(&frame, service, &hidden)))
}

/// After logout: straight back to the service when it asked and nothing
/// else must load — after our confirmation form through a page that
/// navigates there, so that form's `form-action` never governs where the
/// service sends the browser next; otherwise our page (with front-channel
/// iframes), which links back to the service.
fn finish(lang: Lang, request: &LogoutRequest, frontchannel: Vec<String>, after_form: bool) -> Response {
    let back = request.post_logout_redirect_uri.as_ref().map(|uri| {
        let mut url = uri.clone();
        if let Some(value) = &request.state {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("state=");
            url.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
        }
        url
    });
    if frontchannel.is_empty()
        && let Some(back) = &back
    {
        return if after_form { continue_to(lang, back) } else { redirect(back) };
    }
    let frame = Frame { lang, csrf: "", signed_in: false, path: "/logout" };
    let mut response = html(StatusCode::OK, pages::logout::signed_out(&frame, &frontchannel, back.as_deref()));
    if !frontchannel.is_empty() {
        crate::web::set_csp(&mut response, &crate::web::csp_allowing_frames_of(&frontchannel));
    }
    response.into_response()
}
