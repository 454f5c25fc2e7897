//! The append-only audit log: every passkey, recovery and login event, which
//! the citizen will be able to read.

use sqlx::Row as _;

use super::{Db, StoreError};
use crate::clock::UnixTime;

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub citizen_id: String,
    /// Dotted name: `citizen.signed_up`, `passkey.added`, `recovery.used`…
    pub kind: String,
    /// JSON object.
    pub details: String,
    pub at: UnixTime,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub citizen_id: String,
    pub kind: String,
    pub details: String,
    pub at: UnixTime,
}

pub(super) async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: &NewAuditEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_events (citizen_id, kind, details, at) VALUES ($1, $2, $3, $4)")
        .bind(&event.citizen_id)
        .bind(&event.kind)
        .bind(&event.details)
        .bind(event.at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Db {
    /// Appends one event on its own.
    pub async fn append_audit_event(&self, event: &NewAuditEvent) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends one event in a single statement (hot paths: UserInfo).
    pub async fn record_audit_event(&self, event: &NewAuditEvent) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit_events (citizen_id, kind, details, at) VALUES ($1, $2, $3, $4)")
            .bind(&event.citizen_id)
            .bind(&event.kind)
            .bind(&event.details)
            .bind(event.at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The citizen's events, oldest first.
    pub async fn audit_events_of(&self, citizen_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let rows =
            sqlx::query("SELECT id, citizen_id, kind, details, at FROM audit_events WHERE citizen_id = $1 ORDER BY id")
                .bind(citizen_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r.try_get("id")?,
                    citizen_id: r.try_get("citizen_id")?,
                    kind: r.try_get("kind")?,
                    details: r.try_get("details")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }
}
