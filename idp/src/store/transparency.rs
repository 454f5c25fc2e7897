//! What the citizen sees and controls of their data: the services they
//! consented to (and revoking that), everything stored about them (export),
//! and erasing it (account deletion, the identifier kept as a tombstone).

use sqlx::Row as _;

use super::grants::{GRANT_COLUMNS, grant_from_row};
use super::{Db, GrantRecord, NewAuditEvent, RefreshTokenRecord, StoreError};
use crate::clock::UnixTime;
use crate::scope::Scope;

/// A consent with the service's registered name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub client_id: String,
    pub client_name: String,
    /// The client's metadata column (JSON: localized names among others).
    pub client_metadata: String,
    /// Sorted.
    pub scope: Scope,
    pub granted_at: UnixTime,
}

/// A login as stored, ended or not (the export shows them all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginHistoryRecord {
    pub sid: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
    pub device: String,
    pub amr: String,
}

/// A recovery code's life, without its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCodeRecord {
    pub created_at: UnixTime,
    pub used_at: Option<UnixTime>,
}

/// A grant that account deletion or consent revocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedGrant {
    pub grant_id: String,
    pub client_id: String,
    /// The login it was issued in (back-channel logout names it).
    pub sid: String,
}

async fn live_grants(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    citizen_id: &str,
    client_id: Option<&str>,
) -> Result<Vec<EndedGrant>, StoreError> {
    let query = match client_id {
        Some(client_id) => sqlx::query(
            "SELECT grant_id, client_id, sid FROM grants WHERE citizen_id = $1 AND client_id = $2 AND revoked_at IS NULL \
             ORDER BY grant_id",
        )
        .bind(citizen_id)
        .bind(client_id),
        None => sqlx::query(
            "SELECT grant_id, client_id, sid FROM grants WHERE citizen_id = $1 AND revoked_at IS NULL ORDER BY grant_id",
        )
        .bind(citizen_id),
    };
    let rows = query.fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|r| {
            Ok(EndedGrant {
                grant_id: r.try_get("grant_id")?,
                client_id: r.try_get("client_id")?,
                sid: r.try_get("sid")?,
            })
        })
        .collect()
}

impl Db {
    /// The citizen's live grants (the services to tell before an account is deleted).
    pub async fn live_grants_of(&self, citizen_id: &str) -> Result<Vec<EndedGrant>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let grants = live_grants(&mut tx, citizen_id, None).await?;
        tx.commit().await?;
        Ok(grants)
    }

    /// The services the citizen consented to, by name.
    pub async fn consents_of(&self, citizen_id: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.client_id, k.client_name, k.metadata, c.scope, c.granted_at FROM consents c \
             JOIN clients k ON k.client_id = c.client_id WHERE c.citizen_id = $1 ORDER BY k.client_name, c.client_id",
        )
        .bind(citizen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ConsentRecord {
                    client_id: r.try_get("client_id")?,
                    client_name: r.try_get("client_name")?,
                    client_metadata: r.try_get("metadata")?,
                    scope: super::scope_column(r)?,
                    granted_at: r.try_get("granted_at")?,
                })
            })
            .collect()
    }

    /// Takes consent back: deletes it, revokes every live grant of that
    /// client for the citizen and their refresh tokens, and records the
    /// event, in one transaction. Returns the grants ended (the caller marks
    /// their access tokens revoked in the cache); `None` if there was
    /// neither consent nor grant.
    pub async fn revoke_consent(
        &self,
        citizen_id: &str,
        client_id: &str,
        event: &NewAuditEvent,
    ) -> Result<Option<Vec<EndedGrant>>, StoreError> {
        let now = event.at;
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM consents WHERE citizen_id = $1 AND client_id = $2")
            .bind(citizen_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let grants = live_grants(&mut tx, citizen_id, Some(client_id)).await?;
        if deleted == 0 && grants.is_empty() {
            tx.rollback().await?;
            return Ok(None);
        }
        sqlx::query(
            "UPDATE grants SET revoked_at = $1 WHERE citizen_id = $2 AND client_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(citizen_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE citizen_id = $2 AND client_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(citizen_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        super::audit::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(Some(grants))
    }

    /// Every login of the citizen, ended or not, newest first.
    pub async fn login_history_of(&self, citizen_id: &str) -> Result<Vec<LoginHistoryRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT sid, created_at, expires_at, revoked_at, device, amr FROM login_sessions \
             WHERE citizen_id = $1 ORDER BY created_at DESC, sid",
        )
        .bind(citizen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LoginHistoryRecord {
                    sid: r.try_get("sid")?,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                    device: r.try_get("device")?,
                    amr: r.try_get("amr")?,
                })
            })
            .collect()
    }

    pub async fn recovery_codes_of(&self, citizen_id: &str) -> Result<Vec<RecoveryCodeRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT created_at, used_at FROM recovery_codes WHERE citizen_id = $1 ORDER BY created_at, code_hash",
        )
        .bind(citizen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(RecoveryCodeRecord { created_at: r.try_get("created_at")?, used_at: r.try_get("used_at")? }))
            .collect()
    }

    /// Every grant of the citizen, oldest first.
    pub async fn grants_of(&self, citizen_id: &str) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE citizen_id = $1 ORDER BY created_at, grant_id"
        )))
        .bind(citizen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(grant_from_row).collect()
    }

    /// Every refresh token of the citizen (digests included: the caller
    /// decides what to show).
    pub async fn refresh_tokens_of(&self, citizen_id: &str) -> Result<Vec<RefreshTokenRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM refresh_tokens WHERE citizen_id = $1 ORDER BY created_at",
            super::tokens::COLUMNS
        )))
        .bind(citizen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(super::tokens::from_row).collect()
    }

    /// Erases the citizen's personal data in one transaction: attributes,
    /// passkeys, recovery codes, logins, consents, grants, refresh tokens,
    /// audit events; the citizens row keeps only id, identifier (so the
    /// unique index keeps it from ever being issued again), created_at and
    /// deleted_at. Returns the grants that were live (their access tokens
    /// must be marked revoked, their services told). Mail still queued is
    /// kept detached from the account, with `farewell` (the notice of the
    /// deletion, to the verified address) queued in the same transaction.
    pub async fn delete_citizen(
        &self,
        citizen_id: &str,
        now: UnixTime,
        farewell: Option<&super::MailRecord>,
    ) -> Result<Vec<EndedGrant>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let grants = live_grants(&mut tx, citizen_id, None).await?;
        super::retention::detach_releases(&mut tx, citizen_id).await?;
        for table in [
            "citizen_attributes",
            "passkeys",
            "recovery_codes",
            "login_sessions",
            "consents",
            "refresh_tokens",
            "grants",
            "audit_events",
            "organisation_members",
            "email_challenges",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE citizen_id = $1")))
                .bind(citizen_id)
                .execute(&mut *tx)
                .await?;
        }
        // Documents go with the verifications that claimed them.
        sqlx::query(
            "DELETE FROM identity_documents WHERE verification_id IN \
             (SELECT verification_id FROM identity_verifications WHERE citizen_id = $1)",
        )
        .bind(citizen_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM identity_verifications WHERE citizen_id = $1")
            .bind(citizen_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE member_invitations SET accepted_by = NULL WHERE accepted_by = $1")
            .bind(citizen_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE mail_outbox SET citizen_id = NULL WHERE citizen_id = $1")
            .bind(citizen_id)
            .execute(&mut *tx)
            .await?;
        if let Some(mail) = farewell {
            super::mail::insert_mail(&mut tx, mail).await?;
        }
        sqlx::query(
            "UPDATE citizens SET given_name = '', family_name = '', email = NULL, last_signed_in_at = NULL, \
             mail_lang = NULL, quiet_notices = 0, deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(citizen_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(grants)
    }
}

#[cfg(feature = "test-support")]
impl Db {
    /// Rows that still hold something of the citizen, per table: every
    /// table with a `citizen_id` column (found in the schema, so a new
    /// table is checked without editing this), and the citizens row unless
    /// it is an emptied tombstone.
    pub async fn rows_of_citizen(&self, citizen_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut tables: Vec<String> =
            self.schema_columns().await?.into_iter().filter(|c| c.column == "citizen_id").map(|c| c.table).collect();
        tables.dedup();
        let mut counts = Vec::new();
        for table in tables {
            let row =
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table} WHERE citizen_id = $1")))
                    .bind(citizen_id)
                    .fetch_one(&self.pool)
                    .await?;
            counts.push((table, row.try_get("n")?));
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM citizens WHERE id = $1 \
             AND (deleted_at IS NULL OR given_name <> '' OR family_name <> '' OR email IS NOT NULL)",
        )
        .bind(citizen_id)
        .fetch_one(&self.pool)
        .await?;
        counts.push(("citizens".to_owned(), row.try_get("n")?));
        Ok(counts)
    }

    /// Whether a citizens row (a tombstone included) holds this identifier.
    pub async fn identifier_taken(&self, identifier: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM citizens WHERE identifier = $1")
            .bind(identifier)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }
}
