//! Builds the axum Router and the state every handler shares; nothing else.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::cache::Cache;
use crate::clients::Fetcher;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::keys::Keyring;
use crate::oidc::{self, paths};
use crate::store::Db;
use crate::telemetry::{self, Metrics};
use crate::{admin, citizen, ops, passkey, web};

/// Everything a handler may need, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub db: Db,
    pub cache: Cache,
    pub keys: Arc<Keyring>,
    pub metrics: Arc<Metrics>,
    /// Reads the documents clients register by reference (sector, jwks_uri).
    pub fetcher: Fetcher,
    /// The discovery document, rendered once.
    pub discovery: Arc<str>,
}

impl AppState {
    pub fn new(config: Config, clock: SharedClock, db: Db, cache: Cache, keys: Arc<Keyring>) -> Self {
        let discovery = oidc::discovery::render(&config).into();
        let fetcher = Fetcher::new(crate::clients::outbound::OutboundPolicy::of(&config));
        Self { config: Arc::new(config), clock, db, cache, keys, metrics: Metrics::new(), fetcher, discovery }
    }
}

/// Name of the browser session cookie: `__Host-` pins it to our origin.
pub const SESSION_COOKIE: &str = "__Host-sesame";

/// Largest request body we read (forms, JSON registrations).
const BODY_LIMIT: usize = 64 * 1024;

/// The layers every request passes first, on both listeners: request id,
/// trace span, 30 s timeout, body limit.
fn edge<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(telemetry::request_span)
                    .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
            .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT)),
    )
}

/// The operators' listener (`SESAME_OPS_BIND`, loopback by default): metrics,
/// readiness with its detail, and the admin API. Never routed by the Ingress.
pub fn ops_router(state: AppState) -> Router {
    let router = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .nest(admin::PREFIX, admin::router())
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), web::outage::answer))
        .layer(axum::middleware::from_fn_with_state(state.config.is_https(), web::security_headers))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), telemetry::track_requests));
    edge(router).with_state(state)
}

/// The public listener (`SESAME_BIND`): everything citizens, services and
/// probes reach; operator surfaces are on [`ops_router`].
pub fn router(state: AppState) -> Router {
    let sessions = SessionManagerLayer::new(state.cache.sessions())
        .with_name(SESSION_COOKIE)
        .with_secure(true)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(state.config.lifetimes.session_idle)));

    let router = Router::new()
        .route(paths::DISCOVERY, get(oidc::discovery::openid_configuration))
        .route(paths::JWKS, get(oidc::discovery::jwks))
        .route(paths::AUTHORIZE, get(oidc::authorize::authorize).post(oidc::authorize::authorize))
        .route(paths::AUTHORIZE_CONTINUE, get(oidc::authorize::resume))
        .route(paths::CONSENT, get(oidc::consent::show).post(oidc::consent::decide))
        .route(paths::SELECT_ACCOUNT, get(oidc::select_account::show).post(oidc::select_account::choose))
        .route(oidc::authorize::response::FORM_POST_SCRIPT_PATH, get(oidc::authorize::response::form_post_script))
        .route(paths::TOKEN, post(oidc::token::token))
        .route(paths::USERINFO, get(oidc::userinfo::userinfo).post(oidc::userinfo::userinfo))
        .route(paths::INTROSPECT, post(oidc::introspect::introspect))
        .route(paths::REVOKE, post(oidc::revoke::revoke))
        .route(paths::END_SESSION, get(oidc::logout::end_session).post(oidc::logout::end_session))
        .route(paths::END_SESSION_CONFIRM, post(oidc::logout::confirm))
        .route(paths::REGISTER, post(oidc::register::register))
        .route(
            paths::REGISTRATION,
            get(oidc::register::read).put(oidc::register::update).delete(oidc::register::delete),
        )
        .route(web::developers::PATH, get(web::developers::developers))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz_bare))
        .route("/csp-report", post(web::csp_report))
        .route("/static/{file}", get(web::assets::serve))
        .merge(passkey::routes::router())
        .merge(citizen::account::router())
        .merge(citizen::account_email::router())
        .merge(citizen::account_identity::router())
        .merge(crate::counter::router())
        .merge(crate::console::router())
        .merge(citizen::invitation::router())
        .fallback(web::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), web::rate_limit::limit))
        .layer(axum::middleware::from_fn(web::respond::render_page_errors))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), web::outage::answer))
        .layer(axum::middleware::from_fn_with_state(state.config.is_https(), web::security_headers))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), telemetry::track_requests));
    edge(router).with_state(state)
}
