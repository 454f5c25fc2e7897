//! The authorization endpoint (OIDC Core §3.1.2): validate, hand the citizen
//! to sign-in or consent when needed, resume the same request afterwards,
//! and answer the client with a single-use code.

pub mod request;
pub mod response;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use self::request::{AccountChoice, AuthorizationRequest, Refusal, WantedAcr};
use self::response::redirect;
use super::error::{ErrorCode, OAuthError};
use super::grant::{Grant, subject};
use super::params::Params;
use crate::app::AppState;
use crate::citizen::identity::{Identity, Level, identity_level};
use crate::clients::{self, Client};
use crate::endings::cache_keys;
use crate::login::AuthSession;
use crate::outage::{Dependency, Failure};
use crate::random;
use crate::web::extract::{again_as_get, carries_session_cookie, remember_ui_locales};
use crate::web::respond::PageError;

/// Authorization codes live 60 s (DESIGN.md; RFC 6749 §4.1.2 says at most 10 min).
pub const CODE_TTL: i64 = 60;
/// How long a code's replay marker outlives the code.
pub const USED_CODE_MEMORY: i64 = 600;
/// A pending request waits this long for sign-in or sign-up and consent.
const PENDING_TTL: i64 = 1_800;
/// Session key listing the pending requests this browser started.
const PENDING_KEY: &str = "pending_authorizations";

/// What a code stands for, stored under its hash until redeemed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    pub grant: Grant,
    pub redirect_uri: String,
    /// `None` only for a client exempt from PKCE (then `nonce` is set).
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
}

/// `GET` and `POST /authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    session: Session,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, PageError> {
    let raw: &[u8] = if method == Method::POST {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form {
            return Err(PageError::bad_request("authz.not_a_form"));
        }
        &body
    } else {
        query.as_deref().unwrap_or_default().as_bytes()
    };
    // Repeated or oversized parameters: we cannot tell which redirect_uri to trust.
    let params = Params::parse(raw).map_err(|e| {
        tracing::info!(reason = %e.description, "malformed authorization request");
        PageError::bad_request("authz.malformed")
    })?;
    // A POST from another site never sees the session (SameSite=Lax): without
    // the cookie, touching the session would set a new one over the citizen's.
    if method == Method::POST && !carries_session_cookie(&headers) {
        return Ok(again_as_get(super::paths::AUTHORIZE, &params));
    }
    // Pages from here on (sign-in, consent, errors) speak the language asked for.
    remember_ui_locales(&session, params.get("ui_locales")).await;
    match request::validate(&state, &params).await {
        Ok((request, client)) => Ok(proceed(&state, &session, request, &client, None).await),
        Err(Refusal::Page(refused)) => Err(refused),
        Err(Refusal::Redirect(target, error)) => Ok(target.error(&state.config.issuer, &error)),
    }
}

/// `GET /authorize/continue/{id}`: back from sign-in (or consent).
pub async fn resume(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let request = pending(&state, &session, &id).await.ok_or(PageError::bad_request("authz.expired"))?;
    let client =
        clients::find(&state.db, &request.client_id).await?.ok_or(PageError::bad_request("authz.unknown_client"))?;
    Ok(proceed(&state, &session, request, &client, Some(&id)).await)
}

/// Loads a pending request, only for the browser that started it.
pub async fn pending(state: &AppState, session: &Session, id: &str) -> Option<AuthorizationRequest> {
    let mine: Vec<String> = session.get(PENDING_KEY).await.ok().flatten().unwrap_or_default();
    if !mine.iter().any(|p| p == id) {
        return None;
    }
    let raw = state.cache.get(&cache_keys::pending_authorization(id)).await.ok()??;
    serde_json::from_slice(&raw).ok()
}

/// Why a pending request could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    #[error("encoding a pending request: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("{0}")]
    Cache(#[from] crate::cache::CacheError),
    #[error("session store: {0}")]
    Session(#[from] tower_sessions::session::Error),
}

impl Failure for PendingError {
    fn unavailable(&self) -> Option<Dependency> {
        match self {
            Self::Encode(_) => None,
            Self::Cache(e) => e.unavailable(),
            Self::Session(e) => e.unavailable(),
        }
    }
}

/// Stores (or updates) a pending request bound to this browser session.
pub async fn save_pending(
    state: &AppState,
    session: &Session,
    id: Option<&str>,
    request: &AuthorizationRequest,
) -> Result<String, PendingError> {
    let id = id.map(str::to_owned).unwrap_or_else(random::id);
    let value = serde_json::to_vec(request)?;
    state.cache.put(&cache_keys::pending_authorization(&id), &value, PENDING_TTL).await?;
    let mut mine: Vec<String> = session.get(PENDING_KEY).await?.unwrap_or_default();
    if !mine.contains(&id) {
        mine.push(id.clone());
        // A browser has few requests in flight; forget the oldest.
        let excess = mine.len().saturating_sub(8);
        mine.drain(..excess);
        session.insert(PENDING_KEY, mine).await?;
    }
    Ok(id)
}

/// The level a session proved (its `acr`).
fn session_level(auth: &AuthSession) -> Level {
    Level::parse(&auth.acr).unwrap_or(Level::Eidas1)
}

/// Whether signing in again would raise this session to the level the request
/// asks for: the identity reaches it and only the sign-in held the session
/// below it (it predates the identity's verification, or its authenticator
/// proves less).
async fn step_up_helps(state: &AppState, auth: &AuthSession, wanted: WantedAcr) -> Result<bool, OAuthError> {
    let (WantedAcr::Voluntary(level) | WantedAcr::Essential(Some(level))) = wanted else { return Ok(false) };
    if session_level(auth) >= level {
        return Ok(false);
    }
    let identity = Identity::load(&state.db, &auth.citizen_id).await?;
    Ok(identity.is_some_and(|identity| identity_level(&identity) >= level))
}

async fn proceed(
    state: &AppState,
    session: &Session,
    request: AuthorizationRequest,
    client: &Client,
    pending_id: Option<&str>,
) -> Response {
    match decide(state, session, request.clone(), client, pending_id).await {
        Ok(response) => response,
        Err(error) => {
            if let Some(id) = pending_id {
                let _ = state.cache.delete(&cache_keys::pending_authorization(id)).await;
            }
            request.target().error(&state.config.issuer, &error)
        }
    }
}

async fn decide(
    state: &AppState,
    session: &Session,
    request: AuthorizationRequest,
    client: &Client,
    pending_id: Option<&str>,
) -> Result<Response, OAuthError> {
    let now = state.clock.now();
    let auth = AuthSession::current(session, &state.db, now).await.map_err(|e| OAuthError::failed(&e))?;
    // Whether the signed-in citizen is someone other than the one id_token_hint
    // or a `sub` value in `claims` names: then sign in again (as that citizen).
    let other_person = match &auth {
        Some(auth) if request.named_subjects().next().is_some() => {
            let sub = subject(state, client, &auth.citizen_id).await?;
            request.named_subjects().any(|named| named != sub)
        }
        _ => false,
    };
    // A sign-in this request asked for satisfies prompt=login and max_age, and chose the account.
    let fresh = auth.as_ref().is_some_and(|auth| request.sent_to_sign_in && auth.auth_time >= request.received_at);
    let another_account = request.account_choice == Some(AccountChoice::Another);
    let login_needed = match &auth {
        None => true,
        Some(auth) => {
            let too_old = request.max_age.is_some_and(|max| now - auth.auth_time > max);
            // A voluntary level never turns prompt=none into an error: the real level is returned.
            let wanted = request.wanted_acr();
            let may_step_up = !matches!(wanted, WantedAcr::Voluntary(_)) || !request.prompt.none;
            let step_up = !fresh && may_step_up && step_up_helps(state, auth, wanted).await?;
            !fresh && (request.prompt.login || too_old || other_person || step_up || another_account)
        }
    };
    if login_needed {
        if request.prompt.none {
            return Err(OAuthError::new(ErrorCode::LoginRequired, "the citizen must sign in"));
        }
        let request = AuthorizationRequest { sent_to_sign_in: true, ..request };
        let id = save_pending(state, session, pending_id, &request).await.map_err(|e| OAuthError::failed(&e))?;
        let mut next = format!("/signin?next=%2Fauthorize%2Fcontinue%2F{id}");
        if let Some(locales) = &request.ui_locales {
            next.push_str("&ui_locales=");
            next.push_str(&url::form_urlencoded::byte_serialize(locales.as_bytes()).collect::<String>());
        }
        return Ok(redirect(&next));
    }
    let Some(auth) = auth else {
        return Err(OAuthError::server("signed-in session vanished"));
    };
    // Signed in afresh, but as someone other than the citizen named (OIDC Core
    // §3.1.2.1, §5.5.1: never an answer for another user).
    if other_person {
        return Err(OAuthError::new(
            ErrorCode::LoginRequired,
            "the signed-in citizen is not the one id_token_hint or the claims request names",
        ));
    }
    // OIDC Core §3.1.2.1 `select_account`: the signed-in citizen chooses
    // between going on as themselves and signing in as someone else (a
    // sign-in this request caused has already chosen).
    if request.prompt.select_account && request.account_choice.is_none() && !fresh {
        let id = save_pending(state, session, pending_id, &request).await.map_err(|e| OAuthError::failed(&e))?;
        return Ok(redirect(&format!("/authorize/select-account/{id}")));
    }
    // A voluntary level not reached is not an error: the ID token says the real one.
    if let WantedAcr::Essential(wanted) = request.wanted_acr()
        && wanted.is_none_or(|level| session_level(&auth) < level)
    {
        return Err(OAuthError::new(
            ErrorCode::UnmetAuthenticationRequirements,
            "the citizen's identity does not reach the requested assurance level",
        ));
    }

    let consented_scope = state.db.consent(&auth.citizen_id, &client.client_id).await?;
    // First-party services an administrator entitled need no consent page,
    // but offline access is consented to each time it is asked for, by
    // every service (OIDC Core §11: the OP MUST always obtain consent).
    let offline = request.scope.contains("offline_access");
    let covered = !offline
        && (client.skip_consent || consented_scope.is_some_and(|granted| request.scope.is_subset_of(&granted)));
    let consent_needed = !request.consented && (!covered || request.prompt.consent);
    if consent_needed {
        if request.prompt.none {
            return Err(OAuthError::new(ErrorCode::ConsentRequired, "the citizen has not consented to this service"));
        }
        let id = save_pending(state, session, pending_id, &request).await.map_err(|e| OAuthError::failed(&e))?;
        return Ok(redirect(&format!("/authorize/consent/{id}")));
    }

    let code = random::token::<32>()?;
    let record = CodeRecord {
        grant: Grant {
            grant_id: random::id(),
            client_id: client.client_id.clone(),
            citizen_id: auth.citizen_id.clone(),
            sid: auth.sid.clone(),
            scope: request.scope.clone(),
            claims: request.claims.clone(),
            auth_time: auth.auth_time,
            acr: auth.acr.clone(),
            amr: auth.amr.clone(),
        },
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
    };
    let value = serde_json::to_vec(&record).map_err(OAuthError::server)?;
    // The replay marker exists from the start, so a replay racing the first
    // redemption always finds the grant to revoke.
    state.cache.put(&cache_keys::used_code(&code), record.grant.grant_id.as_bytes(), USED_CODE_MEMORY).await?;
    state.cache.put(&cache_keys::code(&code), &value, CODE_TTL).await?;
    if let Some(id) = pending_id {
        state.cache.delete(&cache_keys::pending_authorization(id)).await?;
    }
    tracing::info!(client_id = %client.client_id, "authorization code issued");
    Ok(request.target().respond(&state.config.issuer, vec![("code", code)]))
}
