//! Both backends get the same schema from their migration folders.

use std::path::Path;

use idp::store::Db;

fn migration_files(backend: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(backend);
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migration_versions() {
    let sqlite = migration_files("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, migration_files("postgres"));
}

#[tokio::test]
async fn both_backends_produce_the_same_tables_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
    sqlite.migrate().await.unwrap();
    let sqlite_columns = sqlite.schema_columns().await.unwrap();
    assert!(sqlite_columns.iter().any(|c| c.table == "signing_keys" && c.column == "private_key" && !c.nullable));
    assert!(sqlite_columns.iter().any(|c| c.table == "signing_keys" && c.column == "retires_at" && c.nullable));

    if std::env::var("SESAME_TEST_DATABASE_URL").is_err() {
        eprintln!("PostgreSQL side skipped: SESAME_TEST_DATABASE_URL is not set");
        return;
    }
    let pg = idp::testing::TestDatabase::create().await;
    let postgres = Db::connect(&pg.url).await.unwrap();
    postgres.migrate().await.unwrap();
    assert_eq!(postgres.schema_columns().await.unwrap(), sqlite_columns);
    postgres.close().await;
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    let db = idp::testing::TestDatabase::create().await;
    let conn = Db::connect(&db.url).await.unwrap();
    conn.migrate().await.unwrap();
    assert_eq!(conn.pending_migrations().await.unwrap(), 0);
    conn.migrate().await.unwrap();
    assert_eq!(conn.pending_migrations().await.unwrap(), 0);
    conn.close().await;
}
