//! Identity verifications and the documents they used. Recording one is a
//! single transaction: the attributes marked verified, the declared names corrected when the agent
//! confirmed it, the verification row, the citizen's history and the
//! administrators' log.

use sqlx::Row as _;

use super::registry::insert_event;
use super::{AttributeRecord, Db, EventRecord, NewAuditEvent, StoreError};
use crate::clock::UnixTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRecord {
    pub verification_id: String,
    pub citizen_id: String,
    pub kind: String,
    pub organisation_id: String,
    pub organisation_name: String,
    pub agent_id: String,
    pub method: String,
    pub document_type: String,
    pub document_issuer: String,
    pub document_hash: String,
    pub document_expires: String,
    /// JSON array of attribute names.
    pub attributes: String,
    pub verified_at: UnixTime,
}

/// Everything one verification writes.
#[derive(Debug, Clone)]
pub struct NewVerification<'a> {
    pub record: &'a VerificationRecord,
    /// Attribute rows, `verified_by` = the verification id.
    pub attributes: &'a [AttributeRecord],
    /// The declared names replaced by the document's (the agent confirmed).
    pub names: Option<(&'a str, &'a str)>,
    pub history: &'a NewAuditEvent,
    /// The administrators' log (an agent's act); `None` for the citizen's own (their mailbox).
    pub log: Option<&'a EventRecord>,
}

/// Why nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Done,
    /// The document already verified another account.
    DocumentTaken,
    /// The citizen's account is gone (deleted meanwhile).
    NoCitizen,
}

const COLUMNS: &str = "verification_id, citizen_id, kind, organisation_id, organisation_name, agent_id, method, \
     document_type, document_issuer, document_hash, document_expires, attributes, verified_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<VerificationRecord, StoreError> {
    Ok(VerificationRecord {
        verification_id: r.try_get("verification_id")?,
        citizen_id: r.try_get("citizen_id")?,
        kind: r.try_get("kind")?,
        organisation_id: r.try_get("organisation_id")?,
        organisation_name: r.try_get("organisation_name")?,
        agent_id: r.try_get("agent_id")?,
        method: r.try_get("method")?,
        document_type: r.try_get("document_type")?,
        document_issuer: r.try_get("document_issuer")?,
        document_hash: r.try_get("document_hash")?,
        document_expires: r.try_get("document_expires")?,
        attributes: r.try_get("attributes")?,
        verified_at: r.try_get("verified_at")?,
    })
}

async fn document_owner(conn: &mut sqlx::AnyConnection, document_hash: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query(
        "SELECT v.citizen_id FROM identity_documents d \
         JOIN identity_verifications v ON v.verification_id = d.verification_id WHERE d.document_hash = $1",
    )
    .bind(document_hash)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.try_get("citizen_id")).transpose()?)
}

impl Db {
    /// The citizen's verifications and assisted recoveries, oldest first.
    pub async fn verifications_of(&self, citizen_id: &str) -> Result<Vec<VerificationRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM identity_verifications WHERE citizen_id = $1 ORDER BY verified_at, verification_id"
        )))
        .bind(citizen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Records a verification (see the module comment), or nothing.
    pub async fn record_verification(&self, v: &NewVerification<'_>) -> Result<Recorded, StoreError> {
        let r = v.record;
        let mut tx = self.pool.begin().await?;
        // A write first: it takes SQLite's write lock (a read first would
        // make two concurrent verifications fail to upgrade, "database is
        // locked") and locks the citizen's row on PostgreSQL, so two
        // verifications of one citizen run one after the other.
        let live = sqlx::query("UPDATE citizens SET id = id WHERE id = $1 AND deleted_at IS NULL")
            .bind(&r.citizen_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if live == 0 {
            tx.rollback().await?;
            return Ok(Recorded::NoCitizen);
        }
        if let Some((given_name, family_name)) = v.names {
            sqlx::query("UPDATE citizens SET given_name = $1, family_name = $2 WHERE id = $3")
                .bind(given_name)
                .bind(family_name)
                .bind(&r.citizen_id)
                .execute(&mut *tx)
                .await?;
        }
        for a in v.attributes {
            super::identity::upsert_attribute(&mut tx, &r.citizen_id, a).await?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO identity_verifications ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        )))
        .bind(&r.verification_id)
        .bind(&r.citizen_id)
        .bind(&r.kind)
        .bind(&r.organisation_id)
        .bind(&r.organisation_name)
        .bind(&r.agent_id)
        .bind(&r.method)
        .bind(&r.document_type)
        .bind(&r.document_issuer)
        .bind(&r.document_hash)
        .bind(&r.document_expires)
        .bind(&r.attributes)
        .bind(r.verified_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO identity_documents (document_hash, verification_id) VALUES ($1, $2) \
             ON CONFLICT (document_hash) DO NOTHING",
        )
        .bind(&r.document_hash)
        .bind(&r.verification_id)
        .execute(&mut *tx)
        .await?;
        if document_owner(&mut tx, &r.document_hash).await?.as_deref() != Some(r.citizen_id.as_str()) {
            tx.rollback().await?;
            return Ok(Recorded::DocumentTaken);
        }
        super::audit::insert_event(&mut tx, v.history).await?;
        if let Some(log) = v.log {
            insert_event(&mut tx, log).await?;
        }
        tx.commit().await?;
        Ok(Recorded::Done)
    }
}

#[cfg(feature = "test-support")]
impl Db {
    /// Every verification recorded, whoever the citizen (tests that drive a
    /// browser and do not know the citizen's id).
    pub async fn all_verifications(&self) -> Result<Vec<VerificationRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM identity_verifications ORDER BY verified_at, verification_id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
