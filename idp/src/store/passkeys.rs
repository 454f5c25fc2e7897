//! A citizen's passkeys: one row per credential, the webauthn-rs record as
//! JSON beside the columns we query and show (counter, backup flags, name).

use sqlx::Row as _;

use super::audit::NewAuditEvent;
use super::{Db, StoreError};
use crate::clock::UnixTime;

/// A passkey to store.
#[derive(Debug, Clone)]
pub struct NewPasskey {
    /// base64url credential id.
    pub credential_id: String,
    pub name: String,
    /// The webauthn-rs `Passkey`, serialised.
    pub passkey_json: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: UnixTime,
}

/// A stored passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub credential_id: String,
    pub citizen_id: String,
    pub name: String,
    pub passkey_json: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

/// A verified sign-in with a passkey, to record.
#[derive(Debug, Clone)]
pub struct PasskeyUse<'a> {
    pub credential_id: &'a str,
    /// The counter the assertion was checked against.
    pub previous_sign_count: i64,
    pub passkey_json: &'a str,
    pub sign_count: i64,
    pub backup_state: bool,
    pub backup_eligible: bool,
    pub at: UnixTime,
}

/// Outcome of a removal request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyRemoval {
    Removed,
    /// Refused: it is the citizen's only passkey.
    LastOne,
    NotFound,
}

const COLUMNS: &str = "credential_id, citizen_id, name, passkey, sign_count, backup_eligible, backup_state, \
                       created_at, last_used_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<PasskeyRecord, StoreError> {
    Ok(PasskeyRecord {
        credential_id: row.try_get("credential_id")?,
        citizen_id: row.try_get("citizen_id")?,
        name: row.try_get("name")?,
        passkey_json: row.try_get("passkey")?,
        sign_count: row.try_get("sign_count")?,
        backup_eligible: row.try_get::<i64, _>("backup_eligible")? != 0,
        backup_state: row.try_get::<i64, _>("backup_state")? != 0,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

pub(super) async fn insert_passkey(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    citizen_id: &str,
    passkey: &NewPasskey,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO passkeys (credential_id, citizen_id, name, passkey, sign_count, backup_eligible, backup_state, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&passkey.credential_id)
    .bind(citizen_id)
    .bind(&passkey.name)
    .bind(&passkey.passkey_json)
    .bind(passkey.sign_count)
    .bind(i64::from(passkey.backup_eligible))
    .bind(i64::from(passkey.backup_state))
    .bind(passkey.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    pub async fn passkey_by_credential_id(&self, credential_id: &str) -> Result<Option<PasskeyRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1")))
            .bind(credential_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The citizen's passkeys, oldest first.
    pub async fn passkeys_of(&self, citizen_id: &str) -> Result<Vec<PasskeyRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM passkeys WHERE citizen_id = $1 ORDER BY created_at, credential_id"
        )))
        .bind(citizen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Adds a passkey to an existing citizen; false if the credential is
    /// registered already.
    pub async fn add_passkey(
        &self,
        citizen_id: &str,
        passkey: &NewPasskey,
        event: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Err(e) = insert_passkey(&mut tx, citizen_id, passkey).await {
            return match super::citizens::unique_violation(&e) {
                Some(_) => Ok(false),
                None => Err(e.into()),
            };
        }
        super::audit::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a sign-in with the credential: new record, counter and flags,
    /// only if the counter is still the one the ceremony was checked against
    /// (two concurrent uses cannot both win). True when written.
    pub async fn record_passkey_use(&self, used: &PasskeyUse<'_>) -> Result<bool, StoreError> {
        let written = sqlx::query(
            "UPDATE passkeys SET passkey = $1, sign_count = $2, backup_state = $3, backup_eligible = $4, \
             last_used_at = $5 WHERE credential_id = $6 AND sign_count = $7",
        )
        .bind(used.passkey_json)
        .bind(used.sign_count)
        .bind(i64::from(used.backup_state))
        .bind(i64::from(used.backup_eligible))
        .bind(used.at)
        .bind(used.credential_id)
        .bind(used.previous_sign_count)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(written == 1)
    }

    /// Renames one of the citizen's passkeys; false if they have no such passkey.
    pub async fn rename_passkey(
        &self,
        citizen_id: &str,
        credential_id: &str,
        name: &str,
        event: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let written = sqlx::query("UPDATE passkeys SET name = $1 WHERE credential_id = $2 AND citizen_id = $3")
            .bind(name)
            .bind(credential_id)
            .bind(citizen_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if written != 1 {
            return Ok(false);
        }
        super::audit::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes one of the citizen's passkeys, never the last one. The
    /// citizen's row is locked first (PostgreSQL; SQLite has one writer), so
    /// two concurrent removals cannot leave the citizen with none.
    pub async fn remove_passkey(
        &self,
        citizen_id: &str,
        credential_id: &str,
        event: &NewAuditEvent,
    ) -> Result<PasskeyRemoval, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE citizens SET id = id WHERE id = $1").bind(citizen_id).execute(&mut *tx).await?;
        let deleted = sqlx::query(
            "DELETE FROM passkeys WHERE credential_id = $1 AND citizen_id = $2 \
             AND (SELECT COUNT(*) FROM passkeys WHERE citizen_id = $2) > 1",
        )
        .bind(credential_id)
        .bind(citizen_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted == 1 {
            super::audit::insert_event(&mut tx, event).await?;
            tx.commit().await?;
            return Ok(PasskeyRemoval::Removed);
        }
        let row = sqlx::query("SELECT COUNT(*) AS n FROM passkeys WHERE credential_id = $1 AND citizen_id = $2")
            .bind(credential_id)
            .bind(citizen_id)
            .fetch_one(&mut *tx)
            .await?;
        Ok(if row.try_get::<i64, _>("n")? == 1 { PasskeyRemoval::LastOne } else { PasskeyRemoval::NotFound })
    }
}
