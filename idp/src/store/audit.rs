//! The append-only audit log (`crate::audit`): every passkey, recovery,
//! login, consent and release event, which the citizen can read.

use sqlx::Row as _;

use super::{Db, MailRecord, StoreError};
use crate::audit::AuditEvent;
use crate::clock::UnixTime;

/// An event to append, with the mail it causes (a security notice), which
/// is queued in the same transaction: no change without its notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub citizen_id: String,
    pub event: AuditEvent,
    pub at: UnixTime,
    pub mail: Option<MailRecord>,
}

impl NewAuditEvent {
    pub fn new(citizen_id: &str, event: AuditEvent, at: UnixTime) -> Self {
        Self { citizen_id: citizen_id.to_owned(), event, at, mail: None }
    }

    /// The mail to queue with this event.
    #[must_use]
    pub fn with_mail(mut self, mail: Option<MailRecord>) -> Self {
        self.mail = mail;
        self
    }
}

/// A stored event, as stored: the export and the administrators' trail show
/// rows whatever their kind; [`AuditEntry::event`] reads one as a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub citizen_id: String,
    /// Dotted name: `citizen.signed_up`, `passkey.added`, `recovery.used`…
    pub kind: String,
    /// JSON object.
    pub details: String,
    pub at: UnixTime,
}

impl AuditEntry {
    /// The event, or `None` for a kind this version does not know.
    pub fn event(&self) -> Option<AuditEvent> {
        AuditEvent::from_columns(&self.kind, &self.details)
    }

    /// The details as JSON (null if the row holds none readable).
    pub fn details_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.details).unwrap_or_default()
    }
}

/// The one insert of an audit event (and of the mail it causes), inside the
/// transaction of the change it records (`&mut *tx`).
pub(super) async fn insert_event(conn: &mut sqlx::AnyConnection, event: &NewAuditEvent) -> Result<(), sqlx::Error> {
    if let Some(mail) = &event.mail {
        super::mail::insert_mail(&mut *conn, mail).await?;
    }
    let (kind, details) = event.event.to_columns().map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("INSERT INTO audit_events (citizen_id, kind, details, at) VALUES ($1, $2, $3, $4)")
        .bind(&event.citizen_id)
        .bind(kind)
        .bind(details)
        .bind(event.at)
        .execute(conn)
        .await?;
    Ok(())
}

impl Db {
    /// Appends one event on its own (a single statement).
    pub async fn append_audit_event(&self, event: &NewAuditEvent) -> Result<(), StoreError> {
        if event.mail.is_none() {
            // One statement (UserInfo's only write): no transaction needed.
            let mut conn = self.pool.acquire().await?;
            return Ok(insert_event(&mut conn, event).await?);
        }
        let mut tx = self.pool.begin().await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The citizen's events, oldest first.
    pub async fn audit_events_of(&self, citizen_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let rows =
            sqlx::query("SELECT id, citizen_id, kind, details, at FROM audit_events WHERE citizen_id = $1 ORDER BY id")
                .bind(citizen_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
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
