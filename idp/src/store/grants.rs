//! Grants: one row per redeemed authorization, read by UserInfo and
//! introspection, revoked with everything minted from it.

use sqlx::Row as _;

use super::{Db, RefreshTokenRecord, StoreError};
use crate::clock::UnixTime;
use crate::scope::Scope;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub grant_id: String,
    pub client_id: String,
    pub citizen_id: String,
    pub sid: String,
    pub scope: Scope,
    pub claims: String,
    pub auth_time: UnixTime,
    pub acr: String,
    pub amr: String,
    pub created_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
}

pub(super) const GRANT_COLUMNS: &str =
    "grant_id, client_id, citizen_id, sid, scope, claims, auth_time, acr, amr, created_at, revoked_at";

pub(super) fn grant_from_row(r: &sqlx::any::AnyRow) -> Result<GrantRecord, StoreError> {
    Ok(GrantRecord {
        grant_id: r.try_get("grant_id")?,
        client_id: r.try_get("client_id")?,
        citizen_id: r.try_get("citizen_id")?,
        sid: r.try_get("sid")?,
        scope: super::scope_column(r)?,
        claims: r.try_get("claims")?,
        auth_time: r.try_get("auth_time")?,
        acr: r.try_get("acr")?,
        amr: r.try_get("amr")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Db {
    /// Records a redeemed authorization, its first refresh token and the
    /// audit event of what it released, together.
    pub async fn insert_grant(
        &self,
        g: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
        release: Option<&super::NewAuditEvent>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO grants (grant_id, client_id, citizen_id, sid, scope, claims, auth_time, acr, amr, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&g.grant_id)
        .bind(&g.client_id)
        .bind(&g.citizen_id)
        .bind(&g.sid)
        .bind(g.scope.to_string())
        .bind(&g.claims)
        .bind(g.auth_time)
        .bind(&g.acr)
        .bind(&g.amr)
        .bind(g.created_at)
        .bind(g.revoked_at)
        .execute(&mut *tx)
        .await?;
        if let Some(refresh) = refresh {
            super::tokens::insert(&mut *tx, refresh).await?;
        }
        if let Some(event) = release {
            super::audit::insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {GRANT_COLUMNS} FROM grants WHERE grant_id = $1")))
            .bind(grant_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// Grants of one login that do not outlive it: those without a live
    /// `offline_access` refresh token (OIDC Back-Channel Logout §2.7).
    pub async fn grants_ending_with_login(&self, sid: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.grant_id FROM grants g WHERE g.sid = $1 AND g.revoked_at IS NULL AND NOT EXISTS \
             (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.grant_id AND r.offline = 1 AND r.revoked_at IS NULL)",
        )
        .bind(sid)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("grant_id")?)).collect()
    }

    /// Revokes a grant and its refresh tokens in one transaction.
    pub async fn revoke_grant(&self, grant_id: &str, now: UnixTime) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE grants SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
