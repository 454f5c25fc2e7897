//! The authorization endpoint and the browser session: login hand-off,
//! prompt, max_age, consent, id_token_hint, assurance.

use idp::testing::TestApp;

use crate::oidc_support::*;

/// A browser with a session cookie but nobody signed in.
async fn anonymous_cookie(app: &TestApp) -> String {
    // An expired login leaves an anonymous session behind.
    let mut auth = app.citizen_session("nobody");
    auth.expires_at = app.clock.now();
    app.session_cookie(&auth).await
}

#[tokio::test]
async fn without_a_session_the_citizen_is_sent_to_sign_in_and_comes_back() {
    let app = TestApp::spawn().await;
    let mut flow = Flow::new(&app).await;
    flow.cookie = anonymous_cookie(&app).await;
    let (status, location) = flow.authorize(&app, &[("ui_locales", "en")]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/signin?next=%2Fauthorize%2Fcontinue%2F"), "{location}");
    assert!(location.ends_with("&ui_locales=en"), "{location}");
    let next = query_of(&location)["next"].clone();

    // Another browser cannot pick up this pending request.
    let stranger = app.session_cookie(&app.citizen_session("someone-else")).await;
    let response = app.client.get(app.url(&next)).header("cookie", &stranger).send().await.unwrap();
    assert_eq!(response.status(), 400);

    // Same browser, now signed in (what the passkey ceremony does).
    app.clock.advance(5);
    let auth = app.citizen_session(&flow.citizen_id);
    flow.cookie = sign_in_same_browser(&app, &flow.cookie, &auth).await;
    let response = app.client.get(app.url(&next)).header("cookie", &flow.cookie).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let code = query_of(&location)["code"].clone();
    assert_eq!(flow.redeem(&app, &code).await.0, 200);
    // The pending request is used up.
    let response = app.client.get(app.url(&next)).header("cookie", &flow.cookie).send().await.unwrap();
    assert_eq!(response.status(), 400);
}

/// Puts `auth` into the session behind `cookie` (what sign-in does), keeping
/// its other data (the pending requests).
pub(crate) async fn sign_in_same_browser(app: &TestApp, cookie: &str, auth: &idp::login::AuthSession) -> String {
    use tower_sessions::SessionStore as _;
    let store = app.state.cache.sessions();
    let id: tower_sessions::session::Id = cookie.split_once('=').unwrap().1.parse().unwrap();
    app.record_login(auth).await;
    let mut record = store.load(&id).await.unwrap().unwrap();
    record.data.insert("auth".into(), serde_json::to_value(auth).unwrap());
    store.save(&record).await.unwrap();
    cookie.to_owned()
}

#[tokio::test]
async fn prompt_none_without_session_is_login_required() {
    let app = TestApp::spawn().await;
    let mut flow = Flow::new(&app).await;
    flow.cookie = anonymous_cookie(&app).await;
    let (status, location) = flow.authorize(&app, &[("prompt", "none")]).await;
    assert_eq!(status, 303);
    let response = query_of(&location);
    assert_eq!(response["error"], "login_required");
    assert_eq!(response["state"], "st-123");
    assert_eq!(response["iss"], app.issuer);
}

#[tokio::test]
async fn prompt_none_without_consent_is_consent_required() {
    let app = TestApp::spawn().await;
    let client = confidential(&app).await;
    let citizen = uuid::Uuid::new_v4().to_string();
    let cookie = app.session_cookie(&app.citizen_session(&citizen)).await;
    let (verifier, challenge) = pkce();
    let flow = Flow { client, cookie, citizen_id: citizen, verifier, challenge };
    let (_, location) = flow.authorize(&app, &[("prompt", "none")]).await;
    assert_eq!(query_of(&location)["error"], "consent_required");
    // Interactive: sent to the consent step with the request kept.
    let (status, location) = flow.authorize(&app, &[]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/authorize/consent/"), "{location}");
}

#[tokio::test]
async fn asking_for_more_than_consented_asks_again() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    app.state.db.save_consent(&flow.citizen_id, flow.client_id(), "openid", app.clock.now()).await.unwrap();
    let (_, location) = flow.authorize(&app, &[("prompt", "none"), ("scope", "openid email")]).await;
    assert_eq!(query_of(&location)["error"], "consent_required");
    let (_, location) = flow.authorize(&app, &[("prompt", "none"), ("scope", "openid")]).await;
    assert!(query_of(&location).contains_key("code"), "{location}");
    let (_, location) = flow.authorize(&app, &[("prompt", "consent")]).await;
    assert!(location.starts_with("/authorize/consent/"), "prompt=consent always asks: {location}");
}

#[tokio::test]
async fn max_age_and_prompt_login_force_a_fresh_sign_in() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    app.clock.advance(600);
    let (_, location) = flow.authorize(&app, &[("max_age", "900")]).await;
    assert!(query_of(&location).contains_key("code"), "session young enough: {location}");
    let (_, location) = flow.authorize(&app, &[("max_age", "300")]).await;
    assert!(location.starts_with("/signin?"), "session too old: {location}");
    let (_, location) = flow.authorize(&app, &[("max_age", "300"), ("prompt", "none")]).await;
    assert_eq!(query_of(&location)["error"], "login_required");
    let (_, location) = flow.authorize(&app, &[("prompt", "login")]).await;
    assert!(location.starts_with("/signin?"), "{location}");

    // After a fresh sign-in the same request completes, with the new auth_time.
    let next = query_of(&location)["next"].clone();
    app.clock.advance(3);
    let fresh = app.citizen_session(&flow.citizen_id);
    let cookie = sign_in_same_browser(&app, &flow.cookie, &fresh).await;
    let response = app.client.get(app.url(&next)).header("cookie", &cookie).send().await.unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let code = query_of(&location)["code"].clone();
    let (_, tokens) = flow.redeem(&app, &code).await;
    let claims = verified(&app, tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["auth_time"], fresh.auth_time);
}

#[tokio::test]
async fn id_token_hint_for_another_citizen_requires_login() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let hint = flow.tokens(&app).await["id_token"].as_str().unwrap().to_owned();
    let (_, location) = flow.authorize(&app, &[("prompt", "none"), ("id_token_hint", &hint)]).await;
    assert!(query_of(&location).contains_key("code"), "same citizen: {location}");

    // Another citizen signs in on this client; the old hint no longer matches.
    let other = Flow::for_client(&app, confidential(&app).await).await;
    let other = Flow { client: flow.client.clone(), ..other };
    app.state
        .db
        .save_consent(&other.citizen_id, other.client_id(), "openid profile email offline_access", app.clock.now())
        .await
        .unwrap();
    let (_, location) = other.authorize(&app, &[("prompt", "none"), ("id_token_hint", &hint)]).await;
    assert_eq!(query_of(&location)["error"], "login_required");
}

/// OIDC Core §5.5.1: a `sub` requested with a value is answered only for
/// that citizen: another signed-in citizen is sent to sign in again
/// (`login_required` under `prompt=none`), and a fresh sign-in as someone
/// else still gets `login_required`, never a code.
#[tokio::test]
async fn a_claims_request_for_one_sub_is_never_answered_for_another() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let sub = verified(&app, flow.tokens(&app).await["id_token"].as_str().unwrap())["sub"].as_str().unwrap().to_owned();
    let for_sub = |member: &str, sub: &str| serde_json::json!({ member: {"sub": {"value": sub}} }).to_string();

    for member in ["id_token", "userinfo"] {
        let (_, location) = flow.authorize(&app, &[("claims", &for_sub(member, &sub))]).await;
        assert!(query_of(&location).contains_key("code"), "the citizen named: {location}");
        let (_, location) = flow.authorize(&app, &[("claims", &for_sub(member, "someone-else"))]).await;
        assert!(location.starts_with("/signin?"), "another citizen signs in again: {location}");
        let (_, location) =
            flow.authorize(&app, &[("prompt", "none"), ("claims", &for_sub(member, "someone-else"))]).await;
        assert_eq!(query_of(&location)["error"], "login_required");
    }

    // Signing in afresh as the same (wrong) citizen does not make the answer right.
    let (_, location) = flow.authorize(&app, &[("claims", &for_sub("id_token", "someone-else"))]).await;
    let next = query_of(&location)["next"].clone();
    app.clock.advance(3);
    let cookie = sign_in_same_browser(&app, &flow.cookie, &app.citizen_session(&flow.citizen_id)).await;
    let response = app.client.get(app.url(&next)).header("cookie", &cookie).send().await.unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let answer = query_of(&location);
    assert_eq!(answer.get("error").map(String::as_str), Some("login_required"), "{location}");
    assert!(!answer.contains_key("code"));
}

#[tokio::test]
async fn essential_acr_above_the_citizens_level_is_unmet() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let claims = r#"{"id_token":{"acr":{"essential":true,"values":["eidas2","eidas3"]}}}"#;
    let (_, location) = flow.authorize(&app, &[("claims", claims)]).await;
    assert_eq!(query_of(&location)["error"], "unmet_authentication_requirements");
    let claims = r#"{"id_token":{"acr":{"essential":true,"values":["eidas1"]}}}"#;
    let (_, location) = flow.authorize(&app, &[("claims", claims)]).await;
    assert!(query_of(&location).contains_key("code"), "{location}");
    let claims = r#"{"id_token":{"acr":{"essential":true}}}"#;
    let (_, location) = flow.authorize(&app, &[("claims", claims)]).await;
    assert!(query_of(&location).contains_key("code"), "essential without values only asks for acr: {location}");
}
