//! Clients registered by DCR (RFC 7591) as the provider then treats them:
//! JWT client authentication with registered keys, public clients, the
//! consent-skip entitlement and `default_max_age` (OIDC Registration §2).

use idp::clients::{self, Actor, Registered};
use idp::keys::{Alg, SigningKey, generate_pkcs8};
use idp::testing::TestApp;
use serde_json::{Value, json};

use crate::oidc_support::*;

async fn register(app: &TestApp, body: Value) -> Value {
    let org = app.organisation().await;
    let token = app.initial_access_token(&org.organisation_id, 600, false).await;
    let response = app.client.post(app.url("/register")).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_private_key_jwt_client_authenticates_with_its_registered_keys() {
    let app = TestApp::spawn().await;
    let key = SigningKey::from_pkcs8(Alg::ES256, &generate_pkcs8(Alg::ES256).unwrap()).unwrap();
    let body = register(
        &app,
        json!({
            "client_name": "Batch JWT",
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.public_jwk()]},
        }),
    )
    .await;
    assert!(body.get("client_secret").is_none() && body.get("client_secret_expires_at").is_none(), "{body}");
    let client_id = body["client_id"].as_str().unwrap();
    let exp = app.clock.now() + 60;
    let assertion = key
        .sign_jwt("JWT", &json!({"iss": client_id, "sub": client_id, "aud": app.issuer, "jti": "j1", "exp": exp}))
        .unwrap();
    let response = app
        .client
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_public_client_gets_no_secret() {
    let app = TestApp::spawn().await;
    let body = register(
        &app,
        json!({"client_name": "App", "redirect_uris": ["http://127.0.0.1:8000/cb"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert!(body.get("client_secret").is_none() && body.get("client_secret_expires_at").is_none(), "{body}");
    let stored = clients::find(&app.state.db, body["client_id"].as_str().unwrap()).await.unwrap().unwrap();
    assert!(stored.secret_hash.is_none());
    let err = clients::rotate_secret(&app.state.db, &stored.client_id, None, &Actor::cli(), app.clock.now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no secret to rotate"), "{err}");
}

/// A browser signed in now that has not consented to anything.
async fn browser_without_consent(app: &TestApp, client: Registered) -> Flow {
    let citizen_id = uuid::Uuid::new_v4().to_string();
    let cookie = app.session_cookie(&app.citizen_session(&citizen_id)).await;
    let (verifier, challenge) = pkce();
    Flow { client, cookie, citizen_id, verifier, challenge }
}

#[tokio::test]
async fn consent_skip_is_an_administrators_entitlement_that_the_flow_honours() {
    let app = TestApp::spawn().await;
    let body = register(
        &app,
        json!({"client_name": "Portail", "redirect_uris": [REDIRECT], "scope": "openid profile offline_access"}),
    )
    .await;
    let client_id = body["client_id"].as_str().unwrap();
    let secret = body["client_secret"].as_str().map(str::to_owned);
    let client = clients::find(&app.state.db, client_id).await.unwrap().unwrap();
    let flow = browser_without_consent(&app, Registered::new(client, secret.clone())).await;
    let (status, location) = flow.authorize(&app, &[("scope", "openid profile")]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/authorize/consent/"), "consent is asked: {location}");

    let updated =
        clients::modify(&app.state.db, &app.state.fetcher, client_id, &Actor::cli(), app.clock.now(), |new| {
            new.skip_consent = true
        })
        .await
        .unwrap();
    let flow = browser_without_consent(&app, Registered::new(updated.client, secret)).await;
    let (status, location) = flow.authorize(&app, &[("scope", "openid profile")]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with(REDIRECT) && query_of(&location).contains_key("code"), "{location}");
    // Offline access is still the citizen's to give, first party or not (OIDC Core §11).
    let (_, location) = flow.authorize(&app, &[("scope", "openid profile offline_access")]).await;
    assert!(location.starts_with("/authorize/consent/"), "{location}");
}

#[tokio::test]
async fn default_max_age_applies_unless_the_request_names_one() {
    let app = TestApp::spawn().await;
    let body = register(
        &app,
        json!({"client_name": "Impôts locaux", "redirect_uris": [REDIRECT], "scope": "openid profile offline_access", "default_max_age": 300,
               "require_auth_time": true}),
    )
    .await;
    let client = clients::find(&app.state.db, body["client_id"].as_str().unwrap()).await.unwrap().unwrap();
    let flow = Flow::for_client(&app, Registered::new(client, body["client_secret"].as_str().map(str::to_owned))).await;
    assert_eq!(flow.authorize(&app, &[]).await.0, 303);
    app.clock.advance(301);
    let (status, location) = flow.authorize(&app, &[]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/signin?"), "the sign-in is older than default_max_age: {location}");
    let (_, location) = flow.authorize_consenting(&app, &[("max_age", "3600")]).await;
    assert!(location.starts_with(REDIRECT), "the request's max_age wins: {location}");
    // require_auth_time: every ID token carries auth_time.
    let tokens = flow.tokens_with(&app, &[("max_age", "3600")]).await;
    let claims = verified(&app, tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["auth_time"].as_i64(), Some(app.clock.now() - 301), "{claims}");
}

#[tokio::test]
async fn logout_notifies_the_back_channel_uri_a_client_registered() {
    let app = TestApp::spawn().await;
    let back = "https://mairie.example.fr/logout/back";
    let body = register(
        &app,
        json!({
            "client_name": "Portail", "redirect_uris": [REDIRECT], "scope": "openid profile offline_access",
            "post_logout_redirect_uris": ["https://mairie.example.fr/bye"], "backchannel_logout_uri": back,
        }),
    )
    .await;
    let client = clients::find(&app.state.db, body["client_id"].as_str().unwrap()).await.unwrap().unwrap();
    let flow = Flow::for_client(&app, Registered::new(client, body["client_secret"].as_str().map(str::to_owned))).await;
    let hint = flow.tokens(&app).await["id_token"].as_str().unwrap().to_owned();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("id_token_hint", hint.as_str()), ("post_logout_redirect_uri", "https://mairie.example.fr/bye")])
        .finish();
    let response =
        app.client.get(app.url(&format!("/logout?{query}"))).header("cookie", &flow.cookie).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let queued = app.state.db.logout_deliveries_for(flow.client_id()).await.unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].uri, back);
}
