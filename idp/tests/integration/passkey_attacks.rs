//! Bad input against the ceremony endpoints: each refused with a clear
//! error, nothing stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp::testing::TestApp;
use idp::testing::browser::Browser;
use idp::testing::soft_passkey::SoftPasskey;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn expect_error(response: reqwest::Response, status: StatusCode, error: &str) -> Value {
    let got = response.status();
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    body
}

/// A signed-up citizen whose browser is signed out again.
async fn citizen(app: &TestApp) -> Browser {
    let mut browser = Browser::new(app);
    browser.sign_up("Claire", "Petit", None).await;
    browser.sign_out().await;
    browser
}

fn tamper_client_data(credential: &mut Value, edit: impl FnOnce(&mut Value)) {
    let raw = URL_SAFE_NO_PAD.decode(credential["response"]["clientDataJSON"].as_str().unwrap()).unwrap();
    let mut client_data: Value = serde_json::from_slice(&raw).unwrap();
    edit(&mut client_data);
    credential["response"]["clientDataJSON"] = URL_SAFE_NO_PAD.encode(client_data.to_string()).into();
}

#[tokio::test]
async fn replayed_assertion_is_refused() {
    let app = TestApp::spawn().await;
    let mut browser = citizen(&app).await;
    browser.get("/signin").await;
    let options = browser.start("/signin/start", &json!({})).await;
    let body = json!({"credential": browser.assert(&options)});
    assert_eq!(browser.post_json("/signin/finish", &body).await.status(), StatusCode::OK);
    expect_error(browser.post_json("/signin/finish", &body).await, StatusCode::BAD_REQUEST, "ceremony_expired").await;
}

#[tokio::test]
async fn a_challenge_is_used_once_even_with_a_fresh_assertion() {
    let app = TestApp::spawn().await;
    let mut browser = citizen(&app).await;
    browser.get("/signin").await;
    let options = browser.start("/signin/start", &json!({})).await;
    let first = browser.assert(&options);
    let second = browser.assert(&options); // higher counter, same challenge
    assert_eq!(browser.post_json("/signin/finish", &json!({"credential": first})).await.status(), StatusCode::OK);
    let response = browser.post_json("/signin/finish", &json!({"credential": second})).await;
    expect_error(response, StatusCode::BAD_REQUEST, "ceremony_expired").await;
}

#[tokio::test]
async fn a_challenge_from_another_browser_session_is_refused() {
    let app = TestApp::spawn().await;
    let mut victim = citizen(&app).await;
    let mut attacker = Browser::with_passkey(&app, victim.passkey.clone());
    victim.get("/signin").await;
    let options = victim.start("/signin/start", &json!({})).await;
    let assertion = attacker.assert(&options);
    attacker.get("/signin").await;
    let response = attacker.post_json("/signin/finish", &json!({"credential": assertion})).await;
    expect_error(response, StatusCode::FORBIDDEN, "wrong_session").await;
    assert_eq!(attacker.get_location("/account").await.as_deref(), Some("/signin?next=%2Faccount"));
}

#[tokio::test]
async fn wrong_origin_is_refused_at_sign_up_and_sign_in() {
    let app = TestApp::spawn().await;
    let mut evil = Browser::new(&app);
    evil.origin = "http://evil.example:8080".into();
    evil.get("/signup").await;
    let options = evil.start("/signup/start", &json!({"given_name": "E", "family_name": "Vil"})).await;
    let credential = evil.create(&options);
    let response = evil.post_json("/signup/finish", &json!({"credential": credential})).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "verification_failed").await;
    assert_eq!(app.state.db.count_citizens().await.unwrap(), 0);

    let mut browser = citizen(&app).await;
    browser.origin = format!("http://localhost:{}", app.addr.port() + 1);
    let response = browser.try_sign_in(None).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "verification_failed").await;
}

#[tokio::test]
async fn wrong_rp_id_is_refused() {
    let app = TestApp::spawn().await;
    let mut browser = citizen(&app).await;
    browser.get("/signin").await;
    let mut options = browser.start("/signin/start", &json!({})).await;
    // The authenticator signs for another RP ID (its rpIdHash will differ).
    browser.passkey.credentials[0].rp_id = "evil.example".into();
    options["publicKey"]["rpId"] = "evil.example".into();
    let assertion = browser.assert(&options);
    let response = browser.post_json("/signin/finish", &json!({"credential": assertion})).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "verification_failed").await;
}

#[tokio::test]
async fn counter_regression_is_refused_and_audited() {
    let app = TestApp::spawn().await;
    let mut browser = citizen(&app).await;
    browser.sign_in().await;
    browser.sign_in().await; // counter 2
    let id = browser.passkey.credential_ids()[0].clone();
    assert!(browser.passkey.set_sign_count(&id, 0)); // next assertion says 1 < 2
    let response = browser.try_sign_in(None).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "counter_regression").await;
    let stored = app.state.db.passkey_by_credential_id(&URL_SAFE_NO_PAD.encode(&id)).await.unwrap().unwrap();
    assert_eq!(stored.sign_count, 2, "the stored counter is kept");
    let events = app.state.db.audit_events_of(&stored.citizen_id).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "passkey.counter_regression"));
}

#[tokio::test]
async fn half_done_sign_up_leaves_no_citizen_and_its_credential_is_unknown() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.get("/signup").await;
    let options = browser.start("/signup/start", &json!({"given_name": "Half", "family_name": "Done"})).await;
    let _never_sent = browser.create(&options); // browser closed before finish
    assert_eq!(app.state.db.count_citizens().await.unwrap(), 0);
    // The ceremony expires; the credential the authenticator kept is unknown.
    app.clock.advance(301);
    let response = browser.try_sign_in(None).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "unknown_credential").await;
    assert_eq!(app.state.db.count_citizens().await.unwrap(), 0);
}

#[tokio::test]
async fn unknown_credential_id_is_refused() {
    let app = TestApp::spawn().await;
    let mut browser = citizen(&app).await;
    browser.get("/signin").await;
    let options = browser.start("/signin/start", &json!({})).await;
    let mut assertion = browser.assert(&options);
    let forged = URL_SAFE_NO_PAD.encode([7u8; 32]);
    assertion["id"] = forged.clone().into();
    assertion["rawId"] = forged.into();
    let response = browser.post_json("/signin/finish", &json!({"credential": assertion})).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "unknown_credential").await;
}

#[tokio::test]
async fn expired_ceremony_is_refused() {
    let app = TestApp::spawn().await;
    let mut browser = citizen(&app).await;
    browser.get("/signin").await;
    let options = browser.start("/signin/start", &json!({})).await;
    let assertion = browser.assert(&options);
    app.clock.advance(301);
    let response = browser.post_json("/signin/finish", &json!({"credential": assertion})).await;
    expect_error(response, StatusCode::BAD_REQUEST, "ceremony_expired").await;
}

#[tokio::test]
async fn tampered_or_forged_client_data_is_refused() {
    let app = TestApp::spawn().await;
    let mut browser = citizen(&app).await;

    // Same challenge, edited origin: the signature no longer covers it.
    browser.get("/signin").await;
    let options = browser.start("/signin/start", &json!({})).await;
    let mut assertion = browser.assert(&options);
    tamper_client_data(&mut assertion, |c| c["origin"] = "http://localhost:1".into());
    let response = browser.post_json("/signin/finish", &json!({"credential": assertion})).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "verification_failed").await;

    // A registration response posted to sign-in (type webauthn.create).
    let options = browser.start("/signin/start", &json!({})).await;
    let mut assertion = browser.assert(&options);
    tamper_client_data(&mut assertion, |c| c["type"] = "webauthn.create".into());
    let response = browser.post_json("/signin/finish", &json!({"credential": assertion})).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "verification_failed").await;

    // A challenge the provider never issued.
    let options = browser.start("/signin/start", &json!({})).await;
    let mut assertion = browser.assert(&options);
    tamper_client_data(&mut assertion, |c| c["challenge"] = URL_SAFE_NO_PAD.encode([1u8; 32]).into());
    let response = browser.post_json("/signin/finish", &json!({"credential": assertion})).await;
    expect_error(response, StatusCode::BAD_REQUEST, "ceremony_expired").await;

    // Not base64, not JSON, not an object.
    for credential in [json!({"response": {"clientDataJSON": "%%%"}}), json!("x"), json!({})] {
        let response = browser.post_json("/signin/finish", &json!({"credential": credential})).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let response = browser
        .client
        .post(browser.url("/signin/finish"))
        .header("x-csrf-token", browser.csrf().await)
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn missing_or_wrong_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.get("/signup").await;
    let body = json!({"given_name": "A", "family_name": "B"});
    for token in [None, Some("wrong"), Some("")] {
        let response = browser.post_json_with_token("/signup/start", &body, token).await;
        expect_error(response, StatusCode::FORBIDDEN, "invalid_csrf_token").await;
    }
    // Another session's token.
    let mut other = Browser::new(&app);
    let foreign = other.csrf().await;
    let response = browser.post_json_with_token("/signin/start", &json!({}), Some(&foreign)).await;
    expect_error(response, StatusCode::FORBIDDEN, "invalid_csrf_token").await;

    // Forms: sign-out and account actions without the field.
    browser.sign_up("A", "B", None).await;
    for path in ["/signout", "/account/passkeys/remove", "/account/sessions/revoke-others"] {
        let response = browser.client.post(browser.url(path)).form(&[("credential_id", "x")]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(response.text().await.unwrap().contains("Cette page a expiré"));
    }
    browser.account().await; // still signed in
}

#[tokio::test]
async fn oversized_payloads_are_refused() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let token = browser.csrf().await;
    let huge = json!({"credential": {"id": "x".repeat(70 * 1024)}});
    let response = browser.post_json_with_token("/signin/finish", &huge, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn ceremony_endpoints_answer_405_to_get() {
    let app = TestApp::spawn().await;
    for path in ["/signin/start", "/signup/finish", "/signout", "/account/passkeys/remove"] {
        assert_eq!(app.get(path).await.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
}

#[tokio::test]
async fn adding_a_passkey_needs_a_login() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::with_passkey(&app, SoftPasskey::new());
    let response = browser.post_json("/account/passkeys/start", &json!({})).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "login_required").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_finishes_of_one_ceremony_sign_in_once() {
    let app = TestApp::spawn().await;
    let mut browser = citizen(&app).await;
    browser.get("/signin").await;
    let token = browser.csrf().await;
    let options = browser.start("/signin/start", &json!({})).await;
    let body = json!({"credential": browser.assert(&options)});
    let attempts = (0..20).map(|_| {
        let request = browser.client.post(browser.url("/signin/finish")).header("x-csrf-token", &token).json(&body);
        tokio::spawn(async move { request.send().await.unwrap().status() })
    });
    let mut statuses = Vec::new();
    for attempt in attempts.collect::<Vec<_>>() {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    // The others: the ceremony is gone (400), or — once the winner renewed
    // the session id — their session and its CSRF token are gone (403).
    let refused = [StatusCode::OK, StatusCode::BAD_REQUEST, StatusCode::FORBIDDEN];
    assert!(statuses.iter().all(|s| refused.contains(s)), "{statuses:?}");
}

#[tokio::test]
async fn a_user_handle_naming_another_citizen_is_refused() {
    let app = TestApp::spawn().await;
    let mut browser = citizen(&app).await;
    browser.get("/signin").await;
    let options = browser.start("/signin/start", &json!({})).await;
    let mut assertion = browser.assert(&options);
    // userHandle is not covered by the signature: it must match the credential's owner.
    assertion["response"]["userHandle"] = URL_SAFE_NO_PAD.encode([9u8; 16]).into();
    let response = browser.post_json("/signin/finish", &json!({"credential": assertion})).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "unknown_credential").await;
}
