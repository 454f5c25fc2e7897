//! Refresh tokens: opaque, stored as SHA-256 digests, rotated on every use.

use sqlx::Row as _;

use super::{Db, StoreError};
use crate::clock::UnixTime;
use crate::scope::Scope;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub family_id: String,
    pub grant_id: String,
    pub client_id: String,
    pub citizen_id: String,
    pub sid: String,
    pub scope: Scope,
    pub claims: String,
    pub auth_time: UnixTime,
    pub acr: String,
    pub amr: String,
    pub offline: bool,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub family_expires_at: UnixTime,
    pub rotated_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

pub(super) const COLUMNS: &str = "token_hash, family_id, grant_id, client_id, citizen_id, sid, scope, claims, auth_time, acr, amr, \
     offline, created_at, expires_at, family_expires_at, rotated_at, revoked_at";

pub(super) fn from_row(r: &sqlx::any::AnyRow) -> Result<RefreshTokenRecord, StoreError> {
    Ok(RefreshTokenRecord {
        token_hash: r.try_get("token_hash")?,
        family_id: r.try_get("family_id")?,
        grant_id: r.try_get("grant_id")?,
        client_id: r.try_get("client_id")?,
        citizen_id: r.try_get("citizen_id")?,
        sid: r.try_get("sid")?,
        scope: super::scope_column(r)?,
        claims: r.try_get("claims")?,
        auth_time: r.try_get("auth_time")?,
        acr: r.try_get("acr")?,
        amr: r.try_get("amr")?,
        offline: r.try_get::<i64, _>("offline")? != 0,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        family_expires_at: r.try_get("family_expires_at")?,
        rotated_at: r.try_get("rotated_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// What happened when a refresh token was presented for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is spent; the new one is stored.
    Rotated(RefreshTokenRecord),
    /// Unknown token.
    Unknown,
    /// Already rotated or revoked: presented again, so the family is revoked.
    Reused(RefreshTokenRecord),
}

pub(super) async fn insert(
    executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
    t: &RefreshTokenRecord,
) -> Result<(), StoreError> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO refresh_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    )))
    .bind(&t.token_hash)
    .bind(&t.family_id)
    .bind(&t.grant_id)
    .bind(&t.client_id)
    .bind(&t.citizen_id)
    .bind(&t.sid)
    .bind(t.scope.to_string())
    .bind(&t.claims)
    .bind(t.auth_time)
    .bind(&t.acr)
    .bind(&t.amr)
    .bind(i64::from(t.offline))
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.family_expires_at)
    .bind(t.rotated_at)
    .bind(t.revoked_at)
    .execute(executor)
    .await?;
    Ok(())
}

impl Db {
    pub async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        insert(&self.pool, token).await
    }

    pub async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        let row =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM refresh_tokens WHERE token_hash = $1")))
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Spends `old_hash` and stores `next` in one transaction. Of concurrent
    /// presentations of one token exactly one rotates; the others see reuse,
    /// which revokes the whole family (OAuth 2.0 Security BCP §4.14.2).
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        next: &RefreshTokenRecord,
        now: UnixTime,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.pool.begin().await?;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(old_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if spent == 1 {
            insert(&mut *tx, next).await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated(next.clone()));
        }
        tx.rollback().await?;
        match self.refresh_token(old_hash).await? {
            None => Ok(Rotation::Unknown),
            Some(old) => {
                self.revoke_refresh_family(&old.family_id, now).await?;
                Ok(Rotation::Reused(old))
            }
        }
    }

    pub async fn revoke_refresh_family(&self, family_id: &str, now: UnixTime) -> Result<u64, StoreError> {
        Ok(sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(family_id)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
