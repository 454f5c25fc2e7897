//! Sensitive account changes need a user-verified passkey assertion within
//! five minutes (ASVS V3.7.1); recovery codes renewed on request void the
//! old set; a warning when two or fewer are left.

use idp::testing::TestApp;
use idp::testing::browser::Browser;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The confirmation ceremony, as the page's script runs it.
async fn confirm(browser: &mut Browser) {
    let options = browser.start("/account/confirm/start", &json!({})).await;
    let assertion = browser.assert(&options);
    let done = browser.post_json("/account/confirm/finish", &json!({"credential": assertion})).await;
    assert_eq!(done.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_session_older_than_five_minutes_cannot_add_a_passkey_until_confirmed() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_up("Camille", "Martin", None).await;
    // Fresh from the sign-up: allowed.
    assert_eq!(browser.post_json("/account/passkeys/start", &json!({"name": ""})).await.status(), StatusCode::OK);

    // A stolen session, six minutes later.
    app.clock.advance(6 * 60);
    let refused = browser.post_json("/account/passkeys/start", &json!({"name": "thief"})).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "confirmation_required");

    // The citizen confirms with their passkey: allowed for five minutes.
    confirm(&mut browser).await;
    assert_eq!(browser.post_json("/account/passkeys/start", &json!({"name": ""})).await.status(), StatusCode::OK);
    app.clock.advance(5 * 60 + 1);
    assert_eq!(
        browser.post_json("/account/passkeys/start", &json!({"name": ""})).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn another_account_s_passkey_does_not_confirm() {
    let app = TestApp::spawn().await;
    let mut other = Browser::new(&app);
    other.sign_up("Dominique", "Petit", None).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("Camille", "Martin", None).await;
    app.clock.advance(6 * 60);
    let options = browser.start("/account/confirm/start", &json!({})).await;
    let assertion = other.assert(&options);
    let refused = browser.post_json("/account/confirm/finish", &json!({"credential": assertion})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        browser.post_json("/account/passkeys/start", &json!({"name": ""})).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn stale_sessions_are_asked_to_confirm_before_removing_deleting_or_withdrawing() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", None).await;
    let citizen_id = app.state.db.citizen_by_identifier(&shown.identifier.replace('-', "")).await.unwrap().unwrap().id;
    app.clock.advance(6 * 60);
    for (path, fields) in [
        ("/account/passkeys/remove", vec![("credential_id", "x")]),
        ("/account/delete", vec![("confirm", "yes")]),
        ("/account/services/revoke", vec![("client_id", "a-service")]),
        ("/account/recovery-codes", vec![]),
    ] {
        let asked = browser.post_form(path, &fields).await;
        assert_eq!(asked.status(), StatusCode::OK, "{path}");
        let page = asked.text().await.unwrap();
        assert!(page.contains(r#"data-ceremony="confirm""#), "{path}: {page}");
        assert!(page.contains(&format!(r#"<form id="confirm-continue" method="post" action="{path}">"#)), "{page}");
        for (name, value) in fields {
            assert!(page.contains(&format!(r#"name="{name}" value="{value}""#)), "{path} carries {name}: {page}");
        }
    }
    assert!(app.state.db.citizen_by_id(&citizen_id).await.unwrap().is_some(), "not deleted");
    assert_eq!(app.state.db.unused_recovery_codes(&citizen_id).await.unwrap(), 8);

    // Confirmed: the carried form goes through.
    confirm(&mut browser).await;
    let deleted = browser.post_form("/account/delete", &[("confirm", "yes")]).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert!(app.state.db.citizen_by_id(&citizen_id).await.unwrap().is_none());
}

#[tokio::test]
async fn renewed_recovery_codes_void_the_old_ones() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", None).await;
    let renewed = browser.post_form("/account/recovery-codes", &[]).await;
    assert_eq!(renewed.status(), StatusCode::OK);
    let page = renewed.text().await.unwrap();
    let codes: Vec<String> =
        page.split(r#"<li class="code">"#).skip(1).map(|rest| rest.split('<').next().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 8, "{page}");
    assert!(codes.iter().all(|c| !shown.recovery_codes.contains(c)));

    let mut lost = Browser::new(&app);
    let old = lost
        .post_json("/recover/start", &json!({"identifier": shown.identifier, "code": shown.recovery_codes[0]}))
        .await;
    assert!(old.status().is_client_error(), "an old code is void: {}", old.status());
    let new = lost.post_json("/recover/start", &json!({"identifier": shown.identifier, "code": codes[0]})).await;
    assert_eq!(new.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_account_warns_when_two_or_fewer_codes_are_left() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", None).await;
    assert!(!browser.account().await.contains("deux codes de secours ou moins"));
    let mut last = None;
    for code in &shown.recovery_codes[..6] {
        let mut device = Browser::new(&app);
        let options = device.start("/recover/start", &json!({"identifier": shown.identifier, "code": code})).await;
        let credential = device.create(&options);
        let done = device.post_json("/recover/finish", &json!({"credential": credential})).await;
        assert_eq!(done.status(), StatusCode::OK);
        app.clock.advance(61);
        last = Some(device);
    }
    let account = last.unwrap().account().await;
    assert!(account.contains("deux codes de secours ou moins"), "{account}");
}

#[tokio::test]
async fn replacing_a_verified_email_address_needs_a_confirmation() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", Some("camille@example.fr")).await;
    let citizen_id = app.state.db.citizen_by_identifier(&shown.identifier.replace('-', "")).await.unwrap().unwrap().id;
    let now = app.clock.now();
    let verified = idp::store::AttributeRecord {
        name: "email".into(),
        value: "camille@example.fr".into(),
        verified_by: Some("mailbox".into()),
        verified_at: Some(now),
        updated_at: now,
    };
    let event =
        idp::store::NewAuditEvent::new(&citizen_id, idp::audit::AuditEvent::IdentityUpdated { verified_by: None }, now);
    app.state.db.put_attributes(&citizen_id, &[verified], &event).await.unwrap();
    app.clock.advance(6 * 60);
    let asked = browser.post_form("/account/email", &[("email", "thief@example.org")]).await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(asked.text().await.unwrap().contains(r#"data-ceremony="confirm""#));
    let citizen = app.state.db.citizen_by_id(&citizen_id).await.unwrap().unwrap();
    assert_eq!(citizen.email.as_deref(), Some("camille@example.fr"), "unchanged");
    // Sending a code again to the same verified address needs nothing.
    let again = browser.post_form("/account/email", &[("email", "camille@example.fr")]).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    confirm(&mut browser).await;
    let replaced = browser.post_form("/account/email", &[("email", "camille@example.org")]).await;
    assert_eq!(replaced.status(), StatusCode::SEE_OTHER);
}
