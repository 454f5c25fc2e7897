//! Citizens: the identity record, created with its first passkey and its
//! recovery codes in one transaction, so a sign-up never leaves half a citizen.

use sqlx::Row as _;

use super::audit::NewAuditEvent;
use super::passkeys::NewPasskey;
use super::{Db, StoreError};
use crate::clock::UnixTime;

/// A citizen's identity record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenRecord {
    /// Internal UUID, never shown to services.
    pub id: String,
    /// Canonical citizen identifier (17 characters).
    pub identifier: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub created_at: UnixTime,
}

/// Why a new citizen was not stored.
#[derive(Debug, thiserror::Error)]
pub enum CreateCitizenError {
    /// The drawn citizen identifier exists already: draw another and retry.
    #[error("citizen identifier already issued")]
    IdentifierTaken,
    /// The credential is registered already (to anyone).
    #[error("passkey already registered")]
    CredentialTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Classifies a unique-constraint violation by the table or column it names.
pub(super) fn unique_violation(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(e) if e.is_unique_violation() => Some(e.message().to_owned()),
        _ => None,
    }
}

const CITIZEN_COLUMNS: &str = "id, identifier, given_name, family_name, email, created_at";

fn citizen_from_row(row: &sqlx::any::AnyRow) -> Result<CitizenRecord, StoreError> {
    Ok(CitizenRecord {
        id: row.try_get("id")?,
        identifier: row.try_get("identifier")?,
        given_name: row.try_get("given_name")?,
        family_name: row.try_get("family_name")?,
        email: row.try_get("email")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Db {
    /// Stores a new citizen with their first passkey, the hashes of their
    /// recovery codes and the audit events of the sign-up: all or nothing.
    pub async fn create_citizen(
        &self,
        citizen: &CitizenRecord,
        passkey: &NewPasskey,
        recovery_code_hashes: &[String],
        events: &[NewAuditEvent],
    ) -> Result<(), CreateCitizenError> {
        let classify = |e: sqlx::Error| match unique_violation(&e) {
            Some(m) if m.contains("passkeys") || m.contains("credential_id") => CreateCitizenError::CredentialTaken,
            Some(m) if m.contains("identifier") => CreateCitizenError::IdentifierTaken,
            _ => CreateCitizenError::Store(e.into()),
        };
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        sqlx::query(
            "INSERT INTO citizens (id, identifier, given_name, family_name, email, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&citizen.id)
        .bind(&citizen.identifier)
        .bind(&citizen.given_name)
        .bind(&citizen.family_name)
        .bind(&citizen.email)
        .bind(citizen.created_at)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        super::passkeys::insert_passkey(&mut tx, &citizen.id, passkey).await.map_err(classify)?;
        insert_recovery_codes(&mut tx, &citizen.id, recovery_code_hashes, citizen.created_at)
            .await
            .map_err(classify)?;
        for event in events {
            super::audit::insert_event(&mut tx, event).await.map_err(StoreError::from)?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    pub async fn citizen_by_id(&self, id: &str) -> Result<Option<CitizenRecord>, StoreError> {
        // A deleted account's tombstone is nobody.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CITIZEN_COLUMNS} FROM citizens WHERE id = $1 AND deleted_at IS NULL"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(citizen_from_row).transpose()
    }

    /// Looks a citizen up by canonical identifier.
    pub async fn citizen_by_identifier(&self, identifier: &str) -> Result<Option<CitizenRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CITIZEN_COLUMNS} FROM citizens WHERE identifier = $1 AND deleted_at IS NULL"
        )))
        .bind(identifier)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(citizen_from_row).transpose()
    }

    /// How many citizens exist (tests: nothing half-written).
    pub async fn count_citizens(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM citizens").fetch_one(&self.pool).await?;
        Ok(row.try_get("n")?)
    }

    /// Whether this (hashed) recovery code belongs to the citizen and is unused.
    pub async fn recovery_code_usable(&self, citizen_id: &str, code_hash: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE code_hash = $1 AND citizen_id = $2 AND used_at IS NULL",
        )
        .bind(code_hash)
        .bind(citizen_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? == 1)
    }

    /// How many recovery codes the citizen has left.
    pub async fn unused_recovery_codes(&self, citizen_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM recovery_codes WHERE citizen_id = $1 AND used_at IS NULL")
            .bind(citizen_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Recovery: uses the code (once), replaces every passkey of the citizen
    /// by the new one and ends every login, in one transaction. False (and
    /// nothing written) when the code is unknown, another citizen's or used.
    pub async fn recover_citizen(
        &self,
        citizen_id: &str,
        code_hash: &str,
        passkey: &NewPasskey,
        now: UnixTime,
        events: &[NewAuditEvent],
    ) -> Result<bool, CreateCitizenError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        let used = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE code_hash = $2 AND citizen_id = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(code_hash)
        .bind(citizen_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        if used != 1 {
            return Ok(false);
        }
        replace_passkeys(&mut tx, citizen_id, passkey).await?;
        end_logins(&mut tx, citizen_id, now).await?;
        for event in events {
            super::audit::insert_event(&mut tx, event).await.map_err(StoreError::from)?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(true)
    }

    /// Assisted recovery (an agent checked the identity): replaces every
    /// passkey of the citizen by the new one and every recovery code by a
    /// fresh set, and ends every login, in one transaction. False (and
    /// nothing written) when the account is gone.
    pub async fn recover_citizen_assisted(
        &self,
        citizen_id: &str,
        passkey: &NewPasskey,
        recovery_code_hashes: &[String],
        now: UnixTime,
        events: &[NewAuditEvent],
    ) -> Result<bool, CreateCitizenError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        let live = sqlx::query("SELECT id FROM citizens WHERE id = $1 AND deleted_at IS NULL")
            .bind(citizen_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        if live.is_none() {
            return Ok(false);
        }
        replace_passkeys(&mut tx, citizen_id, passkey).await?;
        sqlx::query("DELETE FROM recovery_codes WHERE citizen_id = $1")
            .bind(citizen_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        insert_recovery_codes(&mut tx, citizen_id, recovery_code_hashes, now).await.map_err(StoreError::from)?;
        end_logins(&mut tx, citizen_id, now).await?;
        for event in events {
            super::audit::insert_event(&mut tx, event).await.map_err(StoreError::from)?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(true)
    }
}

impl Db {
    /// A new set of recovery codes replacing every old one (used or not),
    /// with the audit event (and its notice), in one transaction. `false`:
    /// the account is gone.
    pub async fn replace_recovery_codes(
        &self,
        citizen_id: &str,
        hashes: &[String],
        now: UnixTime,
        event: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let live = sqlx::query("UPDATE citizens SET id = id WHERE id = $1 AND deleted_at IS NULL")
            .bind(citizen_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if live == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE citizen_id = $1").bind(citizen_id).execute(&mut *tx).await?;
        insert_recovery_codes(&mut tx, citizen_id, hashes, now).await?;
        super::audit::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}

async fn insert_recovery_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    citizen_id: &str,
    hashes: &[String],
    at: UnixTime,
) -> Result<(), sqlx::Error> {
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (code_hash, citizen_id, created_at) VALUES ($1, $2, $3)")
            .bind(hash)
            .bind(citizen_id)
            .bind(at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Every passkey of the citizen out, the new one in.
async fn replace_passkeys(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    citizen_id: &str,
    passkey: &NewPasskey,
) -> Result<(), CreateCitizenError> {
    sqlx::query("DELETE FROM passkeys WHERE citizen_id = $1")
        .bind(citizen_id)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from)?;
    super::passkeys::insert_passkey(tx, citizen_id, passkey).await.map_err(|e| match unique_violation(&e) {
        Some(_) => CreateCitizenError::CredentialTaken,
        None => CreateCitizenError::Store(e.into()),
    })
}

/// Closes every login of the citizen in the store; the caller tells their
/// services afterwards (`endings`).
async fn end_logins(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    citizen_id: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE login_sessions SET revoked_at = $1 WHERE citizen_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(citizen_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(feature = "test-support")]
impl Db {
    /// A citizen without passkey, for protocol tests that sign in through
    /// the session store; does nothing if the id exists.
    pub async fn insert_citizen_for_tests(&self, citizen: &CitizenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO citizens (id, identifier, given_name, family_name, email, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&citizen.id)
        .bind(&citizen.identifier)
        .bind(&citizen.given_name)
        .bind(&citizen.family_name)
        .bind(&citizen.email)
        .bind(citizen.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A civil-status correction, as a counter agent would make it.
    pub async fn set_given_name_for_tests(&self, citizen_id: &str, given_name: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE citizens SET given_name = $1 WHERE id = $2")
            .bind(given_name)
            .bind(citizen_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
