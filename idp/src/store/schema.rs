//! What the migrations built, for the test that both backends agree.

use sqlx::Row as _;

use super::{Backend, Db, StoreError};

/// One column of one table, in backend-neutral terms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub table: String,
    pub column: String,
    pub nullable: bool,
}

impl Db {
    /// Every column of every table of ours (not the migrator's), sorted.
    pub async fn schema_columns(&self) -> Result<Vec<Column>, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name AS table_name, p.name AS column_name, CAST(p.\"notnull\" AS BIGINT) AS not_null \
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT CAST(table_name AS TEXT) AS table_name, CAST(column_name AS TEXT) AS column_name, \
                 CAST(CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END AS BIGINT) AS not_null \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        let mut columns = rows
            .iter()
            .map(|r| {
                Ok(Column {
                    table: r.try_get("table_name")?,
                    column: r.try_get("column_name")?,
                    nullable: r.try_get::<i64, _>("not_null")? == 0,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        columns.sort();
        Ok(columns)
    }
}
