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

/// GET `path` with the flow's browser cookie: status, Location, body.
async fn get(app: &TestApp, flow: &Flow, path: &str, language: &str) -> (u16, String, String) {
    let response = app
        .client
        .get(app.url(path))
        .header("cookie", &flow.cookie)
        .header("accept-language", language)
        .send()
        .await
        .unwrap();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (response.status().as_u16(), location, response.text().await.unwrap())
}

/// OIDC Core §3.1.2.1 `prompt=select_account`: the signed-in citizen chooses
/// to go on as themselves or to sign in as someone else; a sign-in the
/// request caused has already chosen.
#[tokio::test]
async fn select_account_shows_the_account_choice() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let choose = |choice: &'static str| {
        let (app, flow) = (&app, &flow);
        async move {
            let (_, location) = flow.authorize(app, &[("prompt", "select_account")]).await;
            assert!(location.starts_with("/authorize/select-account/"), "{location}");
            let (status, _, page) = get(app, flow, &location, "fr").await;
            assert_eq!(status, 200);
            assert!(
                page.contains("Choisir un compte") && page.contains("Continuer en tant que Camille Martin"),
                "{page}"
            );
            assert!(page.contains("camille.martin@example.fr"), "{page}");
            let (_, _, english) = get(app, flow, &location, "en").await;
            assert!(english.contains("Choose an account") && english.contains("Use another account"), "{english}");
            let csrf = idp::testing::browser::meta_csrf(&page).unwrap();
            let forged = app.client.post(app.url(&location)).header("cookie", &flow.cookie);
            assert_eq!(forged.form(&[("account", choice)]).send().await.unwrap().status(), 403, "CSRF-protected");
            let chosen = app
                .client
                .post(app.url(&location))
                .header("cookie", &flow.cookie)
                .form(&[("account", choice), ("csrf", &csrf)])
                .send()
                .await
                .unwrap();
            assert_eq!(chosen.status(), 303);
            let resume = chosen.headers()["location"].to_str().unwrap().to_owned();
            get(app, flow, &resume, "fr").await
        }
    };

    // Going on as the signed-in citizen: a page that navigates to the service with the code.
    let (status, _, page) = choose("current").await;
    assert_eq!(status, 200);
    let target = idp::testing::browser::refresh_target(&page).unwrap_or_else(|| panic!("{page}"));
    assert!(target.starts_with(REDIRECT) && query_of(&target).contains_key("code"), "{target}");

    // Another account: sign in again; that fresh sign-in (as someone else) is the choice.
    app.clock.advance(3);
    let (status, location, _) = choose("another").await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/signin?"), "{location}");
    let next = query_of(&location)["next"].clone();
    let (_, location, _) = get(&app, &flow, &next, "fr").await;
    assert!(location.starts_with("/signin?"), "no sign-in yet: still asked to sign in: {location}");
    app.clock.advance(3);
    let other = app.citizen_session(&uuid::Uuid::new_v4().to_string());
    crate::oidc_sessions::sign_in_same_browser(&app, &flow.cookie, &other).await;
    app.state.db.save_consent(&other.citizen_id, flow.client_id(), "openid profile", app.clock.now()).await.unwrap();
    let (status, _, page) = get(&app, &flow, &next, "fr").await;
    assert_eq!(status, 200, "{page}");
    let target = idp::testing::browser::refresh_target(&page).unwrap_or_else(|| panic!("{page}"));
    let code = query_of(&target)["code"].clone();
    let (_, tokens) = flow.redeem(&app, &code).await;
    let claims = verified(&app, tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sid"], other.sid.as_str(), "the other account's login");

    // Not signed in at all: the sign-in page is the account choice, no second page.
    let (_, location) = Flow { cookie: String::new(), ..Flow::for_client(&app, flow.client.clone()).await }
        .authorize(&app, &[("prompt", "select_account")])
        .await;
    assert!(location.starts_with("/signin?"), "{location}");
}
