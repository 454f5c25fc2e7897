//! When the database or Redis goes away mid-run: which failures mean "a
//! dependency is unavailable" (classified once, where `sqlx` and Redis errors
//! enter the crate, and carried in `StoreError` / `CacheError` values, so each
//! edge error type answers 503 or 500 from the error it is given — see
//! [`Failure`]). No HTTP here: the edge (`web::outage`) turns what is left
//! into `503`s. Nothing needs a restart: the sqlx pool and the Redis
//! connection manager reconnect by themselves, each wait bounded by
//! `SESAME_DEPENDENCY_TIMEOUT`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

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

    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Database, Self::Redis].into_iter().find(|d| d.name() == name)
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Database),
            2 => Some(Self::Redis),
            _ => None,
        }
    }
}

/// A failure an edge error type is built from: whether it is a lost
/// dependency (answered 503 "try again") or a failure of ours (500).
pub trait Failure: std::fmt::Display {
    /// The dependency found unavailable, if that is what this failure is.
    fn unavailable(&self) -> Option<Dependency>;
}

/// Text causes (invariants, encoding) are never an outage.
impl Failure for &str {
    fn unavailable(&self) -> Option<Dependency> {
        None
    }
}

impl Failure for String {
    fn unavailable(&self) -> Option<Dependency> {
        None
    }
}

impl Failure for std::borrow::Cow<'_, str> {
    fn unavailable(&self) -> Option<Dependency> {
        None
    }
}

impl Failure for serde_json::Error {
    fn unavailable(&self) -> Option<Dependency> {
        None
    }
}

// The safety net: failures that are swallowed (a refusal based on state that
// could not be read, the session layer's own load and save) are recorded for
// the running request, and the edge layer (`web::outage::answer`) turns the
// request's error answer into a 503. Edge error types do not read it.
tokio::task_local! {
    /// The dependency the current request found unavailable (0: none).
    static WITNESS: Arc<AtomicU8>;
}

/// Records that the running request met `dependency` unavailable. Outside a
/// request (background tasks, the CLI) it does nothing.
pub fn witness(dependency: Dependency) {
    let _ = WITNESS.try_with(|w| w.store(dependency as u8, Ordering::Relaxed));
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
        let ((), seen) = watched(async { witness(Dependency::Redis) }).await;
        assert_eq!(seen, Some(Dependency::Redis));
        let ((), seen) = watched(async { unwitnessed(async { witness(Dependency::Database) }).await }).await;
        assert_eq!(seen, None);
        witness(Dependency::Database); // outside any request: ignored
        let ((), seen) = watched(async {}).await;
        assert_eq!(seen, None);
    }
}
