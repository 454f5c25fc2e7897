//! The attacks the specs warn about, and the errors they must get.

use std::sync::Arc;

use idp::testing::TestApp;

use crate::oidc_support::*;

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let code = flow.code(&app).await;
    let (status, tokens) = flow.redeem(&app, &code).await;
    assert_eq!(status, 200);
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await.status(), 200);

    let (status, body) = flow.redeem(&app, &code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(userinfo(&app, access).await.status(), 401, "access token revoked");
    let (status, _) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(status, 400, "refresh token revoked");
}

#[tokio::test]
async fn fifty_concurrent_redemptions_of_one_code_yield_one_success() {
    let app = Arc::new(TestApp::spawn().await);
    let flow = Arc::new(Flow::new(&app).await);
    let code = Arc::new(flow.code(&app).await);
    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let (app, flow, code) = (Arc::clone(&app), Arc::clone(&flow), Arc::clone(&code));
            tokio::spawn(async move { flow.redeem(&app, &code).await })
        })
        .collect();
    let mut successes = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            (200, _) => successes += 1,
            // Every loser is refused cleanly, never a server error.
            (status, body) => assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}"),
        }
    }
    assert_eq!(successes, 1);
}

#[tokio::test]
async fn a_code_cannot_be_injected_into_another_client() {
    let app = TestApp::spawn().await;
    let victim = Flow::new(&app).await;
    let attacker = Flow::new(&app).await;
    let code = victim.code(&app).await;
    let (status, body) = attacker
        .token(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &victim.verifier),
            ],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let (status, _) = victim.redeem(&app, &code).await;
    assert_eq!(status, 400, "the code is spent");
}

#[tokio::test]
async fn pkce_is_required_and_checked() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    for (extra, why) in [
        (vec![("code_challenge", "")], "missing challenge"),
        (vec![("code_challenge_method", "")], "missing method means plain"),
        (vec![("code_challenge_method", "plain")], "plain downgrade"),
        (vec![("code_challenge", "short")], "malformed challenge"),
    ] {
        let (status, location) = flow.authorize(&app, &extra).await;
        assert_eq!(status, 303, "{why}");
        let response = query_of(&location);
        assert_eq!(response["error"], "invalid_request", "{why}: {location}");
        assert_eq!(response["state"], "st-123", "{why}");
        assert_eq!(response["iss"], app.issuer, "{why}");
        assert!(location.starts_with(REDIRECT));
    }
    let code = flow.code(&app).await;
    let (status, body) =
        flow.token(&app, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "no verifier");
    let code = flow.code(&app).await;
    let (other_verifier, _) = pkce();
    let (status, body) = flow
        .token(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &other_verifier),
            ],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "wrong verifier");
}

#[tokio::test]
async fn redirect_uri_must_match_exactly_and_is_never_followed_otherwise() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    for variant in [
        "https://mairie.example.fr/callback/",
        "https://mairie.example.fr:8443/callback",
        "https://mairie.example.fr/callback/extra",
        "https://mairie.example.fr/callback#frag",
        "https://mairie.example.fr/callback?x=1",
        "https://MAIRIE.example.fr/callback",
        "http://mairie.example.fr/callback",
        "https://evil.example/callback",
    ] {
        let (status, location) = flow.authorize(&app, &[("redirect_uri", variant)]).await;
        assert_eq!((status, location.as_str()), (400, ""), "{variant} must get a page, not a redirect");
    }
    let (status, location) = flow.authorize(&app, &[("client_id", "unknown")]).await;
    assert_eq!((status, location.as_str()), (400, ""));
    let (status, location) = flow.authorize(&app, &[("redirect_uri", "")]).await;
    assert_eq!((status, location.as_str()), (400, ""));
    // Token request with another redirect_uri than the authorization's.
    let code = flow.code(&app).await;
    let (status, body) = flow
        .token(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://mairie.example.fr/other"),
                ("code_verifier", &flow.verifier),
            ],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn repeated_parameters_are_refused_on_a_page() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let mut params = flow.params(&[]);
    params.push(("redirect_uri".into(), "https://evil.example/cb".into()));
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    let response = app.client.get(app.url(&format!("/authorize?{query}"))).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    let page = response.text().await.unwrap();
    assert!(page.contains("<h1>"), "a readable page: {page}");
}

#[tokio::test]
async fn request_errors_go_back_with_state_and_iss() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    for (extra, error) in [
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("response_type", "code id_token")], "unsupported_response_type"),
        (vec![("scope", "profile")], "invalid_scope"),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("prompt", "sometimes")], "invalid_request"),
        (vec![("max_age", "-1")], "invalid_request"),
        (vec![("claims", "{not json")], "invalid_request"),
        (vec![("claims", r#"{"userinfo":["email"]}"#)], "invalid_request"),
        (vec![("request", "eyJ.x.y")], "request_not_supported"),
        (vec![("request_uri", "https://x")], "request_uri_not_supported"),
        (vec![("id_token_hint", "forged.token.value")], "invalid_request"),
    ] {
        let (status, location) = flow.authorize(&app, &extra).await;
        assert_eq!(status, 303, "{extra:?}");
        let response = query_of(&location);
        assert_eq!(response["error"], error, "{extra:?}");
        assert!(!response["error_description"].is_empty());
        assert_eq!(response["state"], "st-123");
        assert_eq!(response["iss"], app.issuer);
    }
    let (_, location) = flow.authorize(&app, &[("state", ""), ("prompt", "sometimes")]).await;
    let response = query_of(&location);
    assert_eq!(response["error"], "invalid_request");
    assert!(!response.contains_key("state"));
}

#[tokio::test]
async fn unknown_scopes_are_ignored() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let (status, location) = flow.authorize(&app, &[("scope", "openid <script>alert(1)</script> unheard-of")]).await;
    assert_eq!(status, 303);
    let code = query_of(&location)["code"].clone();
    let (_, tokens) = flow.redeem(&app, &code).await;
    assert_eq!(tokens["scope"], "openid");
}

#[tokio::test]
async fn codes_expire_after_sixty_seconds() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let code = flow.code(&app).await;
    app.clock.advance(59);
    let (status, _) = flow.redeem(&app, &code).await;
    assert_eq!(status, 200, "valid at 59 s");
    let code = flow.code(&app).await;
    app.clock.advance(60);
    let (status, body) = flow.redeem(&app, &code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "expired at 60 s");
}

#[tokio::test]
async fn token_endpoint_rejects_malformed_requests() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let response = app
        .client
        .post(app.url("/token"))
        .basic_auth(flow.client_id(), Some(flow.secret()))
        .json(&serde_json::json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["error"], "invalid_request");

    let response = app
        .client
        .post(app.url("/token"))
        .basic_auth(flow.client_id(), Some(flow.secret()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&grant_type=refresh_token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["error"], "invalid_request");

    let (status, body) = flow.token(&app, &[("grant_type", "password"), ("username", "x"), ("password", "y")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (status, body) = flow.token(&app, &[("code", "x")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    assert_eq!(app.client.get(app.url("/token")).send().await.unwrap().status(), 405);
}
