//! The lease every durable outbox shares (back-channel logout, mail): due
//! rows are *claimed* by one replica until its lease ends, then marked
//! delivered, or failed with the next attempt's time or given up.

use sqlx::AnyPool;

use crate::clock::UnixTime;

/// One outbox table: its name, key column and the columns a claim returns.
/// The table has `attempts`, `next_attempt_at`, `lease_owner`,
/// `lease_until`, `delivered_at`, `gave_up_at` and `last_error`.
pub(super) struct Outbox {
    pub table: &'static str,
    pub key: &'static str,
    pub columns: &'static str,
    /// Extra `SET` items once a row is finished (delivered or given up),
    /// e.g. blanking what should not outlive delivery; empty for none.
    pub on_finish: &'static str,
}

impl Outbox {
    /// Leases up to `limit` due rows to `owner` until `lease_until`. The
    /// outer condition is re-checked on the locked row, so two replicas
    /// never hold one row.
    pub async fn claim(
        &self,
        pool: &AnyPool,
        owner: &str,
        now: UnixTime,
        lease_until: UnixTime,
        limit: i64,
    ) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
        let Self { table, key, columns, .. } = self;
        let sql = format!(
            "UPDATE {table} SET lease_owner = $1, lease_until = $2 \
             WHERE {key} IN (SELECT {key} FROM {table} \
                 WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $3 \
                 AND (lease_until IS NULL OR lease_until <= $3) ORDER BY next_attempt_at LIMIT $4) \
             AND delivered_at IS NULL AND gave_up_at IS NULL AND (lease_until IS NULL OR lease_until <= $3) \
             RETURNING {columns}"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner).bind(lease_until).bind(now).bind(limit).fetch_all(pool).await
    }

    /// Records a delivery by the lease holder (a lost lease writes nothing).
    pub async fn delivered(&self, pool: &AnyPool, id: &str, owner: &str, now: UnixTime) -> Result<(), sqlx::Error> {
        let Self { table, key, on_finish, .. } = self;
        let sql = format!(
            "UPDATE {table} SET delivered_at = $1, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL{} \
             WHERE {key} = $2 AND lease_owner = $3",
            finish_items(on_finish)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(id).bind(owner).execute(pool).await?;
        Ok(())
    }

    /// Records a failed attempt: retry at `next_attempt_at`, or give up (`None`).
    pub async fn failed(
        &self,
        pool: &AnyPool,
        id: &str,
        owner: &str,
        error: &str,
        next_attempt_at: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<(), sqlx::Error> {
        let Self { table, key, on_finish, .. } = self;
        let sql = format!(
            "UPDATE {table} SET attempts = attempts + 1, last_error = $1, \
             next_attempt_at = COALESCE($2, next_attempt_at), gave_up_at = CASE WHEN $2 IS NULL THEN $3 ELSE NULL END, \
             lease_owner = NULL, lease_until = NULL WHERE {key} = $4 AND lease_owner = $5"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(error)
            .bind(next_attempt_at)
            .bind(now)
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?;
        if next_attempt_at.is_none() && !on_finish.is_empty() {
            let sql = format!("UPDATE {table} SET {on_finish} WHERE {key} = $1 AND gave_up_at IS NOT NULL");
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).execute(pool).await?;
        }
        Ok(())
    }
}

fn finish_items(on_finish: &str) -> String {
    if on_finish.is_empty() { String::new() } else { format!(", {on_finish}") }
}
