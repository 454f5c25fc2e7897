//! The tower-sessions store over SQL or Redis.

use idp::keys::sha256_b64;
use idp::testing::{T0, TestApp};
use tower_sessions::SessionStore as _;
use tower_sessions::session::{Id, Record};

fn record(expires_at: i64) -> Record {
    let mut data = std::collections::HashMap::new();
    data.insert("citizen".to_owned(), serde_json::json!("c-1"));
    Record { id: Id::default(), data, expiry_date: time::OffsetDateTime::from_unix_timestamp(expires_at).unwrap() }
}

#[tokio::test]
async fn sessions_round_trip_update_and_delete() {
    let app = TestApp::spawn().await;
    let store = app.state.cache.sessions();
    let mut session = record(T0 + 600);
    store.create(&mut session).await.unwrap();
    let loaded = store.load(&session.id).await.unwrap().unwrap();
    assert_eq!(loaded, session);

    session.data.insert("acr".into(), serde_json::json!("eidas1"));
    store.save(&session).await.unwrap();
    assert_eq!(store.load(&session.id).await.unwrap().unwrap().data["acr"], "eidas1");

    store.delete(&session.id).await.unwrap();
    assert!(store.load(&session.id).await.unwrap().is_none());
    assert!(store.load(&Id::default()).await.unwrap().is_none(), "unknown id");
}

#[tokio::test]
async fn sessions_expire_by_the_injected_clock() {
    let app = TestApp::spawn().await;
    let store = app.state.cache.sessions();
    let mut session = record(T0 + 60);
    store.create(&mut session).await.unwrap();
    app.clock.advance(59);
    assert!(store.load(&session.id).await.unwrap().is_some());
    app.clock.advance(1);
    assert!(store.load(&session.id).await.unwrap().is_none());
}

#[tokio::test]
async fn sql_sessions_are_keyed_by_a_hash_of_the_id() {
    let app = TestApp::spawn().await;
    let store = idp::cache::Cache::sql(app.state.db.clone(), app.state.clock.clone()).sessions();
    let mut session = record(T0 + 600);
    store.create(&mut session).await.unwrap();
    let raw = session.id.to_string();
    assert!(app.state.db.load_browser_session(&raw, T0).await.unwrap().is_none(), "raw id not stored");
    assert!(app.state.db.load_browser_session(&sha256_b64(raw.as_bytes()), T0).await.unwrap().is_some());
}
