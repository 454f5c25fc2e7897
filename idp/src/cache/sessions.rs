//! `tower-sessions` stores of our own, over Redis or SQL, keyed by the SHA-256
//! of the session id: the published stores target an older core or sqlx.

use redis::aio::ConnectionManager;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::clock::SharedClock;
use crate::keys::sha256_b64;
use crate::outage::{Dependency, Failure};
use crate::store::Db;

#[derive(Clone)]
enum Inner {
    Redis { conn: ConnectionManager, prefix: String },
    Sql(Db),
}

#[derive(Clone)]
pub struct SessionBackend {
    inner: Inner,
    clock: SharedClock,
}

impl std::fmt::Debug for SessionBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.inner {
            Inner::Redis { .. } => "SessionBackend(redis)",
            Inner::Sql(_) => "SessionBackend(sql)",
        })
    }
}

/// tower-sessions keeps only the text of a store error, so the class of a
/// failure travels in it: an unavailable dependency's message starts with
/// this marker and its name, read back by `Failure for session::Error`.
const UNAVAILABLE: &str = "unavailable: ";

fn backend_error(e: impl Failure) -> session_store::Error {
    match e.unavailable() {
        Some(dependency) => session_store::Error::Backend(format!("{UNAVAILABLE}{}: {e}", dependency.name())),
        None => session_store::Error::Backend(e.to_string()),
    }
}

/// Redis errors are classified (and witnessed) where every Redis error is.
fn redis_error(e: redis::RedisError) -> session_store::Error {
    backend_error(crate::cache::CacheError::from(e))
}

/// A session read or write failed: a lost dependency if our store said so.
impl Failure for tower_sessions::session::Error {
    fn unavailable(&self) -> Option<Dependency> {
        let Self::Store(session_store::Error::Backend(text)) = self else { return None };
        let (name, _) = text.strip_prefix(UNAVAILABLE)?.split_once(':')?;
        Dependency::from_name(name)
    }
}

impl SessionBackend {
    pub fn redis(conn: ConnectionManager, prefix: &str, clock: SharedClock) -> Self {
        Self { inner: Inner::Redis { conn, prefix: prefix.to_owned() }, clock }
    }

    pub fn sql(db: Db, clock: SharedClock) -> Self {
        Self { inner: Inner::Sql(db), clock }
    }

    fn redis_key(prefix: &str, id: &Id) -> String {
        format!("{prefix}session:{}", sha256_b64(id.to_string().as_bytes()))
    }

    fn encode(record: &Record) -> session_store::Result<(Vec<u8>, i64)> {
        let data = serde_json::to_vec(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        Ok((data, record.expiry_date.unix_timestamp()))
    }

    /// Writes the record; with `only_new`, fails (false) if the id exists.
    async fn write(&self, record: &Record, only_new: bool) -> session_store::Result<bool> {
        let (data, expires_at) = Self::encode(record)?;
        let ttl = (expires_at - self.clock.now()).max(1);
        match &self.inner {
            Inner::Redis { conn, prefix } => {
                let mut value = expires_at.to_be_bytes().to_vec();
                value.extend_from_slice(&data);
                let mut cmd = redis::cmd("SET");
                cmd.arg(Self::redis_key(prefix, &record.id)).arg(value).arg("EX").arg(ttl);
                if only_new {
                    cmd.arg("NX");
                }
                let written: Option<String> = cmd.query_async(&mut conn.clone()).await.map_err(redis_error)?;
                Ok(written.is_some())
            }
            Inner::Sql(db) => {
                let hash = sha256_b64(record.id.to_string().as_bytes());
                if only_new {
                    db.insert_browser_session(&hash, &data, expires_at).await.map_err(backend_error)
                } else {
                    db.save_browser_session(&hash, &data, expires_at).await.map_err(backend_error)?;
                    Ok(true)
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A 128-bit random id collides essentially never; if it does, draw again.
        for _ in 0..4 {
            if self.write(record, true).await? {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(session_store::Error::Backend("could not allocate a session id".into()))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.write(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = self.clock.now();
        let found = match &self.inner {
            Inner::Redis { conn, prefix } => {
                let raw: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(Self::redis_key(prefix, id))
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(redis_error)?;
                raw.and_then(|raw| {
                    let (head, data) = raw.split_first_chunk::<8>()?;
                    let expires_at = i64::from_be_bytes(*head);
                    (expires_at > now).then(|| (data.to_vec(), expires_at))
                })
            }
            Inner::Sql(db) => {
                db.load_browser_session(&sha256_b64(id.to_string().as_bytes()), now).await.map_err(backend_error)?
            }
        };
        let Some((data, expires_at)) = found else { return Ok(None) };
        let data = serde_json::from_slice(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(expires_at)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match &self.inner {
            Inner::Redis { conn, prefix } => {
                let _: i64 = redis::cmd("DEL")
                    .arg(Self::redis_key(prefix, id))
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(redis_error)?;
                Ok(())
            }
            Inner::Sql(db) => {
                db.delete_browser_session(&sha256_b64(id.to_string().as_bytes())).await.map_err(backend_error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_of_a_store_failure_survives_tower_sessions() {
        let lost = crate::store::StoreError::Unavailable(sqlx::Error::PoolTimedOut);
        let error = tower_sessions::session::Error::Store(backend_error(lost));
        assert_eq!(error.unavailable(), Some(Dependency::Database));
        let wrong = crate::store::StoreError::Corrupt("bad row".into());
        assert_eq!(tower_sessions::session::Error::Store(backend_error(wrong)).unavailable(), None);
    }
}
