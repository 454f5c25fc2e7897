//! The code flow end to end over HTTP: tokens, ID token, UserInfo,
//! introspection, revocation, refresh rotation.

use idp::testing::TestApp;

use crate::oidc_support::*;

#[tokio::test]
async fn code_flow_issues_valid_tokens() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let tokens = flow.tokens_with(&app, &[("scope", "openid profile offline_access")]).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 300);
    assert_eq!(tokens["scope"], "offline_access openid profile");

    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(header_of(id_token)["alg"], "ES256", "administrator-created clients default to ES256");
    let claims = verified(&app, id_token);
    assert_eq!(claims["iss"], app.issuer);
    assert_eq!(claims["aud"], flow.client_id());
    assert_eq!(claims["azp"], flow.client_id());
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["acr"], "eidas1");
    assert_eq!(claims["amr"], serde_json::json!(["hwk", "user", "mfa"]));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
    assert!(claims["auth_time"].is_i64() && claims["sid"].is_string());
    let sub = claims["sub"].as_str().unwrap();
    assert_ne!(sub, flow.citizen_id, "the internal id never leaves");
    let access = tokens["access_token"].as_str().unwrap();
    let expected_at_hash = b64(&ring::digest::digest(&ring::digest::SHA256, access.as_bytes()).as_ref()[..16]);
    assert_eq!(claims["at_hash"], expected_at_hash);

    assert_eq!(header_of(access)["typ"], "at+jwt");
    let at = verified(&app, access);
    assert_eq!(at["client_id"], flow.client_id());
    assert_eq!(at["sub"], sub);
    assert!(at["jti"].is_string());

    let info = userinfo(&app, access).await;
    assert_eq!(info.status(), 200);
    assert_eq!(info.headers()["cache-control"], "no-store");
    let info: serde_json::Value = info.json().await.unwrap();
    assert_eq!(info["sub"], sub);
    assert_eq!(info["given_name"], "Camille", "profile scope: {info}");
    assert_eq!(info["family_name"], "Martin");
    assert!(info.get("email").is_none(), "email scope not requested: {info}");
    assert!(claims.get("given_name").is_none(), "scope claims go to UserInfo, not the ID token");
    // POST with the token in the form body (RFC 6750 §2.2).
    let posted = app.client.post(app.url("/userinfo")).form(&[("access_token", access)]).send().await.unwrap();
    assert_eq!(posted.status(), 200);
}

#[tokio::test]
async fn id_token_uses_the_clients_algorithm() {
    let app = TestApp::spawn().await;
    for alg in ["RS256", "PS256", "EdDSA"] {
        let client = app
            .register_client(idp::clients::NewClient {
                client_name: format!("Service {alg}"),
                redirect_uris: vec![REDIRECT.into()],
                id_token_signed_response_alg: Some(alg.into()),
                ..Default::default()
            })
            .await;
        let flow = Flow::for_client(&app, client).await;
        let tokens = flow.tokens(&app).await;
        let id_token = tokens["id_token"].as_str().unwrap();
        assert_eq!(header_of(id_token)["alg"], alg);
        let claims = verified(&app, id_token);
        let access = tokens["access_token"].as_str().unwrap();
        let digest = if alg == "EdDSA" {
            ring::digest::digest(&ring::digest::SHA512, access.as_bytes())
        } else {
            ring::digest::digest(&ring::digest::SHA256, access.as_bytes())
        };
        assert_eq!(claims["at_hash"], b64(&digest.as_ref()[..digest.as_ref().len() / 2]), "{alg}");
    }
}

#[tokio::test]
async fn form_post_response_mode_posts_the_code_back() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(flow.params(&[("response_mode", "form_post")]))
        .finish();
    let response =
        app.client.get(app.url(&format!("/authorize?{query}"))).header("cookie", &flow.cookie).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("form-action *;"), "whatever the service's callback does next: {csp}");
    assert!(csp.contains("script-src 'self';") && csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"action="https://mairie.example.fr/callback""#), "{html}");
    assert!(html.contains(r#"name="code""#) && html.contains(r#"name="state" value="st-123""#), "{html}");
    assert!(html.contains(r#"name="iss""#), "{html}");
    assert!(html.contains(r#"<script src="/authorize/form_post.js""#), "{html}");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let tokens = flow.tokens_with(&app, &[("scope", "openid profile offline_access")]).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();

    let (status, refreshed) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", &first)]).await;
    assert_eq!(status, 200, "{refreshed}");
    let second = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second, "rotated on use");
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &access).await.status(), 200);

    // A narrower access token gets narrower UserInfo.
    let (status, narrow) = flow
        .token(&app, &[("grant_type", "refresh_token"), ("refresh_token", &second), ("scope", "openid offline_access")])
        .await;
    assert_eq!(status, 200, "{narrow}");
    let second = narrow["refresh_token"].as_str().unwrap().to_owned();
    let info = userinfo_ok(&app, narrow["access_token"].as_str().unwrap()).await;
    assert!(info.get("given_name").is_none(), "profile not in this token's scope: {info}");

    // Narrowing is allowed, widening is not.
    let (status, body) = flow
        .token(&app, &[("grant_type", "refresh_token"), ("refresh_token", &second), ("scope", "openid email")])
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));

    // The spent first token comes back: the whole family dies.
    let (status, body) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", &first)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let (status, _) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", &second)]).await;
    assert_eq!(status, 400, "the live token of the family is revoked too");
    assert_eq!(userinfo(&app, &access).await.status(), 401, "and the access tokens of the grant");
}

#[tokio::test]
async fn refresh_tokens_expire_when_idle() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let refresh = flow.tokens(&app).await["refresh_token"].as_str().unwrap().to_owned();
    app.clock.advance(app.state.config.lifetimes.refresh_token_idle);
    let (status, body) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn introspection_and_revocation() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let tokens = flow.tokens(&app).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let introspect = |token: String| {
        let app = &app;
        let flow = &flow;
        async move {
            let response = app
                .client
                .post(app.url("/introspect"))
                .basic_auth(flow.client_id(), Some(flow.secret()))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let active = introspect(access.to_owned()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], flow.client_id());
    assert_eq!(active["token_type"], "Bearer");
    assert_eq!(introspect(refresh.to_owned()).await["active"], true);
    assert_eq!(introspect("garbage".into()).await, serde_json::json!({"active": false}));

    // Another client learns nothing about these tokens.
    let other = Flow::new(&app).await;
    let response = app
        .client
        .post(app.url("/introspect"))
        .basic_auth(other.client_id(), Some(other.secret()))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<serde_json::Value>().await.unwrap(), serde_json::json!({"active": false}));

    // Revoke the access token: inactive at once.
    let response = app
        .client
        .post(app.url("/revoke"))
        .basic_auth(flow.client_id(), Some(flow.secret()))
        .form(&[("token", access), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(introspect(access.to_owned()).await["active"], false);
    assert_eq!(userinfo(&app, access).await.status(), 401);

    // Revoke the refresh token: refresh fails.
    let response = app
        .client
        .post(app.url("/revoke"))
        .basic_auth(flow.client_id(), Some(flow.secret()))
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, _) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(status, 400);
    // Unknown tokens: still 200 (RFC 7009 §2.2).
    let response = app
        .client
        .post(app.url("/revoke"))
        .basic_auth(flow.client_id(), Some(flow.secret()))
        .form(&[("token", "nothing")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn access_tokens_expire_exactly_at_exp() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let access = flow.tokens(&app).await["access_token"].as_str().unwrap().to_owned();
    app.clock.advance(299);
    assert_eq!(userinfo(&app, &access).await.status(), 200, "valid one second before exp");
    app.clock.advance(1);
    let response = userinfo(&app, &access).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer ") && challenge.contains(r#"error="invalid_token""#), "{challenge}");
}

#[tokio::test]
async fn client_credentials_gets_an_access_token_only() {
    let app = TestApp::spawn().await;
    let client = app
        .register_client(idp::clients::NewClient {
            client_name: "Service de voirie".into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: vec!["client_credentials".into()],
            ..Default::default()
        })
        .await;
    let flow = Flow::for_client(&app, client).await;
    let (status, body) = flow.token(&app, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none(), "{body}");
    let claims = verified(&app, body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], flow.client_id());
    // No citizen behind it: UserInfo refuses.
    assert_eq!(userinfo(&app, body["access_token"].as_str().unwrap()).await.status(), 403);
    // And it may not use the code flow it is not registered for.
    let (status, location) = flow.authorize(&app, &[]).await;
    assert_eq!(status, 303);
    assert_eq!(query_of(&location)["error"], "unauthorized_client");
}

#[tokio::test]
async fn userinfo_bearer_errors_follow_rfc_6750() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="sesame""#);
    let response = userinfo(&app, "not-a-token").await;
    assert_eq!(response.status(), 401);
    let response =
        app.client.post(app.url("/userinfo")).bearer_auth("a").form(&[("access_token", "b")]).send().await.unwrap();
    assert_eq!(response.status(), 400, "a token in two places is refused");
}

#[tokio::test]
async fn the_claims_request_puts_consented_claims_in_the_id_token() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let claims = r#"{"id_token":{"given_name":null,"email":{"essential":true}},"userinfo":{"email":null}}"#;
    let (_, location) = flow.authorize(&app, &[("scope", "openid profile"), ("claims", claims)]).await;
    let code = query_of(&location)["code"].clone();
    let (_, tokens) = flow.redeem(&app, &code).await;
    let id = verified(&app, tokens["id_token"].as_str().unwrap());
    assert_eq!(id["given_name"], "Camille");
    assert!(id.get("email").is_none(), "email is outside the granted scopes: {id}");
    let info = userinfo_ok(&app, tokens["access_token"].as_str().unwrap()).await;
    assert!(info.get("email").is_none(), "{info}");
}
