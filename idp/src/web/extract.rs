//! What page handlers ask for, as extractors: the page language ([`Lang`]),
//! the signed-in citizen ([`SignedIn`], or a redirect to sign in), a form
//! whose CSRF token was checked ([`CsrfForm`]); and the field readers they
//! use.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::csrf::{self, CsrfError};
use super::respond::{PageError, see_other};
use crate::app::AppState;
use crate::i18n::Lang;
use crate::login::AuthSession;

/// Session key of the language a `ui_locales` chose.
const LANG_KEY: &str = "lang";

/// Whether the request carries this provider's session cookie. A POST from
/// another site never does, even when the browser holds one: the cookie is
/// `SameSite=Lax`.
pub fn carries_session_cookie(headers: &axum::http::HeaderMap) -> bool {
    let prefix = format!("{}=", crate::app::SESSION_COOKIE);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .any(|cookie| cookie.trim_start().starts_with(&prefix))
}

/// The answer to a protocol POST that came without the session cookie
/// (from another site, `SameSite=Lax`): the same request again as a GET,
/// a top-level navigation that does carry the cookie. Nothing is read or
/// written in the session before, so the citizen's session cookie is never
/// replaced by a fresh one.
pub fn again_as_get(path: &str, params: &crate::oidc::params::Params) -> Response {
    see_other(&format!("{path}?{}", params.to_query()))
}

/// First value of a query parameter (duplicates and junk tolerated).
pub fn query_param(raw: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// First value of a field of an `application/x-www-form-urlencoded` body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn ui_locale(ui_locales: Option<&str>) -> Option<Lang> {
    ui_locales.and_then(|v| v.split_whitespace().find_map(Lang::from_tag))
}

/// A language asked for with `ui_locales` (in a query or a protocol
/// request's body) is remembered for the rest of the browser session.
pub async fn remember_ui_locales(session: &Session, ui_locales: Option<&str>) {
    if let Some(lang) = ui_locale(ui_locales) {
        let _ = session.insert(LANG_KEY, lang).await;
    }
}

/// The page language: `ui_locales` (remembered for the session), else the
/// one remembered, else `Accept-Language`, else French.
pub async fn negotiate(
    session: Option<&Session>,
    accept_language: Option<&HeaderValue>,
    ui_locales: Option<&str>,
) -> Lang {
    if let Some(lang) = ui_locale(ui_locales) {
        if let Some(session) = session {
            remember_ui_locales(session, ui_locales).await;
        }
        return lang;
    }
    if let Some(session) = session
        && let Ok(Some(lang)) = session.get::<Lang>(LANG_KEY).await
    {
        return lang;
    }
    Lang::negotiate(None, accept_language.and_then(|v| v.to_str().ok()))
}

fn session_of(parts: &Parts) -> Result<Session, PageError> {
    parts.extensions.get::<Session>().cloned().ok_or_else(|| PageError::internal(&"no session layer"))
}

/// The page language of this request (see [`negotiate`]).
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ui_locales = query_param(parts.uri.query(), "ui_locales");
        let session = parts.extensions.get::<Session>();
        Ok(negotiate(session, parts.headers.get(header::ACCEPT_LANGUAGE), ui_locales.as_deref()).await)
    }
}

/// Who is signed in on this browser, if anyone (pages that show either).
pub struct MaybeSignedIn(pub Option<AuthSession>);

impl FromRequestParts<AppState> for MaybeSignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = session_of(parts)?;
        Ok(Self(AuthSession::current(&session, &state.db, state.clock.now()).await?))
    }
}

/// The signed-in citizen; anyone else is sent to sign in and brought back
/// here (`/signin?next=…`). A form comes back to the account page it lives
/// on, since its own address answers only POST.
pub struct SignedIn(pub AuthSession);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let MaybeSignedIn(auth) =
            MaybeSignedIn::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let back = if parts.method == Method::GET { parts.uri.path() } else { "/account" };
        let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
        auth.map(Self).ok_or_else(|| see_other(&format!("/signin?next={next}")))
    }
}

/// An `application/x-www-form-urlencoded` body whose `csrf` field is this
/// browser session's token; otherwise the "this page expired" page (403).
pub struct CsrfForm {
    body: Bytes,
}

impl CsrfForm {
    /// First value of a field.
    pub fn field(&self, name: &str) -> Option<String> {
        form_field(&self.body, name)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.body
    }
}

impl<S: Send + Sync> FromRequest<S> for CsrfForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let session = request.extensions().get::<Session>().cloned();
        let body = Bytes::from_request(request, state).await.map_err(IntoResponse::into_response)?;
        let Some(session) = session else { return Err(PageError::internal(&"no session layer").into_response()) };
        match csrf::verify(&session, form_field(&body, "csrf").as_deref()).await {
            Ok(()) => Ok(Self { body }),
            Err(CsrfError::Invalid) => Err(PageError::csrf().into_response()),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}
