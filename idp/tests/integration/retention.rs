//! Retention on the injected clock (`idp::retention`): each kind of row is
//! kept exactly its period and then purged in batches of
//! `SESAME_RETENTION_BATCH`; what is still in use is never purged; dormant
//! accounts are deleted only when the policy is on.

use idp::audit::AuditEvent;
use idp::clients::{ExtraMetadata, NewClient};
use idp::retention::purge;
use idp::store::{LogoutDelivery, NewAuditEvent};
use idp::testing::TestApp;

use crate::oidc_support::*;

const DAY: i64 = 86_400;

async fn spawn_with_batch(batch: &str) -> TestApp {
    TestApp::spawn_with(|env| {
        env.insert("SESAME_RETENTION_BATCH".into(), batch.into());
    })
    .await
}

fn notice(app: &TestApp, client_id: &str, n: usize) -> LogoutDelivery {
    LogoutDelivery {
        delivery_id: format!("delivery-{n}"),
        client_id: client_id.into(),
        uri: "https://rp.example.fr/backchannel".into(),
        logout_token: "token".into(),
        jti: format!("jti-{n}"),
        reason: "logout".into(),
        created_at: app.clock.now(),
        attempts: 0,
        next_attempt_at: app.clock.now(),
        delivered_at: None,
        gave_up_at: None,
        last_error: None,
    }
}

#[tokio::test]
async fn logs_and_settled_logout_notices_are_kept_their_period_then_purged_in_batches() {
    let app = spawn_with_batch("2").await;
    let citizen = app.citizen().await;
    let client = confidential(&app).await;
    let client_id = client.client.client_id.clone();
    let start = app.clock.now();
    for _ in 0..3 {
        let event = NewAuditEvent::new(&citizen, AuditEvent::SignedUp, start);
        app.state.db.append_audit_event(&event).await.unwrap();
    }
    let admin_logged = app.state.db.admin_events(None, 1_000).await.unwrap().len();
    assert!(admin_logged > 0, "registering a client is logged");
    // Three notices: delivered, given up, and still due (kept however old).
    let notices: Vec<_> = (0..3).map(|n| notice(&app, &client_id, n)).collect();
    app.state.db.enqueue_logout_deliveries(&notices).await.unwrap();
    let claimed = app.state.db.claim_logout_deliveries("test", start, start + 60, 2).await.unwrap();
    app.state.db.mark_logout_delivered(&claimed[0].delivery_id, "test", start).await.unwrap();
    app.state.db.mark_logout_failed(&claimed[1].delivery_id, "test", "HTTP 500", None, start).await.unwrap();
    app.clock.advance(100);
    let recent = NewAuditEvent::new(&citizen, AuditEvent::SignedUp, app.clock.now());
    app.state.db.append_audit_event(&recent).await.unwrap();

    app.clock.advance(30 * DAY - 100 - 1);
    assert_eq!(purge(&app.state).await.unwrap().total(), 0, "nothing is past its period yet");
    app.clock.advance(1);
    assert_eq!(purge(&app.state).await.unwrap().logout_deliveries, 2, "settled notices go after 30 days");
    let left = app.state.db.logout_deliveries_for(&client_id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].delivered_at.is_none() && left[0].gave_up_at.is_none(), "the due notice stays");

    app.clock.set(start + 365 * DAY - 1);
    assert_eq!(purge(&app.state).await.unwrap().total(), 0, "a year, to the second");
    app.clock.advance(1);
    let first = purge(&app.state).await.unwrap();
    assert_eq!((first.audit_events, first.admin_events), (2, admin_logged.min(2) as u64), "one batch per round");
    let mut rounds = 1;
    while purge(&app.state).await.unwrap().total() > 0 {
        rounds += 1;
    }
    assert!(rounds >= 2, "the backlog took more than one round");
    let kept = app.state.db.audit_events_of(&citizen).await.unwrap();
    assert_eq!(kept.len(), 1, "only the recent event is left: {kept:?}");
    assert_eq!(kept[0].at, start + 100);
    assert!(app.state.db.admin_events(None, 1_000).await.unwrap().is_empty());
    assert!(app.state.db.citizen_by_id(&citizen).await.unwrap().is_some(), "dormant accounts are off by default");
    assert_eq!(app.state.db.logout_deliveries_for(&client_id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn ended_refresh_tokens_and_grants_go_a_week_after_they_end_and_live_ones_stay() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let tokens = flow.tokens_with(&app, &[("scope", "openid profile offline_access")]).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let start = app.clock.now();

    // Day 13: the family rotates; the first token's idle expiry stays day 14.
    app.clock.set(start + 13 * DAY);
    let (status, rotated) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", &first)]).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();

    app.clock.set(start + 21 * DAY - 1);
    assert_eq!(purge(&app.state).await.unwrap().total(), 0);
    app.clock.advance(1);
    let purged = purge(&app.state).await.unwrap();
    assert_eq!((purged.refresh_tokens, purged.grants), (1, 0), "the spent token goes, its live grant stays");
    let (status, body) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", &second)]).await;
    assert_eq!(status, 200, "the family lives on: {body}");
    let third = body["refresh_token"].as_str().unwrap().to_owned();

    // The third token expires idle on day 35; a week later the family and its grant go.
    app.clock.set(start + 42 * DAY - 1);
    let purged = purge(&app.state).await.unwrap();
    assert_eq!((purged.refresh_tokens, purged.grants), (1, 0), "the second token (idle expiry day 27): {purged:?}");
    app.clock.advance(1);
    let purged = purge(&app.state).await.unwrap();
    assert_eq!((purged.refresh_tokens, purged.grants), (1, 1), "{purged:?}");
    let (status, _) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", &third)]).await;
    assert_eq!(status, 400);
    assert_eq!(purge(&app.state).await.unwrap().total(), 0);
}

#[tokio::test]
async fn dormant_accounts_are_deleted_only_when_the_policy_is_on() {
    // A service still refreshing offline tokens after three years (a family
    // that long-lived) is told of the deletion.
    let app = TestApp::spawn_with(|env| {
        env.insert("SESAME_RETENTION_DORMANT_ACCOUNTS".into(), "1095d".into());
        env.insert("SESAME_REFRESH_TOKEN_IDLE_TTL".into(), "2000d".into());
        env.insert("SESAME_REFRESH_TOKEN_ABSOLUTE_TTL".into(), "2000d".into());
    })
    .await;
    let client = app
        .register_client(NewClient {
            client_name: "Mairie de Test".into(),
            redirect_uris: vec![REDIRECT.into()],
            scope: Some("openid profile offline_access".into()),
            extra: ExtraMetadata {
                backchannel_logout_uri: Some("https://mairie.example.fr/backchannel".into()),
                ..ExtraMetadata::default()
            },
            ..NewClient::default()
        })
        .await;
    let flow = Flow::for_client(&app, client).await;
    flow.tokens_with(&app, &[("scope", "openid profile offline_access")]).await;
    let dormant = flow.citizen_id.clone();
    let start = app.clock.now();
    app.clock.set(start + 1_000 * DAY);
    let active = app.citizen().await;

    app.clock.set(start + 1_095 * DAY - 1);
    assert_eq!(purge(&app.state).await.unwrap().dormant_accounts, 0);
    app.clock.advance(1);
    // Two replicas purging at once: one deletes, the services are told once.
    let (a, b) = tokio::join!(purge(&app.state), purge(&app.state));
    assert_eq!(a.unwrap().dormant_accounts + b.unwrap().dormant_accounts, 1);
    assert!(app.state.db.citizen_by_id(&dormant).await.unwrap().is_none());
    for (table, count) in app.state.db.rows_of_citizen(&dormant).await.unwrap() {
        assert_eq!(count, 0, "{table} still holds the dormant citizen");
    }
    let told = app.state.db.logout_deliveries_for(flow.client_id()).await.unwrap();
    assert_eq!(told.iter().filter(|d| d.reason == "deletion").count(), 1, "{told:?}");
    assert!(app.state.db.citizen_by_id(&active).await.unwrap().is_some(), "signed in 95 days ago");
    assert_eq!(purge(&app.state).await.unwrap().dormant_accounts, 0);
}
