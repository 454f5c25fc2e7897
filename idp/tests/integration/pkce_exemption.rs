//! A global administrator exempts one confidential client from PKCE
//! (relying-party software that sends no `code_challenge`, such as
//! LemonLDAP::NG 2.16); `nonce` is then required of it (RFC 9700 §2.1.1).

use idp::clients::NewClient;
use idp::testing::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

use crate::oidc_support::*;

const REASON: &str = "LemonLDAP::NG 2.16 (Debian 12) sends no code_challenge";

async fn entitlements(app: &TestApp, token: &str, client_id: &str, body: Value) -> (u16, Value) {
    let path = format!("/admin/api/clients/{client_id}/entitlements");
    let response = app.client.request(Method::PUT, app.url(&path)).bearer_auth(token).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// Without PKCE: what a relying party lacking it sends, over raw HTTP.
const WITHOUT_PKCE: [(&str, &str); 2] = [("code_challenge", ""), ("code_challenge_method", "")];

#[tokio::test]
async fn an_exempt_confidential_client_signs_in_without_pkce_but_with_nonce() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let (_, location) = flow.authorize(&app, &WITHOUT_PKCE).await;
    assert_eq!(query_of(&location)["error"], "invalid_request", "PKCE required by default: {location}");

    let global = app.admin_token(None).await;
    let organisation = flow.client.client.organisation_id.clone().unwrap();
    let organisation_admin = app.admin_token(Some(&organisation)).await;
    let exempt = json!({"pkce_exempt": true, "pkce_exempt_reason": REASON});
    let (status, _) = entitlements(&app, &organisation_admin, flow.client_id(), exempt.clone()).await;
    assert_eq!(status, 403, "global administrators only");
    let (status, answer) = entitlements(&app, &global, flow.client_id(), json!({"pkce_exempt": true})).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_client_metadata")), "a reason is required");
    let (status, answer) = entitlements(&app, &global, flow.client_id(), exempt).await;
    assert_eq!((status, &answer["pkce_exempt_reason"]), (200, &json!(REASON)), "{answer}");

    // Without nonce either, the code would be unbound: refused.
    let mut without_both = WITHOUT_PKCE.to_vec();
    without_both.push(("nonce", ""));
    let (_, location) = flow.authorize(&app, &without_both).await;
    assert_eq!(query_of(&location)["error"], "invalid_request", "{location}");

    let (status, location) = flow.authorize(&app, &WITHOUT_PKCE).await;
    assert_eq!(status, 303);
    let code = query_of(&location)["code"].clone();
    let redeem = |code: String, verifier: Option<String>| {
        let (app, flow) = (&app, &flow);
        async move {
            let mut form =
                vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
            if let Some(verifier) = &verifier {
                form.push(("code_verifier", verifier));
            }
            flow.token(app, &form).await
        }
    };
    let (status, tokens) = redeem(code, None).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(verified(&app, tokens["id_token"].as_str().unwrap())["nonce"], "n-456");

    // A verifier for a code issued without a challenge is a downgrade (RFC 9700 §4.8.2).
    let (_, location) = flow.authorize(&app, &WITHOUT_PKCE).await;
    let (status, answer) = redeem(query_of(&location)["code"].clone(), Some(flow.verifier.clone())).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")), "{answer}");
    // PKCE still works (and is checked) when the client does send it.
    let (_, location) = flow.authorize(&app, &[]).await;
    let (status, _) = redeem(query_of(&location)["code"].clone(), None).await;
    assert_eq!(status, 400, "a challenge sent binds the code");

    // The administrators' log says who exempted it, and why.
    let (status, events) = {
        let response =
            app.client.get(app.url("/admin/api/events?limit=100")).bearer_auth(&global).send().await.unwrap();
        (response.status().as_u16(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200);
    let logged = events.as_array().unwrap().iter().find(|e| e["detail"]["pkce_exempt"] == true);
    let logged = logged.unwrap_or_else(|| panic!("no exemption logged: {events}"));
    assert_eq!(logged["detail"]["pkce_exempt_reason"], REASON);
    assert_eq!(logged["action"], "client.update");

    // Withdrawn: PKCE is required again, even for a code issued before.
    let (_, location) = flow.authorize(&app, &WITHOUT_PKCE).await;
    let pending = query_of(&location)["code"].clone();
    let (status, _) = entitlements(&app, &global, flow.client_id(), json!({"pkce_exempt": false})).await;
    assert_eq!(status, 200);
    assert_eq!(redeem(pending, None).await.0, 400);
    let (_, location) = flow.authorize(&app, &WITHOUT_PKCE).await;
    assert_eq!(query_of(&location)["error"], "invalid_request");
}

#[tokio::test]
async fn public_clients_and_registrants_never_get_an_exemption() {
    let app = TestApp::spawn().await;
    let public = app
        .register_client(NewClient {
            client_name: "Application mobile".into(),
            redirect_uris: vec![REDIRECT.into()],
            token_endpoint_auth_method: Some("none".into()),
            ..Default::default()
        })
        .await;
    let global = app.admin_token(None).await;
    let exempt = json!({"pkce_exempt": true, "pkce_exempt_reason": REASON});
    let (status, answer) = entitlements(&app, &global, &public.client.client_id, exempt).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_client_metadata")), "{answer}");

    let organisation = public.client.organisation_id.clone().unwrap();
    let token = app.initial_access_token(&organisation, 3_600, false).await;
    let body =
        json!({"client_name": "X", "redirect_uris": [REDIRECT], "pkce_exempt": true, "pkce_exempt_reason": REASON});
    let response = app.client.post(app.url("/register")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client_metadata");
}
