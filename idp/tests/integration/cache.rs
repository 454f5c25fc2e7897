//! Short-lived state on the configured backend (SQL, or Redis in CI).

use std::sync::Arc;

use idp::cache::Cache;
use idp::store::Db;
use idp::testing::TestApp;

#[tokio::test]
async fn values_expire_by_the_injected_clock() {
    let app = TestApp::spawn().await;
    let cache = &app.state.cache;
    cache.put("ceremony:a", b"state", 60).await.unwrap();
    assert_eq!(cache.get("ceremony:a").await.unwrap().as_deref(), Some(&b"state"[..]));
    app.clock.advance(59);
    assert!(cache.get("ceremony:a").await.unwrap().is_some(), "alive one second before expiry");
    app.clock.advance(1);
    assert!(cache.get("ceremony:a").await.unwrap().is_none(), "expired at 60 s");
    assert!(cache.take("ceremony:a").await.unwrap().is_none(), "an expired value is never taken");
}

#[tokio::test]
async fn take_hands_a_value_to_exactly_one_of_fifty_concurrent_takers() {
    let app = TestApp::spawn().await;
    let cache = Arc::new(app.state.cache.clone());
    cache.put("code:x", b"grant", 60).await.unwrap();
    let takers: Vec<_> = (0..50)
        .map(|_| {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move { cache.take("code:x").await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for taker in takers {
        if taker.await.unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn put_if_absent_guards_against_replay_until_expiry() {
    let app = TestApp::spawn().await;
    let cache = &app.state.cache;
    assert!(cache.put_if_absent("jti:1", b"", 30).await.unwrap());
    assert!(!cache.put_if_absent("jti:1", b"", 30).await.unwrap(), "replay refused");
    app.clock.advance(30);
    assert!(cache.put_if_absent("jti:1", b"", 30).await.unwrap(), "usable again once expired");
    cache.delete("jti:1").await.unwrap();
    assert!(cache.get("jti:1").await.unwrap().is_none());
}

#[tokio::test]
async fn without_redis_state_survives_a_restart() {
    let app = TestApp::spawn().await;
    let before = Cache::sql(app.state.db.clone(), app.state.clock.clone());
    before.put("pending:1", b"kept", 600).await.unwrap();
    app.state.db.close().await;
    let reopened = Db::connect(&app.db.url).await.unwrap();
    let after = Cache::sql(reopened, app.state.clock.clone());
    assert_eq!(after.get("pending:1").await.unwrap().as_deref(), Some(&b"kept"[..]));
}
