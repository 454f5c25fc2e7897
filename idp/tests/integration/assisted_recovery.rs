//! Assisted recovery: an agent checks the document against the verified
//! identity and hands over a 15-minute single-use enrolment link; with it
//! the citizen's new passkey replaces every other, every login ends (its
//! services told), fresh recovery codes are shown, and the recovery login
//! is eidas1 without mfa until the next ordinary sign-in.

use idp::citizen::CitizenIdentifier;
use idp::citizen::assisted_recovery::{self, AssistedRecoveryError, Enrolment, RecoveryCheck};
use idp::citizen::verification::{Agent, Problem, verify_at_counter};
use idp::testing::TestApp;
use idp::testing::browser::{Browser, SignedUp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::logout::listening_client;
use crate::oidc_support::*;
use crate::verification::{agent, check_of};

/// What the agent types for the document `number`: Camille Martin's identity.
pub fn recovery_check(identifier: &str, number: &str) -> RecoveryCheck {
    let check = check_of("", number);
    RecoveryCheck { identifier: identifier.into(), document: check.document, identity: check.identity }
}

/// A citizen signed up in `browser` (Camille Martin); their internal id.
async fn signed_up(app: &TestApp, browser: &mut Browser) -> (SignedUp, String) {
    let signed_up = browser.sign_up("Camille", "Martin", None).await;
    let identifier = CitizenIdentifier::parse(&signed_up.identifier).unwrap();
    let id = app.state.db.citizen_by_identifier(identifier.as_str()).await.unwrap().unwrap().id;
    (signed_up, id)
}

pub async fn verify_identity(app: &TestApp, agent: &Agent, citizen_id: &str, number: &str) {
    let check = check_of(citizen_id, number);
    verify_at_counter(&app.state.db, &app.state.keys, agent, &check, app.clock.now()).await.unwrap();
}

pub async fn start(app: &TestApp, agent: &Agent, check: &RecoveryCheck) -> Result<Enrolment, AssistedRecoveryError> {
    let state = &app.state;
    assisted_recovery::start(&state.db, &state.keys, &state.cache, agent, check, app.clock.now()).await
}

/// The browser opens the link and registers a new passkey; the finish's answer.
pub async fn enrol(browser: &mut Browser, token: &str) -> reqwest::Response {
    let (status, page) = browser.get(&format!("/recover/assisted?token={token}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let options = browser.start("/recover/assisted/start", &json!({ "token": token })).await;
    let credential = browser.create(&options);
    browser.post_json("/recover/assisted/finish", &json!({ "credential": credential })).await
}

/// A login at the service from this browser's session: its tokens and
/// the ID token's claims.
async fn login_at(app: &TestApp, flow: &Flow, browser: &mut Browser) -> (Value, Value) {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(&[])).finish();
    let location = browser.get_location(&format!("/authorize?{query}")).await.expect("a redirect");
    let code = query_of(&location).remove("code").unwrap_or_else(|| panic!("no code: {location}"));
    let (status, tokens) = flow.redeem(app, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = verified(app, tokens["id_token"].as_str().unwrap());
    (tokens, claims)
}

#[tokio::test]
async fn an_enrolment_link_replaces_passkeys_codes_and_logins_and_services_hear_of_it() {
    let app = TestApp::spawn().await;
    let agent = agent(&app).await;
    let client = listening_client(&app, "openid profile").await;
    let mut old_device = Browser::new(&app);
    let (before, citizen_id) = signed_up(&app, &mut old_device).await;
    let db = &app.state.db;
    db.save_consent(&citizen_id, &client.client.client_id, "openid profile", app.clock.now()).await.unwrap();
    let (verifier, challenge) = pkce();
    let flow = Flow { client, cookie: String::new(), citizen_id: citizen_id.clone(), verifier, challenge };
    let (old_tokens, old_login) = login_at(&app, &flow, &mut old_device).await;
    let old_access_token = old_tokens["access_token"].as_str().unwrap();
    verify_identity(&app, &agent, &citizen_id, "X4RTBPFW4").await;

    // Later, at the counter: the same card, its number typed differently.
    app.clock.advance(3_600);
    let enrolment = start(&app, &agent, &recovery_check(&before.identifier, "x4rt bpfw4")).await.unwrap();
    assert_eq!(enrolment.expires_at, app.clock.now() + 15 * 60);
    let link = enrolment.link(&app.issuer);
    assert_eq!(link, format!("{}/recover/assisted?token={}", app.issuer, enrolment.token));
    assert_eq!(enrolment.token.len(), 43, "256 bits, base64url");
    let records = db.verifications_of(&citizen_id).await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!((records[1].kind.as_str(), records[1].attributes.as_str()), ("recovery", "[]"));
    assert_eq!(records[1].agent_id, agent.citizen_id);
    let log = db.admin_events(Some(&agent.organisation.organisation_id), 50).await.unwrap();
    assert!(log.iter().any(|e| e.action == "identity.recovery" && e.target == citizen_id), "{log:?}");
    assert!(
        db.logout_deliveries_for(flow.client_id()).await.unwrap().is_empty(),
        "nothing ends before the link is used"
    );

    // The citizen's new device: the page, the passkey, the codes shown once.
    let mut new_device = Browser::new(&app);
    let response = enrol(&mut new_device, &enrolment.token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["redirect"], "/signup/done");
    let (status, page) = new_device.get("/signup/done").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Votre compte est récupéré"), "{page}");
    let codes: Vec<String> = page
        .split(r#"<li class="code">"#)
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(codes.len(), 8);
    assert!(codes.iter().all(|c| !before.recovery_codes.contains(c)), "a fresh set");
    assert_eq!(new_device.get_location("/signup/done").await.as_deref(), Some("/account"), "shown once");
    assert_eq!(db.passkeys_of(&citizen_id).await.unwrap().len(), 1);
    assert_eq!(db.unused_recovery_codes(&citizen_id).await.unwrap(), 8);

    // The old passkey and the old codes no longer work; the old login ended.
    assert!(old_device.get_location("/account").await.unwrap().starts_with("/signin"));
    assert_eq!(old_device.try_sign_in(None).await.status(), StatusCode::UNAUTHORIZED);
    let mut thief = Browser::new(&app);
    thief.get("/recover").await;
    let old_code = json!({"identifier": before.identifier, "code": before.recovery_codes[0]});
    assert_eq!(thief.post_json("/recover/start", &old_code).await.status(), StatusCode::FORBIDDEN);
    let queued = db.logout_deliveries_for(flow.client_id()).await.unwrap();
    assert_eq!(queued.len(), 1, "the old login's service is told: {queued:?}");
    assert_eq!(queued[0].reason, "session_revoked");
    assert_eq!(verified(&app, &queued[0].logout_token)["sid"], old_login["sid"]);
    assert_eq!(userinfo(&app, old_access_token).await.status(), 401, "its tokens ended");

    // The recovery login: eidas1, no mfa; the next ordinary sign-in: eidas2.
    let (_, recovery_login) = login_at(&app, &flow, &mut new_device).await;
    assert_eq!(recovery_login["acr"], "eidas1", "{recovery_login}");
    assert!(!recovery_login["amr"].as_array().unwrap().iter().any(|m| m == "mfa"), "{recovery_login}");
    app.clock.advance(60);
    assert_eq!(new_device.sign_in().await, "/account");
    let (_, ordinary) = login_at(&app, &flow, &mut new_device).await;
    assert_eq!(ordinary["acr"], "eidas2", "{ordinary}");
    assert!(ordinary["amr"].as_array().unwrap().iter().any(|m| m == "mfa"), "{ordinary}");

    let kinds: Vec<String> = db.audit_events_of(&citizen_id).await.unwrap().into_iter().map(|e| e.kind).collect();
    for kind in ["recovery.assisted", "passkey.revoked_all", "recovery.codes_issued"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let account = new_device.account().await;
    assert!(account.contains("Récupération du compte au guichet"), "the citizen sees it");
}

#[tokio::test]
async fn the_counter_refuses_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let agent = agent(&app).await;
    let db = &app.state.db;
    let (never, never_id) = signed_up(&app, &mut Browser::new(&app)).await;
    let (camille, camille_id) = signed_up(&app, &mut Browser::new(&app)).await;
    verify_identity(&app, &agent, &camille_id, "X4RTBPFW4").await;
    let (_, other_id) = signed_up(&app, &mut Browser::new(&app)).await;
    verify_identity(&app, &agent, &other_id, "18AB12345").await;

    let refused = start(&app, &agent, &recovery_check(&never.identifier, "X4RTBPFW4")).await;
    assert!(matches!(refused, Err(AssistedRecoveryError::NeverVerified)), "{refused:?}");

    let mut born_later = recovery_check(&camille.identifier, "X4RTBPFW4");
    born_later.identity.birthdate = "1990-06-00".into();
    let mut other_name = recovery_check(&camille.identifier, "X4RTBPFW4");
    other_name.identity.given_name = "Camilla".into();
    let mut elsewhere = recovery_check(&camille.identifier, "X4RTBPFW4");
    elsewhere.identity.birthplace = Some("69123".into());
    for check in [born_later, other_name, elsewhere] {
        let refused = start(&app, &agent, &check).await;
        assert!(matches!(refused, Err(AssistedRecoveryError::IdentityMismatch)), "{refused:?}");
    }

    let mut expired = recovery_check(&camille.identifier, "X4RTBPFW4");
    expired.document.expires_on = "2001-01-01".into();
    match start(&app, &agent, &expired).await {
        Err(AssistedRecoveryError::Invalid(problems)) => assert_eq!(problems, [Problem::DocumentExpired]),
        other => panic!("{other:?}"),
    }

    // Another account's document.
    let refused = start(&app, &agent, &recovery_check(&camille.identifier, "18AB12345")).await;
    assert!(matches!(refused, Err(AssistedRecoveryError::DocumentTaken)), "{refused:?}");

    let refused = start(&app, &agent, &recovery_check("ABCD", "X4RTBPFW4")).await;
    assert!(matches!(refused, Err(AssistedRecoveryError::InvalidIdentifier(_))), "{refused:?}");

    assert!(db.verifications_of(&never_id).await.unwrap().is_empty());
    assert_eq!(db.verifications_of(&camille_id).await.unwrap().len(), 1, "only the first verification");
    let log = db.admin_events(Some(&agent.organisation.organisation_id), 50).await.unwrap();
    assert!(!log.iter().any(|e| e.action == "identity.recovery"), "{log:?}");
    for id in [&never_id, &camille_id] {
        let kinds: Vec<String> = db.audit_events_of(id).await.unwrap().into_iter().map(|e| e.kind).collect();
        assert!(!kinds.iter().any(|k| k == "recovery.assisted"), "{kinds:?}");
    }
}

/// A verified citizen signed up in `owner`, and an enrolment link for them.
async fn link_for(app: &TestApp, owner: &mut Browser) -> (String, Enrolment) {
    let agent = agent(app).await;
    let (shown, citizen_id) = signed_up(app, owner).await;
    verify_identity(app, &agent, &citizen_id, "X4RTBPFW4").await;
    let enrolment = start(app, &agent, &recovery_check(&shown.identifier, "X4RTBPFW4")).await.unwrap();
    (citizen_id, enrolment)
}

/// Nothing changed: the one passkey still signs in, 8 codes left.
async fn unchanged(app: &TestApp, owner: &mut Browser, citizen_id: &str) {
    assert_eq!(app.state.db.passkeys_of(citizen_id).await.unwrap().len(), 1);
    assert_eq!(app.state.db.unused_recovery_codes(citizen_id).await.unwrap(), 8);
    app.clock.advance(1);
    assert_eq!(owner.sign_in().await, "/account", "the old passkey still signs in");
}

#[tokio::test]
async fn a_link_is_used_once_even_when_two_browsers_started() {
    let app = TestApp::spawn().await;
    let mut owner = Browser::new(&app);
    let (citizen_id, enrolment) = link_for(&app, &mut owner).await;
    let token = json!({ "token": enrolment.token });
    let (mut a, mut b) = (Browser::new(&app), Browser::new(&app));
    for browser in [&mut a, &mut b] {
        browser.get(&format!("/recover/assisted?token={}", enrolment.token)).await;
    }
    let options_a = a.start("/recover/assisted/start", &token).await;
    let options_b = b.start("/recover/assisted/start", &token).await;
    let (credential_a, credential_b) = (a.create(&options_a), b.create(&options_b));
    let done = a.post_json("/recover/assisted/finish", &json!({ "credential": credential_a })).await;
    assert_eq!(done.status(), StatusCode::OK);
    let response = b.post_json("/recover/assisted/finish", &json!({ "credential": credential_b })).await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "link_unusable");
    assert!(b.get_location("/account").await.unwrap().starts_with("/signin"), "no session");
    assert_eq!(app.state.db.passkeys_of(&citizen_id).await.unwrap().len(), 1, "only the first one's passkey");

    // Opened again: a clear page, in the browser's language.
    let (status, page) = b.get(&format!("/recover/assisted?token={}", enrolment.token)).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("Demandez-en un nouveau au guichet"), "{page}");
    let response = b.post_json("/recover/assisted/start", &token).await;
    assert_eq!(response.status(), StatusCode::GONE);
}

#[tokio::test]
async fn an_expired_or_unknown_link_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut owner = Browser::new(&app);
    let (citizen_id, enrolment) = link_for(&app, &mut owner).await;

    // Started in time, finished after the 15 minutes.
    let mut late = Browser::new(&app);
    app.clock.advance(14 * 60);
    late.get(&format!("/recover/assisted?token={}", enrolment.token)).await;
    let options = late.start("/recover/assisted/start", &json!({ "token": enrolment.token })).await;
    let credential = late.create(&options);
    app.clock.advance(2 * 60);
    let response = late.post_json("/recover/assisted/finish", &json!({ "credential": credential })).await;
    assert_eq!(response.status(), StatusCode::GONE);
    let (status, _) = late.get(&format!("/recover/assisted?token={}", enrolment.token)).await;
    assert_eq!(status, StatusCode::GONE);
    unchanged(&app, &mut owner, &citizen_id).await;

    let mut english = Browser::new(&app);
    english.accept_language = "en".into();
    for token in ["nope", ""] {
        let (status, page) = english.get(&format!("/recover/assisted?token={token}")).await;
        assert_eq!(status, StatusCode::GONE);
        assert!(page.contains("Ask the counter for a new one"), "{page}");
    }
    let (status, _) = english.get("/recover/assisted").await;
    assert_eq!(status, StatusCode::GONE);
}

#[tokio::test]
async fn a_ceremony_finished_by_another_browser_is_refused_and_the_link_survives() {
    let app = TestApp::spawn().await;
    let mut owner = Browser::new(&app);
    let (citizen_id, enrolment) = link_for(&app, &mut owner).await;
    let mut citizen = Browser::new(&app);
    citizen.get(&format!("/recover/assisted?token={}", enrolment.token)).await;
    let options = citizen.start("/recover/assisted/start", &json!({ "token": enrolment.token })).await;
    let credential = citizen.create(&options);
    let mut other = Browser::new(&app);
    other.get("/recover").await;
    let response = other.post_json("/recover/assisted/finish", &json!({ "credential": credential })).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "wrong_session");
    assert!(other.get_location("/account").await.unwrap().starts_with("/signin"));
    unchanged(&app, &mut owner, &citizen_id).await;

    // The link itself was not used: the citizen starts again and succeeds.
    let response = enrol(&mut citizen, &enrolment.token).await;
    assert_eq!(response.status(), StatusCode::OK);
}
