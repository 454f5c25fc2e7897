//! Registered clients (territorial services) and the consents citizens gave them.

use sqlx::Row as _;

use super::{Db, StoreError};
use crate::clock::UnixTime;

/// A client as stored; JSON columns stay text here, the domain parses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub client_secret_hash: Option<String>,
    pub client_name: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub token_endpoint_auth_method: String,
    pub scope: String,
    pub id_token_signed_response_alg: String,
    pub userinfo_signed_response_alg: Option<String>,
    pub subject_type: String,
    pub sector: String,
    pub jwks: Option<String>,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

const CLIENT_COLUMNS: &str = "client_id, client_secret_hash, client_name, redirect_uris, post_logout_redirect_uris, \
     grant_types, token_endpoint_auth_method, scope, id_token_signed_response_alg, userinfo_signed_response_alg, \
     subject_type, sector, jwks, created_at, updated_at";

fn client_from_row(r: &sqlx::any::AnyRow) -> Result<ClientRecord, StoreError> {
    Ok(ClientRecord {
        client_id: r.try_get("client_id")?,
        client_secret_hash: r.try_get("client_secret_hash")?,
        client_name: r.try_get("client_name")?,
        redirect_uris: r.try_get("redirect_uris")?,
        post_logout_redirect_uris: r.try_get("post_logout_redirect_uris")?,
        grant_types: r.try_get("grant_types")?,
        token_endpoint_auth_method: r.try_get("token_endpoint_auth_method")?,
        scope: r.try_get("scope")?,
        id_token_signed_response_alg: r.try_get("id_token_signed_response_alg")?,
        userinfo_signed_response_alg: r.try_get("userinfo_signed_response_alg")?,
        subject_type: r.try_get("subject_type")?,
        sector: r.try_get("sector")?,
        jwks: r.try_get("jwks")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Db {
    pub async fn insert_client(&self, c: &ClientRecord) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        )))
        .bind(&c.client_id)
        .bind(&c.client_secret_hash)
        .bind(&c.client_name)
        .bind(&c.redirect_uris)
        .bind(&c.post_logout_redirect_uris)
        .bind(&c.grant_types)
        .bind(&c.token_endpoint_auth_method)
        .bind(&c.scope)
        .bind(&c.id_token_signed_response_alg)
        .bind(&c.userinfo_signed_response_alg)
        .bind(&c.subject_type)
        .bind(&c.sector)
        .bind(&c.jwks)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let row =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1")))
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    pub async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created_at, client_id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// The scope a citizen consented to for a client, if any.
    pub async fn consent(&self, citizen_id: &str, client_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT scope FROM consents WHERE citizen_id = $1 AND client_id = $2")
            .bind(citizen_id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("scope")).transpose()?)
    }

    /// Records the citizen's consent and its audit event together.
    pub async fn grant_consent(
        &self,
        citizen_id: &str,
        client_id: &str,
        scope: &str,
        event: &super::NewAuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO consents (citizen_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (citizen_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(citizen_id)
        .bind(client_id)
        .bind(scope)
        .bind(event.at)
        .execute(&mut *tx)
        .await?;
        super::audit::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records (or widens) consent.
    pub async fn save_consent(
        &self,
        citizen_id: &str,
        client_id: &str,
        scope: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consents (citizen_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (citizen_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(citizen_id)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
