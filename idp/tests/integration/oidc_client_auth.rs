//! Client authentication at the token endpoint: basic, post, none, private_key_jwt.

use idp::clients::NewClient;
use idp::keys::{Alg, SigningKey, generate_pkcs8};
use idp::testing::TestApp;

use crate::oidc_support::*;

#[tokio::test]
async fn wrong_secret_gets_401_with_a_basic_challenge() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let code = flow.code(&app).await;
    let response = app
        .client
        .post(app.url("/token"))
        .basic_auth(flow.client_id(), Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", flow.verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic "));
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["error"], "invalid_client");
    // The code was not consumed by the failed attempt.
    assert_eq!(flow.redeem(&app, &code).await.0, 200);
}

/// RFC 9110 §15.5.2: every 401 of /token, /introspect and /revoke names a
/// scheme, whether or not the client tried Basic.
#[tokio::test]
async fn every_client_authentication_401_carries_a_challenge() {
    let app = TestApp::spawn().await;
    let client = app
        .register_client(NewClient {
            client_name: "Service post".into(),
            redirect_uris: vec![REDIRECT.into()],
            token_endpoint_auth_method: Some("client_secret_post".into()),
            ..Default::default()
        })
        .await;
    let client_id = client.client.client_id.as_str();
    let wrong_secret = [("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", "wrong")];
    let anonymous = [("token", "whatever")];
    let requests: [(&str, &[(&str, &str)]); 4] = [
        ("/token", &wrong_secret),
        ("/token", &[("grant_type", "client_credentials")]),
        ("/introspect", &anonymous),
        ("/revoke", &anonymous),
    ];
    for (path, form) in requests {
        let response = app.client.post(app.url(path)).form(form).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path} {form:?}");
        let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(challenge.as_deref(), Some(r#"Basic realm="sesame", charset="UTF-8""#), "{path} {form:?}");
        assert_eq!(response.json::<serde_json::Value>().await.unwrap()["error"], "invalid_client");
    }
}

#[tokio::test]
async fn a_client_must_use_its_registered_method() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let code = flow.code(&app).await;
    let response = app
        .client
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", flow.verifier.as_str()),
            ("client_id", flow.client_id()),
            ("client_secret", flow.secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "registered for client_secret_basic, used client_secret_post");
    // Without any credentials a confidential client is refused too.
    let response = app
        .client
        .post(app.url("/token"))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("client_id", flow.client_id())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn client_secret_post_and_public_clients() {
    let app = TestApp::spawn().await;
    for method in ["client_secret_post", "none"] {
        let client = app
            .register_client(NewClient {
                client_name: format!("Service {method}"),
                redirect_uris: vec![REDIRECT.into()],
                token_endpoint_auth_method: Some(method.into()),
                ..Default::default()
            })
            .await;
        let flow = Flow::for_client(&app, client).await;
        let code = flow.code(&app).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", flow.verifier.as_str()),
            ("client_id", flow.client_id()),
        ];
        if method == "client_secret_post" {
            form.push(("client_secret", flow.secret()));
        }
        let response = app.client.post(app.url("/token")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200, "{method}");
    }
}

pub fn assertion(key: &SigningKey, client_id: &str, aud: &str, jti: &str, exp: i64) -> String {
    typed_assertion(key, "client-authentication+jwt", client_id, serde_json::json!(aud), jti, exp)
}

fn typed_assertion(
    key: &SigningKey,
    typ: &str,
    client_id: &str,
    aud: serde_json::Value,
    jti: &str,
    exp: i64,
) -> String {
    key.sign_jwt(
        typ,
        &serde_json::json!({"iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "exp": exp, "iat": exp - 60}),
    )
    .unwrap()
}

#[tokio::test]
async fn private_key_jwt_is_verified_and_replay_checked() {
    let app = TestApp::spawn().await;
    let key = SigningKey::from_pkcs8(Alg::ES256, &generate_pkcs8(Alg::ES256).unwrap()).unwrap();
    let client = app
        .register_client(NewClient {
            client_name: "Service JWT".into(),
            redirect_uris: vec![REDIRECT.into()],
            token_endpoint_auth_method: Some("private_key_jwt".into()),
            jwks: Some(serde_json::json!({"keys": [key.public_jwk()]})),
            ..Default::default()
        })
        .await;
    let flow = Flow::for_client(&app, client).await;
    let issuer = app.issuer.clone();
    let exp = app.clock.now() + 60;
    let send = |assertion: String, code: String| {
        let app = &app;
        let flow = &flow;
        async move { redeem_with_assertion(app, flow, &code, &assertion).await.0 }
    };
    let good = assertion(&key, flow.client_id(), &issuer, "jti-1", exp);
    assert_eq!(send(good.clone(), flow.code(&app).await).await, 200);
    assert_eq!(send(good, flow.code(&app).await).await, 401, "jti replay");
    let wrong_aud = assertion(&key, flow.client_id(), "https://elsewhere.example/token", "jti-2", exp);
    assert_eq!(send(wrong_aud, flow.code(&app).await).await, 401);
    let expired = assertion(&key, flow.client_id(), &issuer, "jti-3", app.clock.now() - 31);
    assert_eq!(send(expired, flow.code(&app).await).await, 401);
    let other_key = SigningKey::from_pkcs8(Alg::ES256, &generate_pkcs8(Alg::ES256).unwrap()).unwrap();
    let forged = assertion(&other_key, flow.client_id(), &issuer, "jti-4", exp);
    assert_eq!(send(forged, flow.code(&app).await).await, 401);
}

/// draft-ietf-oauth-rfc7523bis: `aud` is the issuer identifier as one
/// string — not the token endpoint, not an array holding the issuer — and
/// `typ`, when present, says what the JWT is for.
#[tokio::test]
async fn private_key_jwt_audience_is_the_issuer_alone_and_typ_is_checked() {
    use serde_json::json;
    let app = TestApp::spawn().await;
    let key = SigningKey::from_pkcs8(Alg::ES256, &generate_pkcs8(Alg::ES256).unwrap()).unwrap();
    let client = app
        .register_client(NewClient {
            client_name: "Service JWT".into(),
            redirect_uris: vec![REDIRECT.into()],
            token_endpoint_auth_method: Some("private_key_jwt".into()),
            jwks: Some(json!({"keys": [key.public_jwk()]})),
            ..Default::default()
        })
        .await;
    let flow = Flow::for_client(&app, client).await;
    let (issuer, token_endpoint) = (app.issuer.clone(), app.url("/token"));
    let exp = app.clock.now() + 60;
    let cases = [
        ("client-authentication+jwt", json!(issuer), 200),
        ("JWT", json!(issuer), 200),
        ("application/client-authentication+jwt", json!(issuer), 200),
        ("JWT", json!(token_endpoint), 401),
        ("JWT", json!([issuer]), 401),
        ("JWT", json!([issuer, token_endpoint]), 401),
        ("at+jwt", json!(issuer), 401),
        ("logout+jwt", json!(issuer), 401),
    ];
    for (n, (typ, aud, expected)) in cases.into_iter().enumerate() {
        let signed = typed_assertion(&key, typ, flow.client_id(), aud.clone(), &format!("jti-{n}"), exp);
        let (status, body) = redeem_with_assertion(&app, &flow, &flow.code(&app).await, &signed).await;
        assert_eq!(status, expected, "typ {typ}, aud {aud}: {body}");
    }
}

/// Redeems `code` for `flow`, the client authenticating with `assertion`
/// (RFC 7523 §2.2); status and body.
pub async fn redeem_with_assertion(
    app: &TestApp,
    flow: &Flow,
    code: &str,
    assertion: &str,
) -> (u16, serde_json::Value) {
    let response = app
        .client
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", flow.verifier.as_str()),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}
