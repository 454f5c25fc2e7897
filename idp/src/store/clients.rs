//! Registered clients (territorial services) and the consents citizens gave
//! them. Every registry write carries its administrators' log entry and is
//! one transaction (RFC 7591 §3, RFC 7592 §2: nothing is half-registered).

use sqlx::Row as _;

use super::registry::{EventRecord, insert_event};
use super::{Db, StoreError};
use crate::clock::UnixTime;
use crate::scope::Scope;

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
    /// Where the client publishes its public keys (instead of `jwks`).
    pub jwks_uri: Option<String>,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
    pub organisation_id: Option<String>,
    /// JSON object: metadata shown, not acted on.
    pub metadata: String,
    pub registration_token_hash: Option<String>,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<UnixTime>,
    pub secret_overlap: i64,
    pub skip_consent: bool,
    /// `Some(reason)`: exempt from PKCE by a global administrator.
    pub pkce_exempt_reason: Option<String>,
    pub registered_by: String,
    pub version: i64,
}

const CLIENT_COLUMNS: &str = "client_id, client_secret_hash, client_name, redirect_uris, post_logout_redirect_uris, \
     grant_types, token_endpoint_auth_method, scope, id_token_signed_response_alg, userinfo_signed_response_alg, \
     subject_type, sector, jwks, created_at, updated_at, organisation_id, metadata, registration_token_hash, \
     previous_secret_hash, previous_secret_expires_at, secret_overlap, skip_consent, registered_by, version, jwks_uri, \
     pkce_exempt_reason";

/// How an update treats the client's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretChange {
    Keep,
    /// A new secret (digest), the old one dropped at once.
    Replace(String),
    Clear,
}

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
        jwks_uri: r.try_get("jwks_uri")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        organisation_id: r.try_get("organisation_id")?,
        metadata: r.try_get("metadata")?,
        registration_token_hash: r.try_get("registration_token_hash")?,
        previous_secret_hash: r.try_get("previous_secret_hash")?,
        previous_secret_expires_at: r.try_get("previous_secret_expires_at")?,
        secret_overlap: r.try_get("secret_overlap")?,
        skip_consent: r.try_get::<i64, _>("skip_consent")? != 0,
        pkce_exempt_reason: r.try_get("pkce_exempt_reason")?,
        registered_by: r.try_get("registered_by")?,
        version: r.try_get("version")?,
    })
}

impl Db {
    /// Stores a new client and its log entry; when registration spends a
    /// single-use initial access token, spends it in the same transaction.
    /// `Ok(false)`: that token was spent meanwhile, nothing was written.
    pub async fn insert_client(
        &self,
        c: &ClientRecord,
        spend_token: Option<(&str, UnixTime)>,
        event: &EventRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some((token_id, now)) = spend_token {
            let spent = sqlx::query(
                "UPDATE initial_access_tokens SET used_at = $1 \
                 WHERE token_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(token_id)
            .execute(&mut *tx)
            .await?;
            if spent.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)"
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
        .bind(&c.organisation_id)
        .bind(&c.metadata)
        .bind(&c.registration_token_hash)
        .bind(&c.previous_secret_hash)
        .bind(c.previous_secret_expires_at)
        .bind(c.secret_overlap)
        .bind(i64::from(c.skip_consent))
        .bind(&c.registered_by)
        .bind(c.version)
        .bind(&c.jwks_uri)
        .bind(&c.pkce_exempt_reason)
        .execute(&mut *tx)
        .await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces a client's metadata as a whole row, if nobody changed it
    /// since `c.version` was read (optimistic concurrency: a concurrent
    /// update is never silently lost). `Ok(false)`: changed meanwhile, or gone.
    pub async fn update_client(
        &self,
        c: &ClientRecord,
        secret: &SecretChange,
        event: &EventRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE clients SET client_name = $1, redirect_uris = $2, post_logout_redirect_uris = $3, grant_types = $4, \
             token_endpoint_auth_method = $5, scope = $6, id_token_signed_response_alg = $7, \
             userinfo_signed_response_alg = $8, subject_type = $9, sector = $10, jwks = $11, updated_at = $12, \
             organisation_id = $13, metadata = $14, secret_overlap = $15, skip_consent = $16, jwks_uri = $17, \
             pkce_exempt_reason = $18, version = version + 1 WHERE client_id = $19 AND version = $20",
        )
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
        .bind(c.updated_at)
        .bind(&c.organisation_id)
        .bind(&c.metadata)
        .bind(c.secret_overlap)
        .bind(i64::from(c.skip_consent))
        .bind(&c.jwks_uri)
        .bind(&c.pkce_exempt_reason)
        .bind(&c.client_id)
        .bind(c.version)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let secret_sql = match secret {
            SecretChange::Keep => None,
            SecretChange::Replace(hash) => Some((
                "UPDATE clients SET client_secret_hash = $1, previous_secret_hash = NULL, \
                 previous_secret_expires_at = NULL WHERE client_id = $2",
                Some(hash.clone()),
            )),
            SecretChange::Clear => Some((
                "UPDATE clients SET client_secret_hash = $1, previous_secret_hash = NULL, \
                 previous_secret_expires_at = NULL WHERE client_id = $2",
                None,
            )),
        };
        if let Some((sql, hash)) = secret_sql {
            sqlx::query(sql).bind(hash).bind(&c.client_id).execute(&mut *tx).await?;
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Makes `new_hash` the secret; the current one stays valid until
    /// `previous_expires_at`. One statement: concurrent metadata updates
    /// cannot undo it. `Ok(false)`: no such confidential client.
    pub async fn rotate_client_secret(
        &self,
        client_id: &str,
        new_hash: &str,
        previous_expires_at: UnixTime,
        event: &EventRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE clients SET previous_secret_hash = client_secret_hash, previous_secret_expires_at = $1, \
             client_secret_hash = $2, updated_at = $3, version = version + 1 \
             WHERE client_id = $4 AND client_secret_hash IS NOT NULL",
        )
        .bind(previous_expires_at)
        .bind(new_hash)
        .bind(event.at)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a client (its consents, grants and refresh tokens go with
    /// it). `Ok(false)`: there was no such client.
    pub async fn delete_client(&self, client_id: &str, event: &EventRecord) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1").bind(client_id).execute(&mut *tx).await?;
        if deleted.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
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

    pub async fn clients_of_organisation(&self, organisation_id: &str) -> Result<Vec<ClientRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE organisation_id = $1 ORDER BY created_at, client_id"
        )))
        .bind(organisation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// The scope a citizen consented to for a client, if any.
    pub async fn consent(&self, citizen_id: &str, client_id: &str) -> Result<Option<Scope>, StoreError> {
        let row = sqlx::query("SELECT scope FROM consents WHERE citizen_id = $1 AND client_id = $2")
            .bind(citizen_id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(super::scope_column).transpose()?)
    }

    /// Records the citizen's consent and its audit event together.
    pub async fn grant_consent(
        &self,
        citizen_id: &str,
        client_id: &str,
        scope: &Scope,
        event: &super::NewAuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO consents (citizen_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (citizen_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(citizen_id)
        .bind(client_id)
        .bind(scope.to_string())
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
