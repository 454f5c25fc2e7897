//! Short-lived state (ceremonies, codes, replay guards) in SQL, for
//! deployments without Redis: a single instance keeps it across restarts.

use sqlx::Row as _;

use super::{Db, StoreError};
use crate::clock::UnixTime;

impl Db {
    /// Stores `value` under `key` until `expires_at`, replacing any value.
    pub async fn put_ephemeral(&self, key: &str, value: &[u8], expires_at: UnixTime) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ephemeral_state (key, value, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
        )
        .bind(key)
        .bind(value)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores `value` only if no live value is there; true when stored.
    pub async fn put_ephemeral_if_absent(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let written = sqlx::query(
            "INSERT INTO ephemeral_state (key, value, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at \
             WHERE ephemeral_state.expires_at <= $4",
        )
        .bind(key)
        .bind(value)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(written == 1)
    }

    /// Reads a live value.
    pub async fn get_ephemeral(&self, key: &str, now: UnixTime) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT value FROM ephemeral_state WHERE key = $1 AND expires_at > $2")
            .bind(key)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    /// Removes and returns a value in one statement: of concurrent takers,
    /// exactly one gets it. An expired value is removed and not returned.
    pub async fn take_ephemeral(&self, key: &str, now: UnixTime) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("DELETE FROM ephemeral_state WHERE key = $1 RETURNING value, expires_at")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: i64 = row.try_get("expires_at")?;
        Ok((expires_at > now).then(|| row.try_get("value")).transpose()?)
    }

    /// Whether any of `keys` holds a live value.
    pub async fn any_ephemeral(&self, keys: &[String], now: UnixTime) -> Result<bool, StoreError> {
        if keys.is_empty() {
            return Ok(false);
        }
        let placeholders: Vec<String> = (2..keys.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT COUNT(*) AS n FROM ephemeral_state WHERE expires_at > $1 AND key IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for key in keys {
            query = query.bind(key);
        }
        let n: i64 = query.fetch_one(&self.pool).await?.try_get("n")?;
        Ok(n > 0)
    }

    pub async fn delete_ephemeral(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM ephemeral_state WHERE key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }

    /// Deletes what has expired; returns how many rows went.
    pub async fn purge_expired(&self, now: UnixTime) -> Result<u64, StoreError> {
        let state = sqlx::query("DELETE FROM ephemeral_state WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let sessions = sqlx::query("DELETE FROM browser_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        // Logins past their absolute end can no longer be used or listed.
        let logins = sqlx::query("DELETE FROM login_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(state + sessions + logins)
    }
}
