//! The database: one sqlx `Any` pool over SQLite or PostgreSQL, one set of
//! portable queries (`$n` placeholders, BIGINT seconds, BLOB/BYTEA bytes), and
//! the only place SQL lives. Backend differences stay in the migrations and in
//! [`Db::connect`].

mod audit;
mod citizens;
mod clients;
mod ephemeral;
mod grants;
mod identity;
mod keys;
mod logins;
mod logout;
mod mail;
mod members;
mod outbox;
mod passkeys;
mod registry;
mod retention;
mod schema;
mod sessions;
mod tokens;
mod transparency;
mod verifications;

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migrate as _, Migrator};
use sqlx::{AnyPool, ConnectOptions as _, Executor as _};

use crate::outage::{Dependency, Failure};

pub use audit::{AuditEntry, NewAuditEvent};
pub use citizens::{CitizenRecord, CreateCitizenError};
pub use clients::{ClientRecord, SecretChange};
pub use grants::GrantRecord;
pub use identity::AttributeRecord;
pub use keys::{MetaValue, StoredKey};
pub use logins::LoginSessionRecord;
pub use logout::LogoutDelivery;
pub use mail::{EmailChallenge, MailRecord};
pub use members::{Acceptance, InvitationRecord, MemberRecord};
pub use passkeys::{NewPasskey, PasskeyRecord, PasskeyRemoval, PasskeyUse};
pub use registry::{EventRecord, OrganisationRecord, TokenKind, TokenRecord};
pub use retention::ReleaseRecord;
pub use schema::Column;
pub use tokens::{RefreshTokenRecord, Rotation};
pub use transparency::{ConsentRecord, EndedGrant, LoginHistoryRecord, RecoveryCodeRecord};
pub use verifications::{NewVerification, Recorded, VerificationRecord};

/// A `scope` column: the space-separated form.
fn scope_column(r: &sqlx::any::AnyRow) -> Result<crate::scope::Scope, sqlx::Error> {
    use sqlx::Row as _;
    Ok(crate::scope::Scope::parse(&r.try_get::<String, _>("scope")?))
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot reach the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("database migration failed (nothing of it was kept): {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
    /// The database is unreachable or overloaded (worth a retry), rather
    /// than a statement or the data being wrong.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Every query error passes here and is classified once: an unreachable
/// database is `Unavailable` (answered 503 at the edge), and is also
/// witnessed for the request's safety net (`outage`).
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if crate::outage::is_database_outage(&e) {
            crate::outage::witness(Dependency::Database);
            return Self::Unavailable(e);
        }
        Self::Query(e)
    }
}

impl Failure for StoreError {
    fn unavailable(&self) -> Option<Dependency> {
        let lost = match self {
            Self::Unavailable(_) => true,
            Self::Connect(e) => crate::outage::is_database_outage(e),
            Self::Query(_) | Self::Migrate(_) | Self::Corrupt(_) => false,
        };
        lost.then_some(Dependency::Database)
    }
}

/// A handle to the database, cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects (creating the SQLite file if needed) without migrating.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, Duration::from_secs(5)).await
    }

    /// Connects; a query waits at most `timeout` for a connection (an
    /// unreachable database fails requests after that, never hangs them).
    pub async fn connect_with(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let options = AnyConnectOptions::from_str(url)
            .map_err(StoreError::Connect)?
            .log_statements(tracing::log::LevelFilter::Debug)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let pool_options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(timeout);
        let pool_options = match backend {
            // WAL lets readers run beside the writer; a busy writer waits
            // instead of failing; foreign keys are off by default in SQLite.
            Backend::Sqlite => pool_options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                        .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => pool_options,
        };
        let pool = pool_options.connect_with(options).await.map_err(StoreError::Connect)?;
        Ok(Self { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies pending migrations, each in its own transaction, under the
    /// migrator's lock so replicas starting together do not race. Versions
    /// applied by a newer release are tolerated (expand/contract upgrades).
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let before = self.pending_migrations().await.unwrap_or(0);
        let mut migrator = Migrator { migrations: self.migrator().migrations.clone(), ..Migrator::DEFAULT };
        migrator.set_ignore_missing(true).set_locking(true);
        migrator.run(&self.pool).await.map_err(StoreError::Migrate)?;
        Ok(before)
    }

    /// How many of this release's migrations the database still lacks.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let mut conn = self.pool.acquire().await?;
        conn.ensure_migrations_table(&self.migrator().table_name).await.map_err(StoreError::Migrate)?;
        let applied = conn.list_applied_migrations(&self.migrator().table_name).await.map_err(StoreError::Migrate)?;
        Ok(self
            .migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .filter(|m| !applied.iter().any(|a| a.version == m.version))
            .count())
    }

    /// One round trip, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection; later queries fail (used for shutdown and by
    /// the readiness test).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(feature = "test-support")]
impl Db {
    /// Runs a statement on the server itself (test databases: CREATE/DROP DATABASE).
    pub async fn execute_admin(&self, statement: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned())).execute(&self.pool).await?;
        Ok(())
    }
}
