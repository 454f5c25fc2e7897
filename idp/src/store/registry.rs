//! Organisations, initial access tokens (RFC 7591 §3), administrator tokens
//! and the administrators' action log. Tokens are looked up by digest only.

use sqlx::Row as _;

use super::{Db, StoreError};
use crate::clock::UnixTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationRecord {
    pub organisation_id: String,
    pub name: String,
    pub kind: String,
    pub official_code: String,
    /// JSON array of e-mail addresses.
    pub contacts: String,
    pub created_at: UnixTime,
}

/// An initial access token (RFC 7591 §3) or an administrator token: same shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub token_id: String,
    pub token_hash: String,
    /// Always set for initial access tokens; `None` = every organisation (administrator tokens).
    pub organisation_id: Option<String>,
    pub description: String,
    pub single_use: bool,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

/// One line of the administrators' log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub event_id: String,
    pub at: UnixTime,
    pub actor: String,
    pub action: String,
    pub organisation_id: Option<String>,
    pub target: String,
    /// JSON object.
    pub detail: String,
}

/// Which token table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    InitialAccess,
    Admin,
}

impl TokenKind {
    fn table(self) -> &'static str {
        match self {
            Self::InitialAccess => "initial_access_tokens",
            Self::Admin => "admin_tokens",
        }
    }
}

pub(super) async fn insert_event(tx: &mut sqlx::Transaction<'_, sqlx::Any>, e: &EventRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO admin_events (event_id, at, actor, action, organisation_id, target, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&e.event_id)
    .bind(e.at)
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.organisation_id)
    .bind(&e.target)
    .bind(&e.detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) fn organisation_from_row(r: &sqlx::any::AnyRow) -> Result<OrganisationRecord, StoreError> {
    Ok(OrganisationRecord {
        organisation_id: r.try_get("organisation_id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        official_code: r.try_get("official_code")?,
        contacts: r.try_get("contacts")?,
        created_at: r.try_get("created_at")?,
    })
}

fn token_from_row(kind: TokenKind, r: &sqlx::any::AnyRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        token_id: r.try_get("token_id")?,
        token_hash: r.try_get("token_hash")?,
        organisation_id: r.try_get("organisation_id")?,
        description: r.try_get("description")?,
        single_use: match kind {
            TokenKind::InitialAccess => r.try_get::<i64, _>("single_use")? != 0,
            TokenKind::Admin => false,
        },
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: match kind {
            TokenKind::InitialAccess => r.try_get("used_at")?,
            TokenKind::Admin => None,
        },
        revoked_at: r.try_get("revoked_at")?,
    })
}

const ORGANISATION_COLUMNS: &str = "organisation_id, name, kind, official_code, contacts, created_at";

impl Db {
    /// `Ok(false)`: an organisation with this official code exists already.
    pub async fn insert_organisation(&self, o: &OrganisationRecord, event: &EventRecord) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO organisations (organisation_id, name, kind, official_code, contacts, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (official_code) DO NOTHING",
        )
        .bind(&o.organisation_id)
        .bind(&o.name)
        .bind(&o.kind)
        .bind(&o.official_code)
        .bind(&o.contacts)
        .bind(o.created_at)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// By id or by official code.
    pub async fn organisation(&self, id_or_code: &str) -> Result<Option<OrganisationRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE organisation_id = $1 OR official_code = $1"
        )))
        .bind(id_or_code)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(organisation_from_row).transpose()
    }

    pub async fn organisations(&self) -> Result<Vec<OrganisationRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ORGANISATION_COLUMNS} FROM organisations ORDER BY name, organisation_id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(organisation_from_row).collect()
    }

    pub async fn insert_token(&self, kind: TokenKind, t: &TokenRecord, event: &EventRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let query = match kind {
            TokenKind::InitialAccess => sqlx::query(
                "INSERT INTO initial_access_tokens (token_id, token_hash, organisation_id, description, created_at, \
                 expires_at, single_use) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            ),
            TokenKind::Admin => sqlx::query(
                "INSERT INTO admin_tokens (token_id, token_hash, organisation_id, description, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            ),
        };
        let query = query
            .bind(&t.token_id)
            .bind(&t.token_hash)
            .bind(&t.organisation_id)
            .bind(&t.description)
            .bind(t.created_at)
            .bind(t.expires_at);
        let query = match kind {
            TokenKind::InitialAccess => query.bind(i64::from(t.single_use)),
            TokenKind::Admin => query,
        };
        query.execute(&mut *tx).await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn token_by_hash(&self, kind: TokenKind, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {} WHERE token_hash = $1", kind.table())))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| token_from_row(kind, r)).transpose()
    }

    pub async fn token_by_id(&self, kind: TokenKind, token_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {} WHERE token_id = $1", kind.table())))
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| token_from_row(kind, r)).transpose()
    }

    /// Every token, or those of one organisation, newest first.
    pub async fn tokens(&self, kind: TokenKind, organisation_id: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = match organisation_id {
            Some(org) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT * FROM {} WHERE organisation_id = $1 ORDER BY created_at DESC, token_id",
                    kind.table()
                )))
                .bind(org)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT * FROM {} ORDER BY created_at DESC, token_id",
                    kind.table()
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(|r| token_from_row(kind, r)).collect()
    }

    /// `Ok(false)`: no such token, or revoked already.
    pub async fn revoke_token(&self, kind: TokenKind, token_id: &str, event: &EventRecord) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let revoked = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {} SET revoked_at = $1 WHERE token_id = $2 AND revoked_at IS NULL",
            kind.table()
        )))
        .bind(event.at)
        .bind(token_id)
        .execute(&mut *tx)
        .await?;
        if revoked.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Logs an action that changes nothing else (e.g. reading a citizen's audit trail).
    pub async fn insert_admin_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The most recent log entries, newest first.
    /// The newest `limit` entries, of one organisation when `organisation_id` is given.
    pub async fn admin_events(
        &self,
        organisation_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT event_id, at, actor, action, organisation_id, target, detail FROM admin_events \
             WHERE $1 IS NULL OR organisation_id = $1 ORDER BY at DESC, event_id LIMIT $2",
        )
        .bind(organisation_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EventRecord {
                    event_id: r.try_get("event_id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    organisation_id: r.try_get("organisation_id")?,
                    target: r.try_get("target")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
