//! The back-channel logout outbox: written before the logout answer,
//! claimed by one replica at a time through a lease.

use sqlx::Row as _;

use super::outbox::Outbox;
use super::{Db, StoreError};
use crate::clock::UnixTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutDelivery {
    pub delivery_id: String,
    pub client_id: String,
    pub uri: String,
    pub logout_token: String,
    pub jti: String,
    pub reason: String,
    pub created_at: UnixTime,
    pub attempts: i64,
    pub next_attempt_at: UnixTime,
    pub delivered_at: Option<UnixTime>,
    pub gave_up_at: Option<UnixTime>,
    pub last_error: Option<String>,
}

const COLUMNS: &str = "delivery_id, client_id, uri, logout_token, jti, reason, created_at, attempts, next_attempt_at, \
     delivered_at, gave_up_at, last_error";

const OUTBOX: Outbox = Outbox { table: "logout_deliveries", key: "delivery_id", columns: COLUMNS, on_finish: "" };

fn from_row(r: &sqlx::any::AnyRow) -> Result<LogoutDelivery, StoreError> {
    Ok(LogoutDelivery {
        delivery_id: r.try_get("delivery_id")?,
        client_id: r.try_get("client_id")?,
        uri: r.try_get("uri")?,
        logout_token: r.try_get("logout_token")?,
        jti: r.try_get("jti")?,
        reason: r.try_get("reason")?,
        created_at: r.try_get("created_at")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        delivered_at: r.try_get("delivered_at")?,
        gave_up_at: r.try_get("gave_up_at")?,
        last_error: r.try_get("last_error")?,
    })
}

impl Db {
    /// Queues deliveries, all or none.
    pub async fn enqueue_logout_deliveries(&self, deliveries: &[LogoutDelivery]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for d in deliveries {
            sqlx::query(
                "INSERT INTO logout_deliveries (delivery_id, client_id, uri, logout_token, jti, reason, created_at, \
                 attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&d.delivery_id)
            .bind(&d.client_id)
            .bind(&d.uri)
            .bind(&d.logout_token)
            .bind(&d.jti)
            .bind(&d.reason)
            .bind(d.created_at)
            .bind(d.attempts)
            .bind(d.next_attempt_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Leases up to `limit` due deliveries to `owner` until `lease_until`
    /// (see [`Outbox::claim`]).
    pub async fn claim_logout_deliveries(
        &self,
        owner: &str,
        now: UnixTime,
        lease_until: UnixTime,
        limit: i64,
    ) -> Result<Vec<LogoutDelivery>, StoreError> {
        let rows = OUTBOX.claim(&self.pool, owner, now, lease_until, limit).await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn mark_logout_delivered(&self, delivery_id: &str, owner: &str, now: UnixTime) -> Result<(), StoreError> {
        Ok(OUTBOX.delivered(&self.pool, delivery_id, owner, now).await?)
    }

    /// Records a failed attempt: retry at `next_attempt_at`, or give up.
    pub async fn mark_logout_failed(
        &self,
        delivery_id: &str,
        owner: &str,
        error: &str,
        next_attempt_at: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        Ok(OUTBOX.failed(&self.pool, delivery_id, owner, error, next_attempt_at, now).await?)
    }

    pub async fn logout_deliveries_for(&self, client_id: &str) -> Result<Vec<LogoutDelivery>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM logout_deliveries WHERE client_id = $1 ORDER BY created_at, delivery_id"
        )))
        .bind(client_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Clients that received tokens during one login (`sid`).
    pub async fn clients_of_login(&self, sid: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT DISTINCT client_id FROM grants WHERE sid = $1 ORDER BY client_id")
            .bind(sid)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("client_id")?)).collect()
    }
}
