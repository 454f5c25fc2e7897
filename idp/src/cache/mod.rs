//! Short-lived shared state: ceremony state, codes, replay guards, sessions.
//! In Redis when configured (any replica serves any step); otherwise in SQL,
//! so a single instance loses nothing on restart. Expiry is judged by the
//! injected clock on both backends; Redis TTLs only collect garbage.

mod rate_limit;
mod sessions;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use rate_limit::WindowCount;
pub use sessions::SessionBackend;

use crate::clock::{SharedClock, UnixTime};
use crate::outage::{Dependency, Failure};
use crate::store::{Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("Redis error: {0}")]
    Redis(#[source] redis::RedisError),
    /// Redis is unreachable, slow or not serving (loading, failing over).
    #[error("cannot reach Redis: {0}")]
    Unavailable(#[source] redis::RedisError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every Redis error passes here and is classified once: an unreachable
/// Redis is `Unavailable` (answered 503 at the edge), and is also witnessed
/// for the request's safety net (`outage`).
impl From<redis::RedisError> for CacheError {
    fn from(e: redis::RedisError) -> Self {
        if crate::outage::is_redis_outage(&e) {
            crate::outage::witness(Dependency::Redis);
            return Self::Unavailable(e);
        }
        Self::Redis(e)
    }
}

impl Failure for CacheError {
    fn unavailable(&self) -> Option<Dependency> {
        match self {
            Self::Unavailable(_) => Some(Dependency::Redis),
            Self::Redis(_) => None,
            Self::Store(e) => e.unavailable(),
        }
    }
}

#[derive(Clone)]
enum Backend {
    Redis { conn: ConnectionManager, prefix: String },
    Sql(Db),
}

/// Key-value state with expiry and an atomic take.
#[derive(Clone)]
pub struct Cache {
    backend: Backend,
    clock: SharedClock,
    /// Rate-limit counters when there is no Redis (one instance: in-process).
    counters: rate_limit::LocalCounters,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cache({})", self.backend_name())
    }
}

/// Connects to Redis with bounded timeouts, so a lost Redis turns into a
/// clear error and a failing readiness probe, never a hang.
pub async fn connect_redis(url: &str) -> Result<ConnectionManager, CacheError> {
    connect_redis_with(url, Duration::from_secs(2)).await
}

/// Connects to Redis; each command waits at most `timeout` for its answer
/// (and a reconnection as long to connect). The manager reconnects by itself
/// when Redis returns.
pub async fn connect_redis_with(url: &str, timeout: Duration) -> Result<ConnectionManager, CacheError> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2));
    Ok(ConnectionManager::new_with_config(client, config).await?)
}

impl Cache {
    pub fn redis(conn: ConnectionManager, prefix: &str, clock: SharedClock) -> Self {
        Self { backend: Backend::Redis { conn, prefix: prefix.to_owned() }, clock, counters: Default::default() }
    }

    pub fn sql(db: Db, clock: SharedClock) -> Self {
        Self { backend: Backend::Sql(db), clock, counters: Default::default() }
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Redis { .. } => "redis",
            Backend::Sql(_) => "sql",
        }
    }

    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// Stores `value` under `key` for `ttl` seconds, replacing any value.
    pub async fn put(&self, key: &str, value: &[u8], ttl: i64) -> Result<(), CacheError> {
        let expires_at = self.now() + ttl;
        match &self.backend {
            Backend::Redis { conn, prefix } => {
                let () = redis::cmd("SET")
                    .arg(format!("{prefix}{key}"))
                    .arg(wrap(expires_at, value))
                    .arg("EX")
                    .arg(ttl.max(1))
                    .query_async(&mut conn.clone())
                    .await?;
                Ok(())
            }
            Backend::Sql(db) => Ok(db.put_ephemeral(key, value, expires_at).await?),
        }
    }

    /// Stores `value` only if no live value is there; true when stored. The
    /// building block of replay guards (`jti`, used codes).
    pub async fn put_if_absent(&self, key: &str, value: &[u8], ttl: i64) -> Result<bool, CacheError> {
        let now = self.now();
        match &self.backend {
            Backend::Redis { conn, prefix } => {
                let key = format!("{prefix}{key}");
                let mut conn = conn.clone();
                let set: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(wrap(now + ttl, value))
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl.max(1))
                    .query_async(&mut conn)
                    .await?;
                if set.is_some() {
                    return Ok(true);
                }
                // Present in Redis but expired by our clock: replace it.
                let existing: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
                if existing.as_deref().and_then(|v| unwrap_live(v, now)).is_some() {
                    return Ok(false);
                }
                let replaced: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(wrap(now + ttl, value))
                    .arg("XX")
                    .arg("EX")
                    .arg(ttl.max(1))
                    .query_async(&mut conn)
                    .await?;
                Ok(replaced.is_some())
            }
            Backend::Sql(db) => Ok(db.put_ephemeral_if_absent(key, value, now + ttl, now).await?),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let now = self.now();
        match &self.backend {
            Backend::Redis { conn, prefix } => {
                let raw: Option<Vec<u8>> =
                    redis::cmd("GET").arg(format!("{prefix}{key}")).query_async(&mut conn.clone()).await?;
                Ok(raw.as_deref().and_then(|v| unwrap_live(v, now)).map(<[u8]>::to_vec))
            }
            Backend::Sql(db) => Ok(db.get_ephemeral(key, now).await?),
        }
    }

    /// Removes and returns the value: of concurrent takers exactly one gets it.
    pub async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let now = self.now();
        match &self.backend {
            Backend::Redis { conn, prefix } => {
                let raw: Option<Vec<u8>> =
                    redis::cmd("GETDEL").arg(format!("{prefix}{key}")).query_async(&mut conn.clone()).await?;
                Ok(raw.as_deref().and_then(|v| unwrap_live(v, now)).map(<[u8]>::to_vec))
            }
            Backend::Sql(db) => Ok(db.take_ephemeral(key, now).await?),
        }
    }

    /// Whether any of `keys` holds a live value, in one round trip.
    pub async fn any_live(&self, keys: &[String]) -> Result<bool, CacheError> {
        let now = self.now();
        match &self.backend {
            Backend::Redis { conn, prefix } => {
                let mut cmd = redis::cmd("MGET");
                for key in keys {
                    cmd.arg(format!("{prefix}{key}"));
                }
                let values: Vec<Option<Vec<u8>>> = cmd.query_async(&mut conn.clone()).await?;
                Ok(values.iter().flatten().any(|v| unwrap_live(v, now).is_some()))
            }
            Backend::Sql(db) => Ok(db.any_ephemeral(keys, now).await?),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), CacheError> {
        match &self.backend {
            Backend::Redis { conn, prefix } => {
                let _: i64 = redis::cmd("DEL").arg(format!("{prefix}{key}")).query_async(&mut conn.clone()).await?;
                Ok(())
            }
            Backend::Sql(db) => Ok(db.delete_ephemeral(key).await?),
        }
    }

    /// One round trip to the backend, for readiness.
    pub async fn ping(&self) -> Result<(), CacheError> {
        match &self.backend {
            Backend::Redis { conn, .. } => {
                let _: String = redis::cmd("PING").query_async(&mut conn.clone()).await?;
                Ok(())
            }
            Backend::Sql(db) => Ok(db.ping().await?),
        }
    }

    /// The session store over the same backend.
    pub fn sessions(&self) -> SessionBackend {
        match &self.backend {
            Backend::Redis { conn, prefix } => SessionBackend::redis(conn.clone(), prefix, self.clock.clone()),
            Backend::Sql(db) => SessionBackend::sql(db.clone(), self.clock.clone()),
        }
    }
}

/// Redis values carry their expiry (by our clock) in front: 8 bytes big-endian.
fn wrap(expires_at: UnixTime, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expires_at.to_be_bytes());
    out.extend_from_slice(value);
    out
}

fn unwrap_live(raw: &[u8], now: UnixTime) -> Option<&[u8]> {
    let (head, value) = raw.split_first_chunk::<8>()?;
    (i64::from_be_bytes(*head) > now).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_values_expire_by_our_clock() {
        let raw = wrap(100, b"v");
        assert_eq!(unwrap_live(&raw, 99), Some(&b"v"[..]));
        assert_eq!(unwrap_live(&raw, 100), None);
        assert_eq!(unwrap_live(b"short", 0), None);
    }
}
