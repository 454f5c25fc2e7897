//! Conformance with the letter of OIDC Core and RFC 8252 where the
//! certification suite and native clients look: optional `nonce` and
//! `state`, loopback redirect ports, a `claims` request for one `sub`.

use idp::testing::TestApp;

use crate::oidc_support::*;

/// OIDC Core §3.1.2.1: `nonce` is optional in the code flow; RFC 6749
/// §4.1.1: `state` is recommended, not required. PKCE stays required.
#[tokio::test]
async fn a_request_without_nonce_or_state_succeeds() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let (status, location) = flow.authorize(&app, &[("nonce", ""), ("state", "")]).await;
    assert_eq!(status, 303, "{location}");
    let response = query_of(&location);
    assert!(!response.contains_key("state"), "{location}");
    let code = response.get("code").unwrap_or_else(|| panic!("no code: {location}"));
    let (status, tokens) = flow.redeem(&app, code).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = verified(&app, tokens["id_token"].as_str().unwrap());
    assert!(claims.get("nonce").is_none(), "{claims}");

    let (_, location) = flow.authorize(&app, &[("nonce", ""), ("code_challenge", "")]).await;
    assert_eq!(query_of(&location)["error"], "invalid_request", "PKCE is still required: {location}");
}

/// RFC 8252 §7.3: a native client registers `http://127.0.0.1/cb` (or
/// `[::1]`) and comes back on whatever port it got; path and query still
/// match exactly, and `localhost` keeps exact matching (§8.3).
#[tokio::test]
async fn loopback_redirect_uris_match_any_port() {
    let app = TestApp::spawn().await;
    let cases = [
        ("http://127.0.0.1/cb", "http://127.0.0.1:49152/cb", true),
        ("http://[::1]/cb", "http://[::1]:8000/cb", true),
        ("http://127.0.0.1/cb", "http://127.0.0.1:49152/cb/other", false),
        ("http://127.0.0.1/cb", "http://127.0.0.1:49152/cb?x=1", false),
        ("http://localhost/cb", "http://localhost:8080/cb", false),
    ];
    for (registered, presented, accepted) in cases {
        let client = app
            .register_client(idp::clients::NewClient {
                client_name: "Application de bureau".into(),
                redirect_uris: vec![registered.into()],
                token_endpoint_auth_method: Some("none".into()),
                ..Default::default()
            })
            .await;
        let flow = Flow::for_client(&app, client).await;
        let (status, location) = flow.authorize(&app, &[("redirect_uri", presented)]).await;
        if !accepted {
            assert_eq!((status, location.as_str()), (400, ""), "{presented}: a page, no redirect");
            continue;
        }
        assert_eq!(status, 303, "{location}");
        assert!(location.starts_with(&format!("{presented}?")), "{location}");
        let code = query_of(&location)["code"].clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", presented),
            ("code_verifier", flow.verifier.as_str()),
            ("client_id", flow.client_id()),
        ];
        let response = app.client.post(app.url("/token")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200, "{presented}");
    }
}
