//! Probes and metrics for operators: `/healthz` (the process answers),
//! `/readyz` (it can serve: database, migrations, Redis), `/metrics`.
//! The public listener answers `/healthz` and a bare `/readyz` (ready or
//! not, no detail: error texts of the database or Redis are not for the
//! public); the operators' listener the detail and the metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::AppState;

pub async fn healthz() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], "ok\n").into_response()
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    database: String,
    migrations: String,
    cache: String,
}

/// Each check has a short deadline so a dead dependency fails the probe
/// instead of hanging it.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = readiness(&state).await;
    let status = if readiness.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(header::CACHE_CONTROL, "no-store")], axum::Json(readiness)).into_response()
}

/// The public `/readyz`: the same checks, answered as `{"ready": …}` only.
pub async fn readyz_bare(State(state): State<AppState>) -> Response {
    let ready = readiness(&state).await.ready;
    bare_readiness(ready)
}

/// `{"ready": …}` with 200 or 503: all the public learns of readiness.
pub fn bare_readiness(ready: bool) -> Response {
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(header::CACHE_CONTROL, "no-store")], axum::Json(serde_json::json!({ "ready": ready }))).into_response()
}

async fn readiness(state: &AppState) -> Readiness {
    // Checked together, so the answer comes within one deadline (under the
    // probe's 3 s timeout) even with every dependency away.
    let deadline = Duration::from_secs(2);
    let (database, migrations, cache) = tokio::join!(
        tokio::time::timeout(deadline, state.db.ping()),
        tokio::time::timeout(deadline, state.db.pending_migrations()),
        tokio::time::timeout(deadline, state.cache.ping()),
    );
    let database = match database {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => format!("unavailable: {e}"),
        Err(_) => "unavailable: timed out".to_owned(),
    };
    let migrations = match migrations {
        Ok(Ok(0)) => "ok".to_owned(),
        Ok(Ok(n)) => format!("{n} pending: run `idp migrate`"),
        Ok(Err(e)) => format!("unknown: {e}"),
        Err(_) => "unknown: timed out".to_owned(),
    };
    let cache = match cache {
        Ok(Ok(())) => format!("ok ({})", state.cache.backend_name()),
        Ok(Err(e)) => format!("unavailable: {e}"),
        Err(_) => "unavailable: timed out".to_owned(),
    };
    let ready = database == "ok" && migrations == "ok" && cache.starts_with("ok");
    if !ready {
        tracing::warn!(%database, %migrations, %cache, "not ready");
    }
    Readiness { ready, database, migrations, cache }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.metrics.render(),
    )
        .into_response()
}
