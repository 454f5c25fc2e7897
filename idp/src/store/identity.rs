//! Identity attributes beyond the sign-up names ("identité pivot" and
//! contact): one row per attribute, with who verified it and when.

use sqlx::Row as _;

use super::{Db, StoreError};
use crate::clock::UnixTime;

/// One attribute of a citizen's identity record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeRecord {
    /// `birthdate`, `gender`, `birthplace`, `birthcountry`, `phone_number`,
    /// `address`; or `given_name`, `family_name`, `email` when it records
    /// the verification of that `citizens` column.
    pub name: String,
    /// Text; `address` is a JSON object.
    pub value: String,
    /// Who verified it (a counter agent, a trusted provider); `None` when self-declared.
    pub verified_by: Option<String>,
    pub verified_at: Option<UnixTime>,
    pub updated_at: UnixTime,
}

impl Db {
    /// The citizen's attributes, by name.
    pub async fn attributes_of(&self, citizen_id: &str) -> Result<Vec<AttributeRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, value, verified_by, verified_at, updated_at FROM citizen_attributes \
             WHERE citizen_id = $1 ORDER BY name",
        )
        .bind(citizen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AttributeRecord {
                    name: r.try_get("name")?,
                    value: r.try_get("value")?,
                    verified_by: r.try_get("verified_by")?,
                    verified_at: r.try_get("verified_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Sets (or replaces) attributes of a citizen, with the audit event of
    /// the change, in one transaction.
    pub async fn put_attributes(
        &self,
        citizen_id: &str,
        attributes: &[AttributeRecord],
        event: &super::NewAuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for a in attributes {
            upsert_attribute(&mut tx, citizen_id, a).await?;
        }
        super::audit::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Db {
    /// The citizen's own declaration, in one transaction: the names, each
    /// attribute in `set` whose value changed (written unverified; an
    /// unchanged one keeps its verification), those in `removed` deleted,
    /// and the audit event. `false`: the account is gone.
    pub async fn declare_identity(
        &self,
        citizen_id: &str,
        (given_name, family_name): (&str, &str),
        set: &[AttributeRecord],
        removed: &[&str],
        event: &super::NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let live =
            sqlx::query("UPDATE citizens SET given_name = $1, family_name = $2 WHERE id = $3 AND deleted_at IS NULL")
                .bind(given_name)
                .bind(family_name)
                .bind(citizen_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if live == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for a in set {
            sqlx::query(
                "INSERT INTO citizen_attributes (citizen_id, name, value, verified_by, verified_at, updated_at) \
                 VALUES ($1, $2, $3, NULL, NULL, $4) ON CONFLICT (citizen_id, name) DO UPDATE SET \
                 value = excluded.value, verified_by = NULL, verified_at = NULL, updated_at = excluded.updated_at \
                 WHERE citizen_attributes.value <> excluded.value",
            )
            .bind(citizen_id)
            .bind(&a.name)
            .bind(&a.value)
            .bind(a.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        for name in removed {
            sqlx::query("DELETE FROM citizen_attributes WHERE citizen_id = $1 AND name = $2")
                .bind(citizen_id)
                .bind(*name)
                .execute(&mut *tx)
                .await?;
        }
        super::audit::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Sets one attribute (replacing its value and verification), in the caller's transaction.
pub(super) async fn upsert_attribute(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    citizen_id: &str,
    a: &AttributeRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO citizen_attributes (citizen_id, name, value, verified_by, verified_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (citizen_id, name) DO UPDATE SET \
         value = excluded.value, verified_by = excluded.verified_by, verified_at = excluded.verified_at, \
         updated_at = excluded.updated_at",
    )
    .bind(citizen_id)
    .bind(&a.name)
    .bind(&a.value)
    .bind(&a.verified_by)
    .bind(a.verified_at)
    .bind(a.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
