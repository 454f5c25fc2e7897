//! The `/developers` page, and what it promises: with only an initial
//! access token, a developer registers a service by `curl`-style JSON and
//! logs a citizen in with the `openidconnect` crate as the page shows.

use idp::clock::Clock as _;
use idp::testing::TestApp;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
    TokenResponse as _,
};
use serde_json::{Value, json};

use crate::oidc_support::query_of;

#[tokio::test]
async fn the_page_is_escaped_bilingual_and_csp_clean() {
    let app = TestApp::spawn().await;
    let response = app.get("/developers").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    let html = response.text().await.unwrap();
    for needle in [
        "lang=\"fr\"",
        "lang=\"en\"",
        &format!("{}/.well-known/openid-configuration", app.issuer),
        &format!("{}/register", app.issuer),
        "Authorization: Bearer $INITIAL_ACCESS_TOKEN",
        "CoreProviderMetadata::discover_async",
        "Box&lt;dyn std::error::Error&gt;",
        "invalid_redirect_uri",
        "Erreurs fréquentes",
        "Common errors",
        "publiez en https un sector_identifier_uri",
        "publish over https a sector_identifier_uri",
        "published at a jwks_uri",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    for forbidden in ["<script", "<style", "style=", "onclick", "Box<dyn", "not supported", "pas pris en charge"] {
        assert!(!html.contains(forbidden), "{forbidden}");
    }
    assert_eq!(app.client.post(app.url("/developers")).send().await.unwrap().status(), 405);
}

#[tokio::test]
async fn a_developer_registers_and_logs_a_citizen_in_as_the_page_shows() {
    let app = TestApp::spawn().await;
    // openidconnect checks expiry against the real clock.
    app.clock.set(idp::clock::SystemClock.now());
    let org = app.organisation().await;
    let initial_access_token = app.initial_access_token(&org.organisation_id, 3_600, true).await;
    let redirect = "https://portail.mairie.example.fr/callback";

    // The page's curl command.
    let response = app
        .client
        .post(app.url("/register"))
        .bearer_auth(&initial_access_token)
        .json(&json!({
            "client_name": "Portail famille",
            "client_name#en": "Family portal",
            "redirect_uris": [redirect],
            "post_logout_redirect_uris": ["https://portail.mairie.example.fr/"],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid profile email offline_access",
            "contacts": ["dev@mairie.example.fr"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let registration: Value = response.json().await.unwrap();
    let client_id = registration["client_id"].as_str().unwrap().to_owned();
    let client_secret = registration["client_secret"].as_str().unwrap().to_owned();

    // The page's Rust example.
    let issuer = IssuerUrl::new(app.issuer.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &app.client).await.unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(client_secret)),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.to_string()).unwrap());
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".to_string()))
        .set_pkce_challenge(pkce_challenge)
        .url();

    // A signed-in citizen who consents (the consent page is another issue's).
    let citizen_id = uuid::Uuid::new_v4().to_string();
    let cookie = app.session_cookie(&app.citizen_session(&citizen_id)).await;
    app.state.db.save_consent(&citizen_id, &client_id, "openid profile", app.clock.now()).await.unwrap();
    let response = app.client.get(url.as_str()).header("cookie", cookie).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(redirect), "{location}");
    let callback = query_of(&location);
    assert_eq!(callback["state"], *state.secret());
    assert_eq!(callback["iss"], app.issuer);

    let tokens = client
        .exchange_code(AuthorizationCode::new(callback["code"].clone()))
        .unwrap()
        .set_pkce_verifier(pkce_verifier)
        .request_async(&app.client)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&client.id_token_verifier(), &nonce).expect("verified with the defaults (RS256)");
    assert!(!claims.subject().as_str().is_empty());
}
