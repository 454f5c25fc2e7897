//! Reading what a browser sent: query and form fields, and what every page
//! needs (language, CSRF token, the signed-in citizen).

use axum::http::HeaderMap;
use tower_sessions::Session;

use super::csrf;
use super::respond::{self, PageError};
use crate::app::AppState;
use crate::i18n::Lang;
use crate::login::AuthSession;

/// First value of a query parameter (duplicates and junk tolerated).
pub fn query_param(raw: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// First value of a field of an `application/x-www-form-urlencoded` body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// What every login page needs: language, CSRF token, whether signed in.
pub async fn page_frame(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(Lang, String, Option<AuthSession>), PageError> {
    let lang = respond::lang(session, headers, query_param(query, "ui_locales").as_deref()).await;
    let token = csrf::token(session).await.map_err(|e| PageError::internal(lang, &e))?;
    let auth =
        AuthSession::current(session, &state.db, state.clock.now()).await.map_err(|e| PageError::internal(lang, &e))?;
    Ok((lang, token, auth))
}
