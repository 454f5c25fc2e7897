//! Discovery and JWKS, read by a strict client library.

use idp::keys::Alg;
use idp::testing::TestApp;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{JsonWebKey as _, JsonWebKeyId};

#[tokio::test]
async fn discovery_is_accepted_by_the_openidconnect_crate() {
    let app = TestApp::spawn().await;
    let response = app.get("/.well-known/openid-configuration").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let metadata: CoreProviderMetadata = response.json().await.unwrap();
    assert_eq!(metadata.issuer().as_str(), app.issuer);
    assert_eq!(metadata.jwks_uri().as_str(), app.url("/jwks"));
    assert!(metadata.authorization_endpoint().as_str().starts_with(&app.issuer));
    let algs = metadata.id_token_signing_alg_values_supported();
    assert!(algs.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256), "RS256 is mandatory");
    assert!(algs.contains(&CoreJwsSigningAlgorithm::EcdsaP256Sha256));
    let raw: serde_json::Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(raw["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    for list in [
        "id_token_signing_alg_values_supported",
        "userinfo_signing_alg_values_supported",
        "token_endpoint_auth_signing_alg_values_supported",
    ] {
        let algs: Vec<&str> = raw[list].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        assert!(algs.contains(&"RS256") && algs.contains(&"ES256"), "{list}: {algs:?}");
        assert!(!algs.iter().any(|a| a.starts_with("HS") || *a == "none"), "{list}: {algs:?}");
    }
    assert_eq!(raw["response_types_supported"], serde_json::json!(["code"]), "code flow only");
}

#[tokio::test]
async fn discovery_urls_come_from_the_issuer_not_the_host_header() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(!body.contains("evil.example"), "{body}");
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document["issuer"], app.issuer);
    assert!(document["authorization_endpoint"].as_str().unwrap().starts_with(&app.issuer), "{body}");
}

#[tokio::test]
async fn every_published_key_verifies_what_the_key_ring_signs() {
    let app = TestApp::spawn().await;
    let response = app.get("/jwks").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/jwk-set+json");
    let jwks: CoreJsonWebKeySet = response.json().await.unwrap();
    assert_eq!(jwks.keys().len(), 4);
    for alg in Alg::ALL {
        let token = app.state.keys.sign(alg, "JWT", &serde_json::json!({"iss": app.issuer})).unwrap();
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let header: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                token.split('.').next().unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let kid = JsonWebKeyId::new(header["kid"].as_str().unwrap().to_owned());
        let key = jwks.keys().iter().find(|k| k.key_id() == Some(&kid)).expect("signing key is published");
        let signature = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature).unwrap();
        let jws_alg = match alg {
            Alg::ES256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            Alg::PS256 => CoreJwsSigningAlgorithm::RsaSsaPssSha256,
            Alg::RS256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            Alg::EdDSA => CoreJwsSigningAlgorithm::EdDsa,
        };
        key.verify_signature(&jws_alg, signing_input.as_bytes(), &signature)
            .unwrap_or_else(|e| panic!("{alg:?} signature does not verify with the published key: {e:?}"));
        // And a tampered input does not.
        assert!(key.verify_signature(&jws_alg, b"tampered", &signature).is_err());
    }
}
