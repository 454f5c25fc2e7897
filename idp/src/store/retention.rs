//! Retention purges (`crate::retention`): each statement deletes at most
//! `limit` rows past their retention, so a backlog drains over several
//! upkeep rounds without holding a long lock; and the detached record a
//! deleted account leaves.

use sqlx::Row as _;

use super::{Db, StoreError};
use crate::audit::AuditEvent;
use crate::clock::UnixTime;

/// A release of claims to a service, kept after the account is deleted:
/// which claims went to which service, when; nothing names the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    pub client_id: String,
    pub client_name: String,
    /// `id_token` or `userinfo`.
    pub target: String,
    /// Space-separated.
    pub scope: String,
    /// Claim names, never values.
    pub claims: Vec<String>,
    pub acr: String,
    pub at: UnixTime,
}

/// The citizen's `claims.released` events become release records, inside
/// the deletion's transaction (before the audit events go).
pub(super) async fn detach_releases(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    citizen_id: &str,
) -> Result<(), StoreError> {
    let rows = sqlx::query("SELECT kind, details, at FROM audit_events WHERE citizen_id = $1 ORDER BY id")
        .bind(citizen_id)
        .fetch_all(&mut **tx)
        .await?;
    for row in rows {
        let event = AuditEvent::from_columns(&row.try_get::<String, _>("kind")?, &row.try_get::<String, _>("details")?);
        let Some(AuditEvent::ClaimsReleased { client_id, client_name, to, scope, claims, acr }) = event else {
            continue;
        };
        let claims = serde_json::to_string(&claims).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(
            "INSERT INTO release_records (client_id, client_name, target, scope, claims, acr, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(client_id)
        .bind(client_name)
        .bind(to)
        .bind(scope.join(" "))
        .bind(claims)
        .bind(acr)
        .bind(row.try_get::<i64, _>("at")?)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Db {
    /// Citizens' audit events recorded at or before `before`.
    pub async fn purge_audit_events(&self, before: UnixTime, limit: u32) -> Result<u64, StoreError> {
        self.purge_batch("audit_events", "id", "at <= $1", before, limit).await
    }

    /// Administrators' log entries recorded at or before `before`.
    pub async fn purge_admin_events(&self, before: UnixTime, limit: u32) -> Result<u64, StoreError> {
        self.purge_batch("admin_events", "event_id", "at <= $1", before, limit).await
    }

    /// Deleted accounts' release records of claims released at or before `before`.
    pub async fn purge_release_records(&self, before: UnixTime, limit: u32) -> Result<u64, StoreError> {
        self.purge_batch("release_records", "id", "at <= $1", before, limit).await
    }

    /// Logout notices delivered or given up at or before `before`; those
    /// still due stay, however old.
    pub async fn purge_logout_deliveries(&self, before: UnixTime, limit: u32) -> Result<u64, StoreError> {
        let ended = "delivered_at <= $1 OR gave_up_at <= $1";
        self.purge_batch("logout_deliveries", "delivery_id", ended, before, limit).await
    }

    /// Refresh tokens expired (idle or absolute) or revoked at or before
    /// `before`. Such a token is refused before reuse detection reads it
    /// (`oidc::token::refresh_token`), so its row no longer matters.
    pub async fn purge_refresh_tokens(&self, before: UnixTime, limit: u32) -> Result<u64, StoreError> {
        let ended = "expires_at <= $1 OR family_expires_at <= $1 OR revoked_at <= $1";
        self.purge_batch("refresh_tokens", "token_hash", ended, before, limit).await
    }

    /// Grants with no refresh token left that were revoked at or before
    /// `before`, or created then: past that, their login and access tokens
    /// have ended (the caller moves `before` back by their lifetimes).
    pub async fn purge_grants(&self, before: UnixTime, limit: u32) -> Result<u64, StoreError> {
        let ended = "(revoked_at <= $1 OR created_at <= $1) \
                     AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.grant_id)";
        self.purge_batch("grants", "grant_id", ended, before, limit).await
    }

    /// Live accounts with no sign-in (or, never signed in since the column
    /// exists, created) at or before `before`, oldest first.
    pub async fn dormant_citizens(&self, before: UnixTime, limit: u32) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM citizens WHERE deleted_at IS NULL AND COALESCE(last_signed_in_at, created_at) <= $1 \
             ORDER BY COALESCE(last_signed_in_at, created_at), id LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Every release record kept, oldest first.
    pub async fn release_records(&self) -> Result<Vec<ReleaseRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_id, client_name, target, scope, claims, acr, at FROM release_records ORDER BY at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReleaseRecord {
                    client_id: r.try_get("client_id")?,
                    client_name: r.try_get("client_name")?,
                    target: r.try_get("target")?,
                    scope: r.try_get("scope")?,
                    claims: serde_json::from_str(&r.try_get::<String, _>("claims")?).unwrap_or_default(),
                    acr: r.try_get("acr")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Deletes up to `limit` rows of `table` matching `condition` (which
    /// reads `$1` = `before`), in one statement.
    async fn purge_batch(
        &self,
        table: &str,
        key: &str,
        condition: &str,
        before: UnixTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let sql = format!("DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {condition} LIMIT $2)");
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(before)
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
