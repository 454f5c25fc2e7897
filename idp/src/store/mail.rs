//! Mail: the outbox (written in the transaction of the change that causes
//! a mail, claimed through the shared lease), email verification
//! challenges, and the citizen's mail settings.

use sqlx::Row as _;

use super::outbox::Outbox;
use super::{Db, StoreError};
use crate::clock::UnixTime;

/// One mail, composed and waiting (or delivered: bodies blanked then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    pub mail_id: String,
    pub citizen_id: Option<String>,
    pub recipient: String,
    /// `email_code` or `notice.<what>`.
    pub kind: String,
    pub lang: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: UnixTime,
    pub attempts: i64,
    pub next_attempt_at: UnixTime,
    pub delivered_at: Option<UnixTime>,
    pub gave_up_at: Option<UnixTime>,
    pub last_error: Option<String>,
}

const COLUMNS: &str = "mail_id, citizen_id, recipient, kind, lang, subject, text_body, html_body, created_at, \
     attempts, next_attempt_at, delivered_at, gave_up_at, last_error";

/// Bodies go once the mail is delivered or given up: a verification code
/// or the details of a notice are not kept longer than needed.
const OUTBOX: Outbox =
    Outbox { table: "mail_outbox", key: "mail_id", columns: COLUMNS, on_finish: "text_body = '', html_body = ''" };

fn from_row(r: &sqlx::any::AnyRow) -> Result<MailRecord, StoreError> {
    Ok(MailRecord {
        mail_id: r.try_get("mail_id")?,
        citizen_id: r.try_get("citizen_id")?,
        recipient: r.try_get("recipient")?,
        kind: r.try_get("kind")?,
        lang: r.try_get("lang")?,
        subject: r.try_get("subject")?,
        text_body: r.try_get("text_body")?,
        html_body: r.try_get("html_body")?,
        created_at: r.try_get("created_at")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        delivered_at: r.try_get("delivered_at")?,
        gave_up_at: r.try_get("gave_up_at")?,
        last_error: r.try_get("last_error")?,
    })
}

/// Queues a mail in the caller's transaction.
pub(super) async fn insert_mail(conn: &mut sqlx::AnyConnection, m: &MailRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mail_outbox (mail_id, citizen_id, recipient, kind, lang, subject, text_body, html_body, \
         created_at, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&m.mail_id)
    .bind(&m.citizen_id)
    .bind(&m.recipient)
    .bind(&m.kind)
    .bind(&m.lang)
    .bind(&m.subject)
    .bind(&m.text_body)
    .bind(&m.html_body)
    .bind(m.created_at)
    .bind(m.attempts)
    .bind(m.next_attempt_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A pending email verification (secrets as SHA-256 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChallenge {
    pub citizen_id: String,
    /// Empty once spent (used, or too many wrong codes).
    pub email: String,
    pub code_hash: String,
    pub link_hash: String,
    pub expires_at: UnixTime,
    pub sends: i64,
    pub window_start: UnixTime,
    pub failures: i64,
}

/// A spent challenge: no code, no link (a unique placeholder), same window.
const SPEND: &str = "code_hash = '', link_hash = 'spent:' || citizen_id";

const CHALLENGE_COLUMNS: &str = "citizen_id, email, code_hash, link_hash, expires_at, sends, window_start, failures";

fn challenge_from_row(r: &sqlx::any::AnyRow) -> Result<EmailChallenge, StoreError> {
    Ok(EmailChallenge {
        citizen_id: r.try_get("citizen_id")?,
        email: r.try_get("email")?,
        code_hash: r.try_get("code_hash")?,
        link_hash: r.try_get("link_hash")?,
        expires_at: r.try_get("expires_at")?,
        sends: r.try_get("sends")?,
        window_start: r.try_get("window_start")?,
        failures: r.try_get("failures")?,
    })
}

impl Db {
    /// Leases up to `limit` due mails to `owner` (see [`Outbox::claim`]).
    pub async fn claim_mail(
        &self,
        owner: &str,
        now: UnixTime,
        lease_until: UnixTime,
        limit: i64,
    ) -> Result<Vec<MailRecord>, StoreError> {
        let rows = OUTBOX.claim(&self.pool, owner, now, lease_until, limit).await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn mark_mail_delivered(&self, mail_id: &str, owner: &str, now: UnixTime) -> Result<(), StoreError> {
        Ok(OUTBOX.delivered(&self.pool, mail_id, owner, now).await?)
    }

    pub async fn mark_mail_failed(
        &self,
        mail_id: &str,
        owner: &str,
        error: &str,
        next_attempt_at: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        Ok(OUTBOX.failed(&self.pool, mail_id, owner, error, next_attempt_at, now).await?)
    }

    /// The citizen's mail, oldest first (the account's export, tests).
    pub async fn mail_of(&self, citizen_id: &str) -> Result<Vec<MailRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM mail_outbox WHERE citizen_id = $1 ORDER BY created_at, mail_id"
        )))
        .bind(citizen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The citizen's pending email verification, if any.
    pub async fn email_challenge(&self, citizen_id: &str) -> Result<Option<EmailChallenge>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHALLENGE_COLUMNS} FROM email_challenges WHERE citizen_id = $1"
        )))
        .bind(citizen_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(challenge_from_row).transpose()
    }

    /// Sets the citizen's email (when it changed) and replaces the pending
    /// challenge, with the mail carrying the code, in one transaction.
    /// `false`: the account is gone.
    pub async fn start_email_challenge(
        &self,
        challenge: &EmailChallenge,
        mail: &MailRecord,
        lang: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let live = sqlx::query("UPDATE citizens SET email = $1, mail_lang = $2 WHERE id = $3 AND deleted_at IS NULL")
            .bind(&challenge.email)
            .bind(lang)
            .bind(&challenge.citizen_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if live == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM email_challenges WHERE citizen_id = $1")
            .bind(&challenge.citizen_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO email_challenges ({CHALLENGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(&challenge.citizen_id)
        .bind(&challenge.email)
        .bind(&challenge.code_hash)
        .bind(&challenge.link_hash)
        .bind(challenge.expires_at)
        .bind(challenge.sends)
        .bind(challenge.window_start)
        .bind(challenge.failures)
        .execute(&mut *tx)
        .await?;
        insert_mail(&mut tx, mail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes the challenge a link names (single use), whoever's it is.
    /// A spent challenge keeps its row (empty code hash): the send count
    /// of its window still holds.
    pub async fn take_email_challenge_by_link(&self, link_hash: &str) -> Result<Option<EmailChallenge>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE email_challenges SET {SPEND} WHERE link_hash = $1 AND code_hash <> '' RETURNING {CHALLENGE_COLUMNS}"
        )))
        .bind(link_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(challenge_from_row).transpose()
    }

    /// Takes the citizen's challenge if the code matches (single use).
    pub async fn take_email_challenge_by_code(
        &self,
        citizen_id: &str,
        code_hash: &str,
    ) -> Result<Option<EmailChallenge>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE email_challenges SET {SPEND} WHERE citizen_id = $1 AND code_hash = $2 AND code_hash <> '' \
             RETURNING {CHALLENGE_COLUMNS}"
        )))
        .bind(citizen_id)
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(challenge_from_row).transpose()
    }

    /// Counts a wrong code; the challenge is spent at `max` failures.
    pub async fn email_challenge_failed(&self, citizen_id: &str, max: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE email_challenges SET failures = failures + 1 WHERE citizen_id = $1")
            .bind(citizen_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE email_challenges SET {SPEND} WHERE citizen_id = $1 AND failures >= $2"
        )))
        .bind(citizen_id)
        .bind(max)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The language of the citizen's mail and whether non-critical notices
    /// are off; `None` for an unknown or deleted account.
    pub async fn mail_settings(&self, citizen_id: &str) -> Result<Option<(Option<String>, bool)>, StoreError> {
        let row = sqlx::query("SELECT mail_lang, quiet_notices FROM citizens WHERE id = $1 AND deleted_at IS NULL")
            .bind(citizen_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("mail_lang")?, r.try_get::<i64, _>("quiet_notices")? != 0))).transpose()
    }

    /// Sets the language of the citizen's mail and the non-critical notices.
    pub async fn set_mail_settings(&self, citizen_id: &str, lang: &str, quiet: bool) -> Result<(), StoreError> {
        sqlx::query("UPDATE citizens SET mail_lang = $1, quiet_notices = $2 WHERE id = $3 AND deleted_at IS NULL")
            .bind(lang)
            .bind(i64::from(quiet))
            .bind(citizen_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
