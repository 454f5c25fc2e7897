//! Start-up and shutdown: connect, migrate, open the key ring, serve, and
//! drain in-flight requests on SIGTERM/SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::app::{self, AppState};
use crate::cache::{self, Cache, CacheError};
use crate::clock::SharedClock;
use crate::config::{Config, MasterKeySource};
use crate::keys::{KeyError, Keyring, MasterKey, RsaKeySource};
use crate::store::{Db, StoreError};

/// Why the provider did not start: one line, then exit non-zero.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Cache(#[from] CacheError),
    #[error("{0}")]
    Keys(#[from] KeyError),
    #[error("database schema is {0} migration(s) behind: run `idp migrate` (or set SESAME_AUTO_MIGRATE=true)")]
    Unmigrated(usize),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("cannot create data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    /// A command-line request that cannot be carried out, said plainly.
    #[error("{0}")]
    Cli(String),
}

/// Connects to the database, creating the SQLite data directory if the
/// database lives in it.
pub async fn connect_database(config: &Config) -> Result<Db, StartError> {
    let in_data_dir = config.database_url.contains(&*config.data_dir.to_string_lossy());
    let local_key = matches!(config.master_key, MasterKeySource::LocalFile(_));
    if config.database_kind() == "sqlite" && in_data_dir || local_key {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
    }
    Ok(Db::connect_with(&config.database_url, dependency_timeout(config)).await?)
}

/// Refuses a database whose schema is behind this binary.
pub async fn require_migrated(db: &Db) -> Result<(), StartError> {
    match db.pending_migrations().await? {
        0 => Ok(()),
        n => Err(StartError::Unmigrated(n)),
    }
}

/// Everything `serve` needs, ready: migrated database, cache, key ring.
pub async fn prepare(config: Config, clock: SharedClock, rsa: &dyn RsaKeySource) -> Result<AppState, StartError> {
    let db = connect_database(&config).await?;
    if config.auto_migrate {
        db.migrate().await?;
    }
    require_migrated(&db).await?;
    let cache = match &config.redis_url {
        Some(url) => Cache::redis(
            cache::connect_redis_with(url, dependency_timeout(&config)).await?,
            &config.redis_prefix,
            clock.clone(),
        ),
        None => Cache::sql(db.clone(), clock.clone()),
    };
    cache.ping().await?;
    let master = MasterKey::load(&config.master_key)?;
    let keys = Keyring::open(db.clone(), master, clock.clone(), config.lifetimes, rsa).await?;
    Ok(AppState::new(config, clock, db, cache, Arc::new(keys)))
}

impl StartError {
    /// Whether waiting can cure it: a dependency not reachable yet (database,
    /// Redis) or a schema the migration Job has not brought up to date.
    /// Configuration and key errors need a person.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store(_) | Self::Cache(_) | Self::Unmigrated(_))
    }
}

/// How often [`prepare_while_probed`] tries again.
const START_RETRY: Duration = Duration::from_secs(1);
/// How often the same cause is logged again while it lasts.
const START_LOG_EVERY: u32 = 30;

/// [`prepare`], answering probes meanwhile: while the database or Redis
/// cannot be reached, or the schema is behind, the process stays up on
/// `listener` — `/healthz` answers, `/readyz` says 503 and why, every other
/// path 503 with Retry-After — and tries again every second, logging the
/// cause when it changes. An orchestrator then shows a not-ready pod with its
/// reason instead of a crash loop, and the pod becomes ready by itself once
/// the dependency answers. Other errors stop the process with their message.
pub async fn prepare_while_probed(
    config: Config,
    clock: SharedClock,
    rsa: &dyn RsaKeySource,
    listeners: Listeners,
) -> Result<(AppState, Listeners), StartError> {
    let first = match prepare(config.clone(), clock.clone(), rsa).await {
        Ok(state) => return Ok((state, listeners)),
        Err(e) if e.is_transient() => e.to_string(),
        Err(e) => return Err(e),
    };
    tracing::warn!(cause = %first, "not ready yet: answering probes and trying again every second");
    let cause = Arc::new(std::sync::Mutex::new(first));
    let (public, public_probe) = twin(listeners.public)?;
    let (ops, ops_probe) = twin(listeners.ops)?;
    let listeners = Listeners { public, ops };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let serve_probes = |listener: TcpListener, router: axum::Router| {
        let mut stop = stop_rx.clone();
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stop| *stop).await;
        });
        tokio::spawn(async move { server.await })
    };
    let probes = [
        serve_probes(public_probe, starting_router(None)),
        serve_probes(ops_probe, starting_router(Some(Arc::clone(&cause)))),
    ];
    let mut attempts = 0u32;
    let state = loop {
        tokio::time::sleep(START_RETRY).await;
        match prepare(config.clone(), clock.clone(), rsa).await {
            Ok(state) => break state,
            Err(e) if e.is_transient() => {
                attempts += 1;
                let now = e.to_string();
                let mut last = cause.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if *last != now || attempts.is_multiple_of(START_LOG_EVERY) {
                    tracing::warn!(cause = %now, attempts, "not ready yet");
                }
                *last = now;
            }
            Err(e) => return Err(e),
        }
    };
    let _ = stop_tx.send(true);
    for probe in probes {
        if let Ok(Err(e)) = probe.await {
            tracing::warn!(error = %e, "the start-up probe server stopped with an error");
        }
    }
    Ok((state, listeners))
}

/// The two listeners: public (`SESAME_BIND`) and operators' (`SESAME_OPS_BIND`).
#[derive(Debug)]
pub struct Listeners {
    pub public: TcpListener,
    pub ops: TcpListener,
}

impl Listeners {
    /// Binds both configured addresses (port 0 picks a free one).
    pub async fn bind(config: &Config) -> Result<Self, StartError> {
        Ok(Self { public: bind(config.bind).await?, ops: bind(config.ops_bind).await? })
    }
}

/// Two handles on one listening socket: the start-up probes answer on one
/// while the other waits for the provider.
fn twin(listener: TcpListener) -> Result<(TcpListener, TcpListener), StartError> {
    let addr = listener.local_addr().map_err(|e| StartError::Bind(([0, 0, 0, 0], 0).into(), e))?;
    let std_listener = listener.into_std().map_err(|e| StartError::Bind(addr, e))?;
    let copy = std_listener.try_clone().and_then(TcpListener::from_std).map_err(|e| StartError::Bind(addr, e))?;
    let listener = TcpListener::from_std(std_listener).map_err(|e| StartError::Bind(addr, e))?;
    Ok((listener, copy))
}

/// What answers while the provider cannot serve yet: the cause only on the
/// operators' listener (`Some`); the public learns "not ready" and no more.
fn starting_router(cause: Option<Arc<std::sync::Mutex<String>>>) -> axum::Router {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let readyz = move || {
        let response = match &cause {
            None => crate::ops::bare_readiness(false),
            Some(cause) => {
                let cause = cause.lock().map(|c| c.clone()).unwrap_or_default();
                let body = serde_json::json!({"ready": false, "starting": cause});
                (StatusCode::SERVICE_UNAVAILABLE, [(header::CACHE_CONTROL, "no-store")], axum::Json(body))
                    .into_response()
            }
        };
        async move { response }
    };
    axum::Router::new()
        .route("/healthz", axum::routing::get(crate::ops::healthz))
        .route("/readyz", axum::routing::get(readyz))
        .fallback(|| async {
            let text = "Sésame démarre, réessayez dans un instant. / Sésame is starting, try again in a moment.\n";
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5"), (header::CACHE_CONTROL, "no-store")], text)
                .into_response()
        })
}

/// How long a request waits for the database or Redis before it fails (503).
fn dependency_timeout(config: &Config) -> Duration {
    Duration::from_secs(u64::try_from(config.dependency_timeout).unwrap_or(5))
}

/// Binds the configured address (port 0 picks a free one).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|e| StartError::Bind(addr, e))
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish for up to the configured grace, and returns.
pub async fn serve(
    listeners: Listeners,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = Duration::from_secs(u64::try_from(state.config.shutdown_grace).unwrap_or(25));
    let maintenance = tokio::spawn(maintain(state.clone()));
    let logout_deliveries = tokio::spawn(crate::oidc::logout::backchannel::run(state.clone()));
    let mail = tokio::spawn(crate::mail::delivery::run(state.clone()));
    // The operators' listener lives as long as the public one.
    let ops = axum::serve(listeners.ops, app::ops_router(state.clone()).into_make_service());
    let ops = tokio::spawn(async move { ops.await });
    let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
    let router = app::router(state);
    let server = axum::serve(listeners.public, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing in-flight requests");
            let _ = drain_tx.send(());
        });
    let deadline = async move {
        if drain_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(grace_seconds = grace.as_secs(), "drain deadline passed; closing remaining connections");
            Ok(())
        }
    };
    maintenance.abort();
    logout_deliveries.abort();
    mail.abort();
    ops.abort();
    result
}

/// Background upkeep: pick up keys rotated by other replicas; purge expired
/// state and what is past its retention (`crate::retention`).
async fn maintain(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = state.keys.reload().await {
            tracing::warn!(error = %e, "could not reload signing keys");
        }
        match state.db.purge_expired(state.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "purged expired state"),
            Err(e) => tracing::warn!(error = %e, "could not purge expired state"),
        }
        match crate::retention::purge(&state).await {
            Ok(purged) if purged.total() == 0 => {}
            Ok(purged) => tracing::info!(?purged, "purged what is past its retention"),
            Err(e) => tracing::warn!(error = %e, "could not purge what is past its retention"),
        }
    }
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed by this call,
/// not when the future is first polled: a SIGTERM right after "ready" is
/// logged already drains instead of killing the process.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::terminate()).ok(), signal(SignalKind::interrupt()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let (mut terminate, mut interrupt) = handlers;
            let next = |s: &mut Option<tokio::signal::unix::Signal>| {
                let mut s = s.take();
                async move {
                    match s.as_mut() {
                        Some(signal) => {
                            signal.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                }
            };
            tokio::select! {
                () = next(&mut terminate) => {}
                () = next(&mut interrupt) => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
