//! `/account/email`: the citizen's address, a code to verify it (typed or
//! through the mailed link), and sending it again within the limit.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use tower_sessions::Session;

use crate::app::AppState;
use crate::citizen::email::{self, EmailError};
use crate::citizen::identity::Identity;
use crate::i18n::Lang;
use crate::web::csrf;
use crate::web::extract::{CsrfForm, SignedIn, query_param};
use crate::web::pages::{self, Frame, account::EmailView};
use crate::web::respond::{PageError, html, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/email", get(email_page).post(set_email))
        .route("/account/email/resend", post(resend))
        .route("/account/email/verify", post(verify_code))
        .route("/account/email/confirm", get(confirm_page).post(confirm))
}

/// What the page adds after the form's answer.
struct Outcome {
    email_error: Option<&'static str>,
    code_error: Option<&'static str>,
    notice: Option<&'static str>,
}

async fn render(
    state: &AppState,
    session: &Session,
    lang: Lang,
    citizen_id: &str,
    status: StatusCode,
    outcome: Outcome,
) -> Result<Response, PageError> {
    let token = csrf::token(session).await?;
    let Some(identity) = Identity::load(&state.db, citizen_id).await? else { return Ok(see_other("/signin")) };
    let challenge = state.db.email_challenge(citizen_id).await?;
    let now = state.clock.now();
    let pending =
        challenge.as_ref().filter(|c| c.expires_at > now && !c.code_hash.is_empty()).map(|c| c.email.as_str());
    let view = EmailView {
        email: identity.value("email"),
        verified: identity.verified("email"),
        pending,
        email_error: outcome.email_error,
        code_error: outcome.code_error,
        notice: outcome.notice,
    };
    let frame = Frame { lang, csrf: &token, signed_in: true, path: "/account/email" };
    Ok(html(status, pages::account::email(&frame, &view)))
}

async fn email_page(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let notice = match query_param(query.as_deref(), "notice").as_deref() {
        Some("code_sent") => Some("email.code_sent"),
        _ => None,
    };
    render(
        &state,
        &session,
        lang,
        &auth.citizen_id,
        StatusCode::OK,
        Outcome { email_error: None, code_error: None, notice },
    )
    .await
}

/// A refusal the citizen can act on, shown next to `field`; anything else is a page error.
async fn refused(
    state: &AppState,
    session: &Session,
    lang: Lang,
    citizen_id: &str,
    error: EmailError,
    on_code: bool,
) -> Result<Response, PageError> {
    if matches!(error, EmailError::Store(_) | EmailError::NoRandomness(_)) {
        return Err(PageError::internal(&error));
    }
    let key = Some(error.message_key());
    let outcome = if on_code {
        Outcome { email_error: None, code_error: key, notice: None }
    } else {
        Outcome { email_error: key, code_error: None, notice: None }
    };
    let status = match error {
        EmailError::TooManySends { .. } => StatusCode::TOO_MANY_REQUESTS,
        EmailError::Taken => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    render(state, session, lang, citizen_id, status, outcome).await
}

async fn set_email(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let typed = form.field("email").unwrap_or_default();
    // Replacing a verified address silences the security notices: the
    // same confirmation as the other sensitive changes.
    let identity = Identity::load(&state.db, &auth.citizen_id).await?;
    let replaces_verified = identity
        .as_ref()
        .is_some_and(|i| i.verified("email") && i.value("email").is_some_and(|current| current != typed.trim()));
    if replaces_verified
        && let Some(page) =
            super::account::confirm_first(&state, &session, lang, &auth, "/account/email", &form).await?
    {
        return Ok(page);
    }
    match email::send_code(&state, &auth.citizen_id, Some(&typed), lang).await {
        Ok(_) => Ok(see_other("/account/email?notice=code_sent")),
        Err(e) => refused(&state, &session, lang, &auth.citizen_id, e, false).await,
    }
}

async fn resend(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    _form: CsrfForm,
) -> Result<Response, PageError> {
    match email::send_code(&state, &auth.citizen_id, None, lang).await {
        Ok(_) => Ok(see_other("/account/email?notice=code_sent")),
        Err(e) => refused(&state, &session, lang, &auth.citizen_id, e, true).await,
    }
}

async fn verify_code(
    State(state): State<AppState>,
    session: Session,
    lang: Lang,
    SignedIn(auth): SignedIn,
    form: CsrfForm,
) -> Result<Response, PageError> {
    let code = form.field("code").unwrap_or_default();
    match email::verify_code(&state, &auth.citizen_id, &code).await {
        Ok(_) => Ok(see_other("/account?notice=email_verified")),
        Err(e) => refused(&state, &session, lang, &auth.citizen_id, e, true).await,
    }
}

async fn confirm_page(session: Session, lang: Lang, RawQuery(query): RawQuery) -> Result<Response, PageError> {
    let token = csrf::token(&session).await?;
    let secret = query_param(query.as_deref(), "token").unwrap_or_default();
    let frame = Frame { lang, csrf: &token, signed_in: false, path: "/account/email/confirm" };
    Ok(html(StatusCode::OK, pages::account::email_confirm(&frame, &secret)))
}

/// Whoever follows the link: the secret proves the mailbox.
async fn confirm(State(state): State<AppState>, form: CsrfForm) -> Result<Response, PageError> {
    let secret = form.field("token").unwrap_or_default();
    match email::verify_link(&state, &secret).await {
        Ok(_) => Ok(see_other("/account?notice=email_verified")),
        Err(e @ (EmailError::Store(_) | EmailError::NoRandomness(_))) => Err(PageError::internal(&e)),
        Err(e) => Err(PageError::new(StatusCode::BAD_REQUEST, e.message_key(), "/account/email")),
    }
}
