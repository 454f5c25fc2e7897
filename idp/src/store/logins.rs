//! Logins (`sid`): one row per successful ceremony, so a citizen can list
//! where they are signed in and end the others, everywhere at once.

use sqlx::Row as _;

use super::{Db, StoreError};
use crate::clock::UnixTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSessionRecord {
    pub sid: String,
    pub citizen_id: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    /// Browser summary (from `User-Agent`), for the account page.
    pub device: String,
    /// Space-separated RFC 8176 methods.
    pub amr: String,
}

impl Db {
    /// A new login, which is also the citizen's last sign-in (the dormant
    /// account policy reads it).
    pub async fn insert_login_session(&self, login: &LoginSessionRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO login_sessions (sid, citizen_id, created_at, expires_at, device, amr) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&login.sid)
        .bind(&login.citizen_id)
        .bind(login.created_at)
        .bind(login.expires_at)
        .bind(&login.device)
        .bind(&login.amr)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE citizens SET last_signed_in_at = $1 WHERE id = $2")
            .bind(login.created_at)
            .bind(&login.citizen_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the login is live: the citizen's, not ended, not expired.
    pub async fn login_session_active(&self, sid: &str, citizen_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM login_sessions \
             WHERE sid = $1 AND citizen_id = $2 AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(sid)
        .bind(citizen_id)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? == 1)
    }

    /// The citizen's live logins, newest first.
    pub async fn login_sessions_of(
        &self,
        citizen_id: &str,
        now: UnixTime,
    ) -> Result<Vec<LoginSessionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT sid, citizen_id, created_at, expires_at, device, amr FROM login_sessions \
             WHERE citizen_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, sid",
        )
        .bind(citizen_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LoginSessionRecord {
                    sid: r.try_get("sid")?,
                    citizen_id: r.try_get("citizen_id")?,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                    device: r.try_get("device")?,
                    amr: r.try_get("amr")?,
                })
            })
            .collect()
    }

    pub async fn revoke_login_session(&self, sid: &str, now: UnixTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE login_sessions SET revoked_at = $1 WHERE sid = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(sid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The citizen's logins still live, but `except` (the one signing the others out).
    pub async fn live_logins_of(
        &self,
        citizen_id: &str,
        except: Option<&str>,
        now: UnixTime,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT sid FROM login_sessions WHERE citizen_id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(citizen_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let sids = rows.iter().map(|r| sqlx::Row::try_get::<String, _>(r, "sid")).collect::<Result<Vec<_>, _>>()?;
        Ok(sids.into_iter().filter(|sid| Some(sid.as_str()) != except).collect())
    }

    /// Ends every login of the citizen but `keep`; returns how many ended.
    pub async fn revoke_other_login_sessions(
        &self,
        citizen_id: &str,
        keep: &str,
        now: UnixTime,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE login_sessions SET revoked_at = $1 WHERE citizen_id = $2 AND sid <> $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(citizen_id)
        .bind(keep)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
