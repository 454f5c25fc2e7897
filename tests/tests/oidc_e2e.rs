//! A strict, certified client library — the `openidconnect` crate, not the
//! provider's code — logs a citizen in: discovery, code flow with PKCE and
//! nonce, ID token validation, UserInfo, refresh. The citizen signs up and
//! signs in with a software passkey through the provider's real endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use idp::clients::NewClient;
use idp::testing::TestApp;
use idp::testing::browser::Browser;
use openidconnect::core::{CoreAuthenticationFlow, CoreJwsSigningAlgorithm};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, RefreshToken,
    Scope, TokenResponse as _,
};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

#[tokio::test]
async fn openidconnect_crate_completes_the_code_flow_with_a_passkey_login() {
    let app = TestApp::spawn().await;
    let registered = app
        .register_client(NewClient {
            client_name: "Médiathèque de Test".into(),
            redirect_uris: vec![REDIRECT.into()],
            scope: Some("openid offline_access".into()),
            ..NewClient::default()
        })
        .await;

    let (client, http) = sesame_e2e::oidc_client(&app, &registered, REDIRECT).await;

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf_state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The citizen: signs up once, signs out, then arrives from the service.
    let mut browser = Browser::new(&app);
    browser.sign_up("Camille", "Martin", Some("camille@example.fr")).await;
    browser.sign_out().await;
    let path = &authorize_url.as_str()[app.issuer.len()..];
    let to_sign_in = browser.get_location(path).await.expect("sent to sign in");
    let next = url::Url::parse(&format!("{}{to_sign_in}", app.issuer))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .expect("next");
    let back = browser.sign_in_to(Some(&next)).await;
    assert_eq!(back, next, "sign-in returns to the pending authorization");
    let to_consent = browser.get_location(&back).await.expect("consent step");
    assert!(to_consent.starts_with("/authorize/consent/"), "{to_consent}");
    let (status, page) = browser.get(&to_consent).await;
    assert_eq!(status, 200);
    assert!(page.contains("Médiathèque de Test"), "the consent page names the service");
    let response = browser.post_form(&to_consent, &[("decision", "allow")]).await;
    let resume = response.headers()["location"].to_str().unwrap().to_owned();
    let callback = browser.get_location(&resume).await.expect("redirect to the client");
    assert!(callback.starts_with(REDIRECT), "{callback}");

    let params: std::collections::HashMap<String, String> =
        url::Url::parse(&callback).unwrap().query_pairs().into_owned().collect();
    assert_eq!(&params["state"], csrf_state.secret());
    assert_eq!(params["iss"], app.issuer, "RFC 9207");
    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");

    // ES256 is our default; the crate accepts only RS256 unless told.
    // The provider runs on the test clock; so does the verifier.
    let now = app.clock.now();
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256])
        .set_time_fn(move || chrono::DateTime::from_timestamp(now, 0).unwrap_or_default());
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&verifier, &nonce).expect("ID token validates");
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("eidas1"));
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|m| m.as_str().to_owned()).collect();
    assert!(amr.contains(&"user".to_owned()) && amr.contains(&"hwk".to_owned()), "{amr:?}");
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let userinfo: openidconnect::core::CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("UserInfo");
    assert_eq!(userinfo.subject(), claims.subject());

    let refresh = tokens.refresh_token().expect("offline_access gives a refresh token");
    let refreshed = client
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(refreshed.refresh_token().unwrap().secret(), refresh.secret(), "rotated");
    let again: openidconnect::core::CoreUserInfoClaims = client
        .user_info(refreshed.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("UserInfo with the refreshed token");
    assert_eq!(again.subject(), claims.subject());

    // Single sign-on: a second request goes straight back with a code.
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (second, _, _) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let location = browser.get_location(&second.as_str()[app.issuer.len()..]).await.unwrap();
    assert!(location.starts_with(REDIRECT) && location.contains("code="), "{location}");
}
