//! The account choice of an authorization (OIDC Core §3.1.2.1
//! `prompt=select_account`): the signed-in citizen goes on as themselves or
//! signs in as someone else. A browser holds one login at a time, so
//! "another account" is a new sign-in, which ends the current login
//! (`endings::login_ended`, reason `Replaced`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tower_sessions::Session;

use super::authorize::{self, request::AccountChoice, request::AuthorizationRequest};
use super::consent::{load, resume};
use crate::app::AppState;
use crate::i18n::Lang;
use crate::web::csrf;
use crate::web::extract::{CsrfForm, MaybeSignedIn};
use crate::web::pages::consent::AccountView;
use crate::web::pages::{self, Frame};
use crate::web::respond::{PageError, html, see_other};

/// `GET /authorize/select-account/{id}`.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    MaybeSignedIn(auth): MaybeSignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Some((_, client, auth)) = load(&state, &session, &id, auth).await? else { return Ok(resume(&id)) };
    let citizen = state.db.citizen_by_id(&auth.citizen_id).await?.ok_or(PageError::bad_request("authz.expired"))?;
    let token = csrf::token(&session).await?;
    let name = format!("{} {}", citizen.given_name, citizen.family_name);
    let view =
        AccountView { id: &id, service: client.display_name(lang), name: &name, email: citizen.email.as_deref() };
    let path = format!("/authorize/select-account/{id}");
    let frame = Frame { lang, csrf: &token, signed_in: true, path: &path };
    Ok(html(StatusCode::OK, pages::consent::select_account(&frame, &view)))
}

/// `POST /authorize/select-account/{id}`: `account=current` or `another`.
pub async fn choose(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    MaybeSignedIn(auth): MaybeSignedIn,
    Path(id): Path<String>,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let Some((request, _, _)) = load(&state, &session, &id, auth).await? else { return Ok(resume(&id)) };
    let choice = match form.field("account").as_deref() {
        Some("current") => AccountChoice::Current,
        Some("another") => AccountChoice::Another,
        _ => return Err(PageError::bad_request("authz.expired")),
    };
    // The answer to the service follows one of our forms: through a page.
    let request = AuthorizationRequest { account_choice: Some(choice), after_form: Some(lang), ..request };
    authorize::save_pending(&state, &session, Some(&id), &request).await?;
    Ok(see_other(&format!("/authorize/continue/{id}")))
}
