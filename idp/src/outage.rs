//! When the database or Redis goes away mid-run. The store and the cache
//! *witness* connection-class failures (refused or dropped connections,
//! timeouts, an exhausted pool) for the request that met them; one layer at
//! the edge then answers that request `503` with `Retry-After` — OAuth error
//! JSON (`temporarily_unavailable`) where the answer was JSON, a readable page
//! where it was a page — instead of whatever the handler made of the failure
//! (a 500, or a refusal based on state it could not read). `/readyz` names the
//! lost dependency. Nothing needs a restart: the sqlx pool and the Redis
//! connection manager reconnect by themselves, each wait bounded by
//! `SESAME_DEPENDENCY_TIMEOUT`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::oidc::error::OAuthError;
use crate::telemetry::Metrics;
use crate::web::i18n::Lang;
use crate::web::respond::PageError;

/// What a 503 tells clients to wait before retrying, in seconds.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// A shared engine a request may lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Database = 1,
    Redis = 2,
}

impl Dependency {
    pub fn name(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::Redis => "redis",
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Database),
            2 => Some(Self::Redis),
            _ => None,
        }
    }
}

tokio::task_local! {
    /// The dependency the current request found unavailable (0: none).
    static WITNESS: Arc<AtomicU8>;
}

/// Records that the running request met `dependency` unavailable. Outside a
/// request (background tasks, the CLI) it does nothing.
pub fn witness(dependency: Dependency) {
    let _ = WITNESS.try_with(|w| w.store(dependency as u8, Ordering::Relaxed));
}

/// What the running request has met unavailable so far, if anything: a
/// failure of ours after that is reported as "temporarily unavailable".
pub fn current() -> Option<Dependency> {
    WITNESS.try_with(|w| Dependency::from_code(w.load(Ordering::Relaxed))).ok().flatten()
}

/// Runs `work`, returning what it witnessed.
pub async fn watched<F: Future>(work: F) -> (F::Output, Option<Dependency>) {
    let seen = Arc::new(AtomicU8::new(0));
    let output = WITNESS.scope(seen.clone(), work).await;
    (output, Dependency::from_code(seen.load(Ordering::Relaxed)))
}

/// Runs `work` without letting its failures count for the request: for
/// checks that deliberately carry on when a dependency is away (rate limits).
pub async fn unwitnessed<F: Future>(work: F) -> F::Output {
    watched(work).await.0
}

/// Whether a database error means "the database is unreachable or
/// overloaded" rather than "this statement is wrong".
pub fn is_database_outage(e: &sqlx::Error) -> bool {
    use sqlx::Error as E;
    match e {
        E::Io(_) | E::Tls(_) | E::Protocol(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
        E::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs: class 08 (connection exception), 57P01–03 (server
/// shutting down, crashed, not yet accepting), 53300 (too many connections).
/// SQLite result codes: BUSY and LOCKED (and their extended forms).
fn unavailable_code(code: &str) -> bool {
    if code.len() < 5
        && let Ok(n) = code.parse::<u32>()
    {
        return matches!(n & 0xff, 5 | 6);
    }
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// Whether a Redis error means the server is unreachable, slow, or not
/// serving (loading, failing over) rather than a wrong command.
pub fn is_redis_outage(e: &redis::RedisError) -> bool {
    use redis::RetryMethod as R;
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(e.retry_method(), R::Reconnect | R::ReconnectFromInitialConnections | R::WaitAndRetry)
}

/// The edge layer: a request that met an unavailable dependency and failed
/// is answered 503 with `Retry-After`, in the form of the answer it replaces.
/// Rate-limit refusals (429) stand; a 503 already made keeps its body
/// (`/readyz` names the cause) and gains `Retry-After`.
pub async fn answer(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    // Kept (cheap clones) to shape a 503 should one be needed.
    let uri = request.uri().clone();
    let accept_language = request.headers().get(header::ACCEPT_LANGUAGE).cloned();
    let accept = request.headers().get(header::ACCEPT).cloned();

    let (response, witnessed) = watched(next.run(request)).await;
    let Some(dependency) = witnessed else { return response };
    let status = response.status();
    if status.as_u16() < 400 || status == StatusCode::TOO_MANY_REQUESTS {
        return response;
    }
    metrics.count_unavailable(dependency.name());
    tracing::warn!(
        dependency = dependency.name(),
        path = uri.path(),
        replaced = status.as_u16(),
        "dependency unavailable: 503"
    );
    let mut response = if status == StatusCode::SERVICE_UNAVAILABLE {
        response
    } else {
        let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let accepts_html = accept.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
        if content_type.starts_with("text/html") || content_type.is_empty() && accepts_html {
            let ui_locales = uri.query().and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "ui_locales").map(|(_, v)| v.into_owned())
            });
            let lang = Lang::negotiate(ui_locales.as_deref(), accept_language.as_ref().and_then(|v| v.to_str().ok()));
            PageError::new(StatusCode::SERVICE_UNAVAILABLE, lang, "err.unavailable", "/account").into_response()
        } else {
            OAuthError::unavailable(dependency.name()).into_response()
        }
    };
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_outages_statement_errors_are_not() {
        assert!(is_database_outage(&sqlx::Error::PoolTimedOut));
        assert!(is_database_outage(&sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into())));
        assert!(!is_database_outage(&sqlx::Error::RowNotFound));
        for code in ["08006", "08001", "57P01", "57P03", "53300", "5", "517", "6"] {
            assert!(unavailable_code(code), "{code}");
        }
        for code in ["23505", "42P01", "40001", "19", "2067", "1"] {
            assert!(!unavailable_code(code), "{code}");
        }
    }

    #[tokio::test]
    async fn a_request_witnesses_only_its_own_failures() {
        let (during, seen) = watched(async {
            assert_eq!(current(), None);
            witness(Dependency::Redis);
            current()
        })
        .await;
        assert_eq!((during, seen), (Some(Dependency::Redis), Some(Dependency::Redis)));
        let ((), seen) = watched(async { unwitnessed(async { witness(Dependency::Database) }).await }).await;
        assert_eq!(seen, None);
        witness(Dependency::Database); // outside any request: ignored
        assert_eq!(current(), None);
    }
}
