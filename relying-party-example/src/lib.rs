//! A territorial service that logs citizens in with Sésame through the
//! `openidconnect` crate: discovery, authorization code + PKCE + nonce +
//! state, ID token validation, UserInfo, refresh, RP-initiated logout and a
//! back-channel logout receiver (OIDC Back-Channel Logout 1.0 §2.6).
//!
//! Read it top to bottom: `router` builds the service; each handler is one
//! step of the integration, in the order a citizen meets them.

mod logout_token;
mod pages;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::PrivateCookieJar;
use axum_extra::extract::cookie::{Cookie, Key, SameSite};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJwsSigningAlgorithm, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    LogoutRequest, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, RefreshToken, Scope, TokenResponse as _,
};
use serde::{Deserialize, Serialize};

/// How the service is configured (environment variables in `main.rs`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Sésame's issuer, e.g. `http://localhost:8080`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// This service's public base URL, e.g. `http://127.0.0.1:3000`.
    pub base_url: String,
    /// Scopes to ask for besides `openid`.
    pub scopes: Vec<String>,
}

/// The current Unix time; injected so tests can run on the provider's clock.
pub type Now = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_now() -> Now {
    #[allow(clippy::disallowed_methods)]
    Arc::new(|| chrono::Utc::now().timestamp())
}

/// The client type `from_provider_metadata` gives: authorization endpoint
/// set, token and UserInfo endpoints from discovery.
type OidcClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// A signed-in citizen, as this service remembers them (server side; the
/// browser holds only an encrypted session id).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalSession {
    pub sub: String,
    pub sid: Option<String>,
    pub acr: Option<String>,
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub userinfo: serde_json::Value,
}

/// What the browser carries between `/login` and `/callback` (encrypted).
#[derive(Debug, Serialize, Deserialize)]
struct PendingLogin {
    state: String,
    nonce: String,
    pkce_verifier: String,
}

struct Inner {
    settings: Settings,
    client: OidcClient,
    end_session: Option<openidconnect::EndSessionUrl>,
    jwks_uri: String,
    http: reqwest::Client,
    cookie_key: Key,
    now: Now,
    sessions: Mutex<HashMap<String, LocalSession>>,
    logout_tokens: logout_token::Replay,
}

#[derive(Clone)]
pub struct Rp(Arc<Inner>);

impl axum::extract::FromRef<Rp> for Key {
    fn from_ref(rp: &Rp) -> Key {
        rp.0.cookie_key.clone()
    }
}

/// What registration gave this service.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub registration_access_token: Option<String>,
}

/// Step 0 — dynamic client registration (RFC 7591) with the initial access
/// token a Sésame administrator issued for your organisation.
pub async fn register(
    http: &reqwest::Client,
    issuer: &str,
    base_url: &str,
    client_name: &str,
    initial_access_token: &str,
) -> Result<Credentials, SetupError> {
    let discovery: serde_json::Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| SetupError::Discovery(issuer.to_owned(), e.to_string()))?
        .json()
        .await
        .map_err(|e| SetupError::Discovery(issuer.to_owned(), e.to_string()))?;
    let endpoint = discovery["registration_endpoint"]
        .as_str()
        .ok_or_else(|| SetupError::Registration("the provider has no registration_endpoint".into()))?;
    let metadata = serde_json::json!({
        "client_name": client_name,
        "redirect_uris": [format!("{base_url}/callback")],
        "post_logout_redirect_uris": [format!("{base_url}/")],
        "backchannel_logout_uri": format!("{base_url}/backchannel-logout"),
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid profile email offline_access",
        "id_token_signed_response_alg": "ES256",
    });
    let response = http
        .post(endpoint)
        .bearer_auth(initial_access_token)
        .json(&metadata)
        .send()
        .await
        .map_err(|e| SetupError::Registration(e.to_string()))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.map_err(|e| SetupError::Registration(e.to_string()))?;
    if !status.is_success() {
        return Err(SetupError::Registration(format!(
            "{}: {}",
            body["error"].as_str().unwrap_or("error"),
            body["error_description"].as_str().unwrap_or_default()
        )));
    }
    let text = |name: &str| body[name].as_str().map(str::to_owned);
    Ok(Credentials {
        client_id: text("client_id").ok_or_else(|| SetupError::Registration("no client_id in the answer".into()))?,
        client_secret: text("client_secret"),
        registration_access_token: text("registration_access_token"),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("registration refused: {0}")]
    Registration(String),
    #[error("invalid setting: {0}")]
    Setting(String),
    #[error("discovery at {0} failed: {1}")]
    Discovery(String, String),
}

const SESSION_COOKIE: &str = "rp_session";
const LOGIN_COOKIE: &str = "rp_login";

impl Rp {
    /// Step 1 — discovery: read Sésame's metadata once, at start.
    pub async fn discover(settings: Settings, http: reqwest::Client, now: Now) -> Result<Self, SetupError> {
        let issuer =
            IssuerUrl::new(settings.issuer.clone()).map_err(|e| SetupError::Setting(format!("issuer: {e}")))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &http)
            .await
            .map_err(|e| SetupError::Discovery(settings.issuer.clone(), format!("{e:?}")))?;
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let jwks_uri = metadata.jwks_uri().url().to_string();
        let redirect = RedirectUrl::new(format!("{}/callback", settings.base_url))
            .map_err(|e| SetupError::Setting(format!("base URL: {e}")))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(settings.client_id.clone()),
            settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect);
        Ok(Rp(Arc::new(Inner {
            settings,
            client,
            end_session,
            jwks_uri,
            http,
            cookie_key: Key::generate(),
            now,
            sessions: Mutex::new(HashMap::new()),
            logout_tokens: logout_token::Replay::default(),
        })))
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/", get(home))
            .route("/login", get(login))
            .route("/callback", get(callback))
            .route("/refresh", post(refresh))
            .route("/logout", post(logout))
            .route("/backchannel-logout", post(backchannel_logout))
            .with_state(self)
    }

    /// Local sessions now open (for tests and the home page).
    pub fn open_sessions(&self) -> Vec<LocalSession> {
        self.sessions().values().cloned().collect()
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, LocalSession>> {
        match self.0.sessions.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn session_of(&self, jar: &PrivateCookieJar) -> Option<(String, LocalSession)> {
        let id = jar.get(SESSION_COOKIE)?.value().to_owned();
        let session = self.sessions().get(&id).cloned()?;
        Some((id, session))
    }

    /// ID tokens are checked on Sésame's clock-compatible time, with every
    /// asymmetric algorithm Sésame signs with (the crate allows only RS256
    /// unless told).
    fn verify_id_token<'a>(
        &self,
        token: &'a CoreIdToken,
        nonce: &Nonce,
    ) -> Result<&'a openidconnect::core::CoreIdTokenClaims, String> {
        let now = (self.0.now)();
        let verifier = self
            .0
            .client
            .id_token_verifier()
            .set_allowed_algs(vec![
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
                CoreJwsSigningAlgorithm::RsaSsaPssSha256,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                CoreJwsSigningAlgorithm::EdDsa,
            ])
            .set_time_fn(move || chrono::DateTime::from_timestamp(now, 0).unwrap_or_default());
        token.claims(&verifier, nonce).map_err(|e| format!("ID token refused: {e}"))
    }
}

/// `sid` (OIDC Front-/Back-Channel Logout) of an ID token already verified:
/// the crate's standard claims do not carry it.
fn sid_of(id_token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = id_token.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("sid")?.as_str().map(str::to_owned)
}

fn cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value)).http_only(true).same_site(SameSite::Lax).path("/").build()
}

fn failure(status: StatusCode, message: &str) -> Response {
    (status, Html(pages::error(message))).into_response()
}

/// The home page: a sign-in button, or what Sésame told us about the citizen.
async fn home(State(rp): State<Rp>, jar: PrivateCookieJar) -> Response {
    Html(pages::home(rp.session_of(&jar).map(|(_, s)| s).as_ref())).into_response()
}

/// Step 2 — send the citizen to Sésame with PKCE, a nonce and a state, kept
/// in an encrypted cookie until they come back.
async fn login(State(rp): State<Rp>, jar: PrivateCookieJar) -> (PrivateCookieJar, Redirect) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request =
        rp.0.client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
    for scope in &rp.0.settings.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.url();
    let pending = PendingLogin {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    };
    let jar = jar.add(cookie(LOGIN_COOKIE, serde_json::to_string(&pending).unwrap_or_default()));
    (jar, Redirect::to(url.as_str()))
}

#[derive(Debug, Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Step 3 — the callback: check state and `iss` (RFC 9207), exchange the
/// code with the PKCE verifier, validate the ID token, call UserInfo.
async fn callback(State(rp): State<Rp>, jar: PrivateCookieJar, Query(params): Query<CallbackParams>) -> Response {
    let Some(pending) = jar.get(LOGIN_COOKIE).and_then(|c| serde_json::from_str::<PendingLogin>(c.value()).ok()) else {
        return failure(StatusCode::BAD_REQUEST, "Aucune connexion en cours / no login in progress.");
    };
    let jar = jar.remove(Cookie::from(LOGIN_COOKIE));
    if params.state.as_deref() != Some(&pending.state) {
        return failure(StatusCode::BAD_REQUEST, "Le paramètre state ne correspond pas / state mismatch.");
    }
    if params.iss.as_deref() != Some(&rp.0.settings.issuer) {
        return failure(StatusCode::BAD_REQUEST, "Réponse d’un autre fournisseur / response from another issuer.");
    }
    if let Some(error) = params.error {
        let message =
            format!("Sésame a répondu / Sésame answered: {error} {}", params.error_description.unwrap_or_default());
        return (jar, failure(StatusCode::BAD_REQUEST, &message)).into_response();
    }
    let Some(code) = params.code else { return failure(StatusCode::BAD_REQUEST, "Code manquant / no code.") };
    let exchange = match rp.0.client.exchange_code(AuthorizationCode::new(code)) {
        Ok(request) => request.set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier)),
        Err(e) => return failure(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}")),
    };
    let tokens = match exchange.request_async(&rp.0.http).await {
        Ok(tokens) => tokens,
        Err(e) => {
            return failure(StatusCode::BAD_GATEWAY, &format!("Échange du code refusé / code exchange failed: {e:?}"));
        }
    };
    let Some(id_token) = tokens.id_token() else {
        return failure(StatusCode::BAD_GATEWAY, "Pas de jeton d’identité / no ID token.");
    };
    let claims = match rp.verify_id_token(id_token, &Nonce::new(pending.nonce)) {
        Ok(claims) => claims,
        Err(e) => return failure(StatusCode::BAD_GATEWAY, &e),
    };
    let userinfo: CoreUserInfoClaims =
        match rp.0.client.user_info(tokens.access_token().clone(), Some(claims.subject().clone())) {
            Ok(request) => match request.request_async(&rp.0.http).await {
                Ok(info) => info,
                Err(e) => return failure(StatusCode::BAD_GATEWAY, &format!("UserInfo: {e:?}")),
            },
            Err(e) => return failure(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}")),
        };
    let session = LocalSession {
        sub: claims.subject().to_string(),
        sid: sid_of(&id_token.to_string()),
        acr: claims.auth_context_ref().map(|a| a.to_string()),
        id_token: id_token.to_string(),
        access_token: tokens.access_token().secret().clone(),
        refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
        userinfo: serde_json::to_value(&userinfo).unwrap_or_default(),
    };
    let id = uuid::Uuid::new_v4().to_string();
    rp.sessions().insert(id.clone(), session);
    (jar.add(cookie(SESSION_COOKIE, id)), Redirect::to("/")).into_response()
}

/// Step 4 — refresh: a new access token (and a rotated refresh token).
async fn refresh(State(rp): State<Rp>, jar: PrivateCookieJar) -> Response {
    let Some((id, session)) = rp.session_of(&jar) else { return Redirect::to("/").into_response() };
    let Some(refresh) = session.refresh_token.clone() else { return Redirect::to("/").into_response() };
    let token = RefreshToken::new(refresh);
    let request = match rp.0.client.exchange_refresh_token(&token) {
        Ok(request) => request,
        Err(e) => return failure(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}")),
    };
    match request.request_async(&rp.0.http).await {
        Ok(tokens) => {
            if let Some(s) = rp.sessions().get_mut(&id) {
                s.access_token = tokens.access_token().secret().clone();
                s.refresh_token = tokens.refresh_token().map(|t| t.secret().clone()).or(s.refresh_token.take());
            }
            Redirect::to("/").into_response()
        }
        Err(e) => failure(StatusCode::BAD_GATEWAY, &format!("Rafraîchissement refusé / refresh refused: {e:?}")),
    }
}

/// Step 5 — RP-initiated logout: end the local session, then let Sésame end
/// its own (and every other service's) with the ID token as hint.
async fn logout(State(rp): State<Rp>, jar: PrivateCookieJar) -> Response {
    let Some((id, session)) = rp.session_of(&jar) else { return Redirect::to("/").into_response() };
    rp.sessions().remove(&id);
    let jar = jar.remove(Cookie::from(SESSION_COOKIE));
    let Some(end_session) = rp.0.end_session.clone() else { return (jar, Redirect::to("/")).into_response() };
    let mut request = LogoutRequest::from(end_session).set_client_id(ClientId::new(rp.0.settings.client_id.clone()));
    if let Ok(hint) = session.id_token.parse::<CoreIdToken>() {
        request = request.set_id_token_hint(&hint);
    }
    if let Ok(back) = PostLogoutRedirectUrl::new(format!("{}/", rp.0.settings.base_url)) {
        request = request.set_post_logout_redirect_uri(back).set_state(CsrfToken::new_random());
    }
    (jar, Redirect::to(request.http_get_url().as_str())).into_response()
}

#[derive(Debug, Deserialize)]
struct BackchannelForm {
    logout_token: Option<String>,
}

/// Step 6 — back-channel logout: Sésame tells us a login ended; we check the
/// logout token and close the matching local sessions.
async fn backchannel_logout(State(rp): State<Rp>, Form(form): Form<BackchannelForm>) -> Response {
    let refuse = |why: String| {
        tracing::warn!(reason = %why, "logout token refused");
        (
            StatusCode::BAD_REQUEST,
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            axum::Json(serde_json::json!({"error": "invalid_request", "error_description": why})),
        )
            .into_response()
    };
    let Some(token) = form.logout_token else { return refuse("logout_token is required".into()) };
    let checked = logout_token::verify(
        &token,
        &rp.0.http,
        &rp.0.jwks_uri,
        &rp.0.settings.issuer,
        &rp.0.settings.client_id,
        (rp.0.now)(),
        &rp.0.logout_tokens,
    )
    .await;
    match checked {
        Ok(subject) => {
            let mut sessions = rp.sessions();
            let before = sessions.len();
            sessions.retain(|_, s| !subject.matches(&s.sub, s.sid.as_deref()));
            tracing::info!(ended = before - sessions.len(), "back-channel logout");
            (StatusCode::OK, [(axum::http::header::CACHE_CONTROL, "no-store")]).into_response()
        }
        Err(why) => refuse(why),
    }
}
