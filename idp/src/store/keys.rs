//! Signing keys and the provider's own settings (the master-key check value).

use sqlx::Row as _;

use super::{Db, StoreError};
use crate::clock::UnixTime;

/// A signing key as stored: the private part is AEAD ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub created_at: UnixTime,
    pub activates_at: UnixTime,
    pub retires_at: Option<UnixTime>,
    pub public_jwk: String,
    pub private_key: Vec<u8>,
}

/// A named value the provider keeps about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaValue {
    /// Ciphertext of a constant under the master key: a wrong key is caught
    /// before it can touch anything.
    MasterKeyCheck,
}

impl MetaValue {
    fn name(self) -> &'static str {
        match self {
            Self::MasterKeyCheck => "master_key_check",
        }
    }
}

async fn insert_key(tx: &mut sqlx::Transaction<'_, sqlx::Any>, key: &StoredKey) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, created_at, activates_at, retires_at, public_jwk, private_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.kid)
    .bind(&key.alg)
    .bind(key.created_at)
    .bind(key.activates_at)
    .bind(key.retires_at)
    .bind(&key.public_jwk)
    .bind(&key.private_key)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    pub async fn meta(&self, which: MetaValue) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM provider_meta WHERE name = $1")
            .bind(which.name())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    /// Sets the value unless one is already there; returns the value in force.
    pub async fn init_meta(&self, which: MetaValue, value: &str) -> Result<String, StoreError> {
        sqlx::query("INSERT INTO provider_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(which.name())
            .bind(value)
            .execute(&self.pool)
            .await?;
        self.meta(which).await?.ok_or_else(|| StoreError::Corrupt("provider_meta row vanished".into()))
    }

    /// Every key that has not been purged, oldest first.
    pub async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, alg, created_at, activates_at, retires_at, public_jwk, private_key \
             FROM signing_keys ORDER BY activates_at, created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredKey {
                    kid: r.try_get("kid")?,
                    alg: r.try_get("alg")?,
                    created_at: r.try_get("created_at")?,
                    activates_at: r.try_get("activates_at")?,
                    retires_at: r.try_get("retires_at")?,
                    public_jwk: r.try_get("public_jwk")?,
                    private_key: r.try_get("private_key")?,
                })
            })
            .collect()
    }

    /// Adds keys and schedules the retirement of the keys they replace, all or
    /// nothing: `retire` lists (kid, retires_at).
    pub async fn add_signing_keys(
        &self,
        keys: &[StoredKey],
        retire: &[(String, UnixTime)],
        purge_retired_before: UnixTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for key in keys {
            insert_key(&mut tx, key).await?;
        }
        for (kid, retires_at) in retire {
            sqlx::query("UPDATE signing_keys SET retires_at = $1 WHERE kid = $2")
                .bind(*retires_at)
                .bind(kid)
                .execute(&mut *tx)
                .await?;
        }
        // Private material of keys nobody can verify any more is destroyed.
        sqlx::query("DELETE FROM signing_keys WHERE retires_at IS NOT NULL AND retires_at <= $1")
            .bind(purge_retired_before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds the first keys only if there are none yet for these algorithms,
    /// so replicas starting together on an empty database agree on one set.
    /// Returns whether the keys were written.
    pub async fn add_initial_signing_keys(&self, keys: &[StoredKey]) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Serialise the check-then-insert: one starter wins, the others see its keys.
        sqlx::query(
            "INSERT INTO provider_meta (name, value) VALUES ('initial_keys', 'pending') ON CONFLICT (name) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        let claimed =
            sqlx::query("UPDATE provider_meta SET value = 'written' WHERE name = 'initial_keys' AND value = 'pending'")
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for key in keys {
            insert_key(&mut tx, key).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
