//! Identity assurance seen from a service: the `openidconnect` crate, a
//! strict client library, asks for `acr=eidas2` (essential) and for
//! `verified_claims`, and gets both once an agent has verified the
//! citizen's identity at a counter and the citizen signed in again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use idp::citizen::verification::{Agent, CounterCheck, Document, DocumentIdentity, DocumentType, verify_at_counter};
use idp::clients::NewClient;
use idp::clients::members::Role;
use idp::testing::TestApp;
use idp::testing::browser::Browser;
use openidconnect::core::{CoreAuthenticationFlow, CoreGenderClaim, CoreJwsSigningAlgorithm};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, Scope,
    TokenResponse as _, UserInfoClaims,
};
use serde::{Deserialize, Serialize};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// OpenID Connect for Identity Assurance: what the crate does not type.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Assurance {
    verified_claims: Option<serde_json::Value>,
}

impl AdditionalClaims for Assurance {}

#[tokio::test]
async fn a_service_receives_eidas2_and_verified_claims_through_the_openidconnect_crate() {
    let app = TestApp::spawn().await;
    let registered = app
        .register_client(NewClient {
            client_name: "CCAS de Test".into(),
            redirect_uris: vec![REDIRECT.into()],
            scope: Some("openid profile".into()),
            ..NewClient::default()
        })
        .await;

    // The citizen signs up; an agent verifies them at the counter.
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", None).await;
    let citizen = app.state.db.citizen_by_identifier(&shown.identifier.replace('-', "")).await.unwrap().unwrap();
    let organisation = app.organisation().await;
    let agent_id = app.member(&organisation.organisation_id, Role::Agent).await;
    let check = CounterCheck {
        citizen_id: citizen.id.clone(),
        document: Document {
            kind: DocumentType::Passport,
            number: "18AB12345".into(),
            issuer: "FRA".into(),
            expires_on: "2031-06-30".into(),
        },
        identity: DocumentIdentity {
            given_name: "CAMILLE".into(),
            family_name: "MARTIN".into(),
            birthdate: "1988-02-29".into(),
            gender: "female".into(),
            birthcountry: "99100".into(),
            birthplace: Some("31555".into()),
        },
        correct_names: false,
    };
    let agent = Agent { citizen_id: agent_id, organisation: organisation.clone() };
    verify_at_counter(&app.state.db, &app.state.keys, &agent, &check, app.clock.now()).await.unwrap();
    app.clock.advance(60);
    browser.sign_out().await;
    browser.sign_in().await;
    app.state
        .db
        .save_consent(&citizen.id, &registered.client.client_id, "openid profile", app.clock.now())
        .await
        .unwrap();

    let (client, http) = sesame_e2e::oidc_client(&app, &registered, REDIRECT).await;
    let claims = serde_json::json!({
        "id_token": {"acr": {"essential": true, "value": "eidas2"}},
        "userinfo": {"verified_claims": {"verification": {"trust_framework": {"value": "eidas"}},
            "claims": {"given_name": null, "family_name": null, "birthdate": null, "gender": null,
                       "birthplace": null, "birthcountry": null}}}
    });
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_extra_param("claims", claims.to_string())
        .set_pkce_challenge(challenge)
        .url();
    let callback = browser.get_location(&url.as_str()[app.issuer.len()..]).await.expect("back to the service");
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code: {callback}"));
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let now = app.clock.now();
    let id_verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256])
        .set_time_fn(move || chrono::DateTime::from_timestamp(now, 0).unwrap_or_default());
    let id_claims = tokens.id_token().expect("an ID token").claims(&id_verifier, &nonce).expect("valid");
    assert_eq!(id_claims.auth_context_ref().map(|a| a.as_str()), Some("eidas2"));

    let info: UserInfoClaims<Assurance, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), Some(id_claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("UserInfo");
    assert_eq!(info.birthdate().map(|b| b.as_str()), Some("1988-02-29"), "the pivot claims as plain claims too");
    let verified = info.additional_claims().verified_claims.as_ref().expect("verified_claims");
    assert_eq!(
        verified["claims"],
        serde_json::json!({"given_name": "Camille", "family_name": "Martin", "birthdate": "1988-02-29",
            "gender": "female", "birthplace": "31555", "birthcountry": "99100"})
    );
    let evidence = &verified["verification"]["evidence"][0];
    assert_eq!(verified["verification"]["trust_framework"], "eidas");
    assert_eq!(evidence["document_details"]["type"], "passport");
    assert_eq!(evidence["verifier"]["organization"], organisation.name.as_str());
}
