//! Browser sessions in SQL, keyed by the SHA-256 of the session id so a
//! database dump cannot be replayed as cookies.

use sqlx::Row as _;

use super::{Db, StoreError};
use crate::clock::UnixTime;

impl Db {
    /// Inserts a new session; false if that id hash is taken.
    pub async fn insert_browser_session(
        &self,
        id_hash: &str,
        data: &[u8],
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        let written = sqlx::query(
            "INSERT INTO browser_sessions (id_hash, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id_hash) DO NOTHING",
        )
        .bind(id_hash)
        .bind(data)
        .bind(expires_at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(written == 1)
    }

    pub async fn save_browser_session(
        &self,
        id_hash: &str,
        data: &[u8],
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO browser_sessions (id_hash, data, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id_hash) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(id_hash)
        .bind(data)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn load_browser_session(
        &self,
        id_hash: &str,
        now: UnixTime,
    ) -> Result<Option<(Vec<u8>, UnixTime)>, StoreError> {
        let row = sqlx::query("SELECT data, expires_at FROM browser_sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("data")?, r.try_get("expires_at")?))).transpose()
    }

    pub async fn delete_browser_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM browser_sessions WHERE id_hash = $1").bind(id_hash).execute(&self.pool).await?;
        Ok(())
    }
}
