//! HTTP edge of the ceremonies: the sign-in, sign-up and recovery pages
//! (with a code, or with a counter's enrolment link),
//! their JSON start/finish endpoints (CSRF token in `x-csrf-token`), and
//! sign-out. Each handler: check CSRF → call `ceremony` → answer.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_sessions::Session;

use super::PasskeyError;
use super::ceremony::{self, Login};
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::citizen::assisted_recovery;
use crate::citizen::identity::{Identity, Level, session_acr};
use crate::citizen::{IdentifierError, Profile, ProfileProblem, RecoveryCode};
use crate::endings::{self, LoginEnd};
use crate::i18n::Lang;
use crate::login::{AuthSession, safe_next};
use crate::store::{LoginSessionRecord, NewAuditEvent};
use crate::web::extract::{CsrfForm, MaybeSignedIn, query_param};
use crate::web::pages::{self, Frame};
use crate::web::respond::{JsonError, PageError, device_summary, html, see_other};
use crate::web::{csrf, known_browser};

/// Session key of what the "identifier shown once" page shows.
const SIGNED_UP_KEY: &str = "signed_up";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signin", get(sign_in_page))
        .route("/signin/start", post(sign_in_start))
        .route("/signin/finish", post(sign_in_finish))
        .route("/signup", get(sign_up_page))
        .route("/signup/start", post(sign_up_start))
        .route("/signup/finish", post(sign_up_finish))
        .route("/signup/done", get(signed_up_page))
        .route("/recover", get(recover_page))
        .route("/recover/start", post(recover_start))
        .route("/recover/finish", post(recover_finish))
        .route("/recover/assisted", get(assisted_recover_page))
        .route("/recover/assisted/start", post(assisted_recover_start))
        .route("/recover/assisted/finish", post(assisted_recover_finish))
        .route("/account/passkeys/start", post(add_passkey_start))
        .route("/account/passkeys/finish", post(add_passkey_finish))
        .route("/account/confirm/start", post(confirm_start))
        .route("/account/confirm/finish", post(confirm_finish))
        .route("/signout", post(sign_out))
}

/// Where to go after a login: `next` if it is a local path, else `/account`.
fn destination(next: Option<&str>) -> String {
    next.and_then(safe_next).unwrap_or("/account").to_owned()
}

// --- pages ----------------------------------------------------------------

fn path_with(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

async fn sign_in_page(
    lang: Lang,
    session: Session,
    MaybeSignedIn(auth): MaybeSignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let token = csrf::token(&session).await?;
    let next = query_param(query.as_deref(), "next").filter(|n| safe_next(n).is_some()).unwrap_or_default();
    let path = path_with("/signin", query.as_deref());
    let frame = Frame { lang, csrf: &token, signed_in: auth.is_some(), path: &path };
    Ok(html(StatusCode::OK, pages::sign_in(&frame, &next)))
}

async fn sign_up_page(
    lang: Lang,
    session: Session,
    MaybeSignedIn(auth): MaybeSignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let token = csrf::token(&session).await?;
    let next = query_param(query.as_deref(), "next").filter(|n| safe_next(n).is_some()).unwrap_or_default();
    let path = path_with("/signup", query.as_deref());
    let frame = Frame { lang, csrf: &token, signed_in: auth.is_some(), path: &path };
    Ok(html(StatusCode::OK, pages::sign_up(&frame, &next)))
}

#[derive(Serialize, Deserialize)]
struct SignedUpView {
    identifier: String,
    codes: Vec<String>,
    next: String,
    /// Shown after an assisted recovery rather than a sign-up.
    #[serde(default)]
    recovered: bool,
}

impl SignedUpView {
    fn new(identifier: String, codes: &[RecoveryCode], next: String, recovered: bool) -> Self {
        Self { identifier, codes: codes.iter().map(RecoveryCode::grouped).collect(), next, recovered }
    }
}

/// The identifier and recovery codes, shown once: taken from the session.
async fn signed_up_page(
    lang: Lang,
    session: Session,
    MaybeSignedIn(auth): MaybeSignedIn,
) -> Result<Response, PageError> {
    let token = csrf::token(&session).await?;
    let view: Option<SignedUpView> = session.remove(SIGNED_UP_KEY).await?;
    let Some(view) = view else { return Ok(see_other("/account")) };
    let frame = Frame { lang, csrf: &token, signed_in: auth.is_some(), path: "/account" };
    let shown = pages::ShownOnce { identifier: &view.identifier, recovery_codes: &view.codes, next: &view.next };
    Ok(html(StatusCode::OK, pages::signed_up(&frame, &shown, view.recovered)))
}

/// `GET /recover/assisted?token=…`: the enrolment link handed over at a
/// counter; a clear page when it is unknown, used or expired.
async fn assisted_recover_page(
    State(state): State<AppState>,
    lang: Lang,
    session: Session,
    MaybeSignedIn(auth): MaybeSignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let token = query_param(query.as_deref(), "token").unwrap_or_default();
    if assisted_recovery::pending(&state.cache, &token).await?.is_none() {
        return Err(PageError::new(StatusCode::GONE, "err.assisted_link", "/recover"));
    }
    let csrf = csrf::token(&session).await?;
    let path = path_with("/recover/assisted", query.as_deref());
    let frame = Frame { lang, csrf: &csrf, signed_in: auth.is_some(), path: &path };
    Ok(html(StatusCode::OK, pages::assisted_recover(&frame, &token)))
}

async fn recover_page(lang: Lang, session: Session, MaybeSignedIn(auth): MaybeSignedIn) -> Result<Response, PageError> {
    let token = csrf::token(&session).await?;
    let frame = Frame { lang, csrf: &token, signed_in: auth.is_some(), path: "/recover" };
    Ok(html(StatusCode::OK, pages::recover(&frame)))
}

/// `POST /signout`: ends this browser's login everywhere.
async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    MaybeSignedIn(auth): MaybeSignedIn,
    _form: CsrfForm,
) -> Result<Response, PageError> {
    // Every service of this login hears of it (back-channel, queued).
    match auth {
        Some(auth) => drop(crate::oidc::logout::end_login(&state, &session, &auth).await?),
        None => AuthSession::end(&session).await?,
    }
    Ok(see_other("/signin"))
}

// --- JSON ceremony endpoints -------------------------------------------------

/// A ceremony call, as an extractor: language, CSRF check (header),
/// ceremony binding and the parsed JSON object body.
struct Call {
    lang: Lang,
    binding: String,
    body: Value,
}

impl Call {
    /// The ceremony's own answer to one of its errors.
    fn fail(&self, error: PasskeyError) -> JsonError {
        json_error(self.lang, error)
    }
}

impl FromRequest<AppState> for Call {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let Ok(lang) = Lang::from_request_parts(&mut parts, state).await;
        let fail = |e: JsonError| e.into_response();
        let session = parts.extensions.get::<Session>().cloned();
        let Some(session) = session else { return Err(fail(JsonError::internal(lang, &"no session layer"))) };
        let presented = parts.headers.get(csrf::HEADER).and_then(|v| v.to_str().ok());
        csrf::verify(&session, presented).await.map_err(|_| fail(JsonError::csrf(lang)))?;
        let binding = csrf::binding(&session).await.map_err(|e| fail(JsonError::internal(lang, &e)))?;
        // Too large: the body limit's own answer (413).
        let body =
            Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        let invalid =
            || fail(JsonError::new(StatusCode::BAD_REQUEST, "invalid_request", lang, "err.invalid_credential"));
        let body = if body.is_empty() { json!({}) } else { serde_json::from_slice(&body).map_err(|_| invalid())? };
        if !body.is_object() {
            return Err(invalid());
        }
        Ok(Call { lang, binding, body })
    }
}

fn text<'a>(body: &'a Value, name: &str) -> &'a str {
    body.get(name).and_then(Value::as_str).unwrap_or("")
}

fn profile_key(problem: ProfileProblem) -> &'static str {
    match problem {
        ProfileProblem::GivenNameMissing => "err.given_name_required",
        ProfileProblem::FamilyNameMissing => "err.family_name_required",
        ProfileProblem::NameInvalid(_) => "err.name_invalid",
        ProfileProblem::EmailInvalid => "err.email_invalid",
    }
}

fn field_error(lang: Lang, fields: &[(&str, &'static str)]) -> JsonError {
    let description = fields.first().map_or("", |(_, key)| lang.t(key)).to_owned();
    let map = fields.iter().map(|(field, key)| ((*field).to_owned(), Value::from(lang.t(key)))).collect();
    JsonError {
        status: StatusCode::BAD_REQUEST,
        error: "invalid_request",
        description,
        fields: Some(map),
        retry_after: None,
    }
}

/// The edge mapping of every ceremony error.
pub(crate) fn json_error(lang: Lang, error: PasskeyError) -> JsonError {
    use PasskeyError as E;
    let plain = |status, code, key| JsonError::new(status, code, lang, key);
    match error {
        E::InvalidProfile(problems) => {
            let fields: Vec<_> = problems.iter().map(|p| (p.field(), profile_key(*p))).collect();
            field_error(lang, &fields)
        }
        E::InvalidIdentifier(e) => {
            let key = match e {
                IdentifierError::WrongLength { .. } | IdentifierError::RandomnessUnavailable => "err.identifier_length",
                IdentifierError::InvalidCharacter { .. } => "err.identifier_character",
                IdentifierError::CheckCharacterMismatch => "err.identifier_check",
            };
            field_error(lang, &[("identifier", key)])
        }
        E::InvalidRecoveryCode => field_error(lang, &[("code", "err.code_invalid")]),
        E::LinkUnusable => plain(StatusCode::GONE, "link_unusable", "err.assisted_link"),
        E::RecoveryRefused => plain(StatusCode::FORBIDDEN, "recovery_refused", "err.recovery_refused"),
        E::TooManyAttempts { retry_after } => JsonError {
            retry_after: Some(retry_after),
            ..plain(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", "err.recovery_too_many")
        },
        E::InvalidCredential(why) => {
            tracing::info!(reason = why, "malformed credential refused");
            plain(StatusCode::BAD_REQUEST, "invalid_request", "err.invalid_credential")
        }
        E::CeremonyExpired => plain(StatusCode::BAD_REQUEST, "ceremony_expired", "err.ceremony_expired"),
        E::WrongSession => plain(StatusCode::FORBIDDEN, "wrong_session", "err.wrong_session"),
        E::UnknownCredential => plain(StatusCode::UNAUTHORIZED, "unknown_credential", "err.unknown_credential"),
        E::CounterRegression => plain(StatusCode::UNAUTHORIZED, "counter_regression", "err.counter_regression"),
        E::CredentialTaken => plain(StatusCode::CONFLICT, "credential_taken", "err.credential_taken"),
        E::Verification(cause) => {
            tracing::info!(cause = ?cause, "passkey verification failed");
            plain(StatusCode::UNAUTHORIZED, "verification_failed", "err.verification_failed")
        }
        other @ (E::Config(_) | E::Store(_) | E::Cache(_) | E::Ending(_) | E::Internal(_)) => {
            JsonError::internal(lang, &other)
        }
    }
}

fn redirect_json(to: &str) -> Response {
    (StatusCode::OK, [(axum::http::header::CACHE_CONTROL, "no-store")], axum::Json(json!({"redirect": to})))
        .into_response()
}

fn options_json(options: Value) -> Response {
    (StatusCode::OK, [(axum::http::header::CACHE_CONTROL, "no-store")], axum::Json(options)).into_response()
}

/// Signs this browser in after a ceremony: its previous login ends like
/// any other (its services are told), the new one (`sid`) is stored and
/// the session id renewed.
/// Adds the known-browser mark of the citizen (canonical `identifier`) who
/// just signed in or up (`web::known_browser`).
fn known_from_now_on(state: &AppState, headers: &HeaderMap, identifier: &str, mut response: Response) -> Response {
    let mark = state.keys.known_browser_mark(identifier);
    if let Some(cookie) = known_browser::remember(headers, &mark) {
        response.headers_mut().append(axum::http::header::SET_COOKIE, cookie);
    }
    response
}

async fn establish(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
    login: Login,
    ordinary_sign_in: bool,
) -> Result<(), PasskeyError> {
    let now = state.clock.now();
    let internal = |e: &dyn std::fmt::Display| PasskeyError::Internal(e.to_string());
    if let Some(previous) = AuthSession::current(session, &state.db, now).await.map_err(|e| internal(&e))? {
        endings::login_ended(state, &previous.citizen_id, &previous.sid, LoginEnd::Replaced).await?;
    }
    let sid = crate::random::token::<16>().map_err(|e| internal(&e))?;
    let expires_at = now + state.config.lifetimes.session_absolute;
    let device = device_summary(headers);
    state
        .db
        .insert_login_session(&LoginSessionRecord {
            sid: sid.clone(),
            citizen_id: login.citizen_id.clone(),
            created_at: now,
            expires_at,
            device: device.clone(),
            amr: login.amr.join(" "),
        })
        .await?;
    // A passkey just enrolled is no news; an ordinary sign-in from a new
    // browser family with this passkey is.
    let notice = match &login.passkey {
        Some(passkey) if ordinary_sign_in => {
            crate::mail::new_device_notice(&state.db, &state.config, &login.citizen_id, &device, passkey, now).await?
        }
        _ => None,
    };
    let event = AuditEvent::SignedIn { device, amr: login.amr.clone(), passkey: login.passkey.clone() };
    state.db.append_audit_event(&NewAuditEvent::new(&login.citizen_id, event, now).with_mail(notice)).await?;
    // The lower of what the identity and the authenticator prove.
    let level = match Identity::load(&state.db, &login.citizen_id).await? {
        Some(identity) => session_acr(&identity, &login.amr),
        None => Level::Eidas1,
    };
    let acr = login.acr_at_most.map_or(level, |ceiling| level.min(ceiling)).as_str();
    AuthSession { citizen_id: login.citizen_id, auth_time: now, acr: acr.to_owned(), amr: login.amr, sid, expires_at }
        .establish(session)
        .await
        .map_err(|e| internal(&e))
}

async fn sign_up_start(State(state): State<AppState>, call: Call) -> Result<Response, JsonError> {
    let email = Some(text(&call.body, "email"));
    let profile = Profile::parse(text(&call.body, "given_name"), text(&call.body, "family_name"), email)
        .map_err(|problems| call.fail(PasskeyError::InvalidProfile(problems)))?;
    let options = ceremony::start_sign_up(&state, &call.binding, profile).await.map_err(|e| call.fail(e))?;
    Ok(options_json(options))
}

async fn sign_up_finish(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    call: Call,
) -> Result<Response, JsonError> {
    let done = ceremony::finish_sign_up(&state, &call.binding, &call.body["credential"], &device_summary(&headers))
        .await
        .map_err(|e| call.fail(e))?;
    let next = destination(call.body.get("next").and_then(Value::as_str));
    establish(&state, &session, &headers, done.login, false).await.map_err(|e| call.fail(e))?;
    let identifier = done.identifier.to_string();
    let view = SignedUpView::new(identifier, &done.recovery_codes, next, false);
    let response = show_once(&session, call.lang, view).await?;
    Ok(known_from_now_on(&state, &headers, done.identifier.as_str(), response))
}

/// Keeps what the "shown once" page shows in the session and sends the
/// browser there.
async fn show_once(session: &Session, lang: Lang, view: SignedUpView) -> Result<Response, JsonError> {
    session.insert(SIGNED_UP_KEY, view).await.map_err(|e| JsonError::internal(lang, &e))?;
    Ok(redirect_json("/signup/done"))
}

async fn sign_in_start(State(state): State<AppState>, call: Call) -> Result<Response, JsonError> {
    let options = ceremony::start_sign_in(&state, &call.binding).await.map_err(|e| call.fail(e))?;
    Ok(options_json(options))
}

async fn sign_in_finish(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    call: Call,
) -> Result<Response, JsonError> {
    let login =
        ceremony::finish_sign_in(&state, &call.binding, &call.body["credential"]).await.map_err(|e| call.fail(e))?;
    let citizen = state.db.citizen_by_id(&login.citizen_id).await.map_err(|e| call.fail(e.into()))?;
    establish(&state, &session, &headers, login, true).await.map_err(|e| call.fail(e))?;
    let response = redirect_json(&destination(call.body.get("next").and_then(Value::as_str)));
    Ok(match citizen {
        Some(citizen) => known_from_now_on(&state, &headers, &citizen.identifier, response),
        None => response,
    })
}

async fn recover_start(State(state): State<AppState>, headers: HeaderMap, call: Call) -> Result<Response, JsonError> {
    let (identifier, code) = (text(&call.body, "identifier"), text(&call.body, "code"));
    let marks = known_browser::marks(&headers);
    let options =
        ceremony::start_recovery(&state, &call.binding, identifier, code, &marks).await.map_err(|e| call.fail(e))?;
    Ok(options_json(options))
}

async fn recover_finish(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    call: Call,
) -> Result<Response, JsonError> {
    let login = ceremony::finish_recovery(&state, &call.binding, &call.body["credential"], &device_summary(&headers))
        .await
        .map_err(|e| call.fail(e))?;
    establish(&state, &session, &headers, login, false).await.map_err(|e| call.fail(e))?;
    Ok(redirect_json("/account?notice=recovered"))
}

async fn assisted_recover_start(State(state): State<AppState>, call: Call) -> Result<Response, JsonError> {
    let options = ceremony::start_assisted_recovery(&state, &call.binding, text(&call.body, "token"))
        .await
        .map_err(|e| call.fail(e))?;
    Ok(options_json(options))
}

/// Signs the browser in (`eidas1`, no `mfa`) and shows the new recovery
/// codes once, on the sign-up's "shown once" page.
async fn assisted_recover_finish(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    call: Call,
) -> Result<Response, JsonError> {
    let device = device_summary(&headers);
    let done = ceremony::finish_assisted_recovery(&state, &call.binding, &call.body["credential"], &device)
        .await
        .map_err(|e| call.fail(e))?;
    establish(&state, &session, &headers, done.login, false).await.map_err(|e| call.fail(e))?;
    let view = SignedUpView::new(done.identifier, &done.recovery_codes, "/account".into(), true);
    show_once(&session, call.lang, view).await
}

/// The signed-in citizen for a JSON call, or 401 (JSON, unlike the pages'
/// `SignedIn` redirect; read after the call's CSRF check).
async fn signed_in(state: &AppState, session: &Session, lang: Lang) -> Result<AuthSession, JsonError> {
    AuthSession::current(session, &state.db, state.clock.now())
        .await
        .map_err(|e| JsonError::internal(lang, &e))?
        .ok_or_else(|| JsonError::new(StatusCode::UNAUTHORIZED, "login_required", lang, "err.not_signed_in"))
}

/// A sensitive change needs a recent passkey assertion; the script then
/// asks for one (`/account/confirm`) and tries again.
async fn fresh(state: &AppState, session: &Session, auth: &AuthSession, lang: Lang) -> Result<(), JsonError> {
    match auth.is_fresh(session, state.clock.now()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(JsonError::new(StatusCode::UNAUTHORIZED, "confirmation_required", lang, "err.confirm_first")),
        Err(e) => Err(JsonError::internal(lang, &e)),
    }
}

async fn add_passkey_start(State(state): State<AppState>, session: Session, call: Call) -> Result<Response, JsonError> {
    let auth = signed_in(&state, &session, call.lang).await?;
    fresh(&state, &session, &auth, call.lang).await?;
    let name = crate::citizen::account::passkey_name(text(&call.body, "name"), true)
        .ok_or_else(|| field_error(call.lang, &[("passkey_name", "notice.name_required")]))?;
    let citizen =
        state.db.citizen_by_id(&auth.citizen_id).await.map_err(|e| JsonError::internal(call.lang, &e))?.ok_or_else(
            || JsonError::new(StatusCode::UNAUTHORIZED, "login_required", call.lang, "err.not_signed_in"),
        )?;
    let options =
        ceremony::start_add_passkey(&state, &call.binding, &citizen, &name).await.map_err(|e| call.fail(e))?;
    Ok(options_json(options))
}

async fn add_passkey_finish(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    call: Call,
) -> Result<Response, JsonError> {
    let auth = signed_in(&state, &session, call.lang).await?;
    let device = device_summary(&headers);
    ceremony::finish_add_passkey(&state, &call.binding, &auth.citizen_id, &call.body["credential"], &device)
        .await
        .map_err(|e| call.fail(e))?;
    Ok(redirect_json("/account?notice=passkey_added"))
}

/// The signed-in citizen confirms with a passkey before a sensitive change
/// (any of their passkeys, user-verified).
async fn confirm_start(State(state): State<AppState>, session: Session, call: Call) -> Result<Response, JsonError> {
    signed_in(&state, &session, call.lang).await?;
    let options = ceremony::start_sign_in(&state, &call.binding).await.map_err(|e| call.fail(e))?;
    Ok(options_json(options))
}

async fn confirm_finish(State(state): State<AppState>, session: Session, call: Call) -> Result<Response, JsonError> {
    let auth = signed_in(&state, &session, call.lang).await?;
    let login =
        ceremony::finish_sign_in(&state, &call.binding, &call.body["credential"]).await.map_err(|e| call.fail(e))?;
    if login.citizen_id != auth.citizen_id || !login.amr.iter().any(|m| m == "user") {
        return Err(JsonError::new(StatusCode::FORBIDDEN, "wrong_account", call.lang, "err.confirm_other_account"));
    }
    auth.confirmed(&session, state.clock.now()).await.map_err(|e| JsonError::internal(call.lang, &e))?;
    Ok(redirect_json("/account"))
}
