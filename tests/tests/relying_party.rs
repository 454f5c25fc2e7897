//! The relying-party example against a real provider: login through the real
//! pages with a software passkey, claims shown, refresh, back-channel logout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use idp::keys::Alg;
use idp::testing::TestApp;
use idp::testing::browser::Browser;
use sesame_e2e::{follow, start_service};

#[tokio::test]
async fn the_example_service_logs_a_citizen_in_refreshes_and_obeys_back_channel_logout() {
    let app = TestApp::spawn().await;
    let service = start_service(&app, "Service de test", "127.0.0.1", |_| {}).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("Camille", "Martin", None).await;

    // Login: the first time, Sésame asks for consent.
    let (at, page) = follow(&browser, format!("{}/login", service.base)).await;
    assert!(at.contains("/authorize/consent/"), "{at}");
    assert!(page.contains("Service de test"));
    let consent_path = at.strip_prefix(&app.issuer).unwrap().to_owned();
    let allowed = browser.post_form(&consent_path, &[("decision", "allow")]).await;
    let resume = allowed.headers()["location"].to_str().unwrap().to_owned();
    let (at, page) = follow(&browser, format!("{}{resume}", app.issuer)).await;
    assert_eq!(at, format!("{}/", service.base));
    assert!(page.contains("Connecté(e) avec Sésame"), "{page}");
    assert!(page.contains("Camille"), "UserInfo claims shown: {page}");
    let sessions = service.rp.open_sessions();
    assert_eq!(sessions.len(), 1);
    let session = sessions[0].clone();
    assert_eq!(session.acr.as_deref(), Some("eidas1"));
    assert!(session.sid.is_some(), "the login's sid is kept for back-channel logout");

    // Refresh.
    let response = browser.client.post(format!("{}/refresh", service.base)).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_ne!(service.rp.open_sessions()[0].refresh_token, session.refresh_token, "rotated");

    // Back-channel logout tokens, signed by the provider's key ring.
    let now = app.clock.now();
    let token = |claims: serde_json::Value| app.state.keys.sign(Alg::ES256, "logout+jwt", &claims).unwrap();
    let good = serde_json::json!({
        "iss": app.issuer, "aud": service.client_id, "iat": now, "exp": now + 120, "jti": "j-1",
        "sid": session.sid, "events": {"http://schemas.openid.net/event/backchannel-logout": {}}
    });
    let post = |token: String| {
        let url = format!("{}/backchannel-logout", service.base);
        let client = browser.client.clone();
        async move { client.post(url).form(&[("logout_token", token)]).send().await.unwrap().status().as_u16() }
    };
    let mut with_nonce = good.clone();
    with_nonce["nonce"] = "n".into();
    with_nonce["jti"] = "j-2".into();
    assert_eq!(post(token(with_nonce)).await, 400, "nonce forbidden");
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = "someone-else".into();
    wrong_aud["jti"] = "j-3".into();
    assert_eq!(post(token(wrong_aud)).await, 400);
    let mut no_event = good.clone();
    no_event["events"] = serde_json::json!({});
    no_event["jti"] = "j-4".into();
    assert_eq!(post(token(no_event)).await, 400);
    let mut wrong_issuer = good.clone();
    wrong_issuer["iss"] = "https://evil.example".into();
    wrong_issuer["jti"] = "j-5".into();
    assert_eq!(post(token(wrong_issuer)).await, 400);
    let forged = {
        let key =
            idp::keys::SigningKey::from_pkcs8(Alg::ES256, &idp::keys::generate_pkcs8(Alg::ES256).unwrap()).unwrap();
        key.sign_jwt("logout+jwt", &good).unwrap()
    };
    assert_eq!(post(forged).await, 400, "unknown key");
    assert_eq!(service.rp.open_sessions().len(), 1, "no refused token changed anything");

    assert_eq!(post(token(good.clone())).await, 200);
    assert!(service.rp.open_sessions().is_empty(), "the local session ended");
    assert_eq!(post(token(good)).await, 400, "a replayed jti is refused");
    let (_, page) = follow(&browser, format!("{}/", service.base)).await;
    assert!(page.contains("Se connecter avec Sésame"));
}

#[tokio::test]
async fn the_example_registers_itself_by_dynamic_registration() {
    let app = TestApp::spawn().await;
    let organisation = app.organisation().await;
    let token = app.initial_access_token(&organisation.organisation_id, 3_600, true).await;
    let http = reqwest::Client::builder().resolve("localhost", app.addr).build().unwrap();
    let base = "http://127.0.0.1:3999";
    let credentials =
        relying_party_example::register(&http, &app.issuer, base, "Service exemple", &token).await.unwrap();
    assert!(credentials.client_secret.is_some() && credentials.registration_access_token.is_some());
    let client = idp::clients::find(&app.state.db, &credentials.client_id).await.unwrap().unwrap();
    assert_eq!(client.redirect_uris, vec![format!("{base}/callback")]);
    assert_eq!(client.metadata.backchannel_logout_uri.as_deref(), Some("http://127.0.0.1:3999/backchannel-logout"));
    // The token was single-use: a second registration is refused with the reason.
    let again = relying_party_example::register(&http, &app.issuer, base, "Service exemple", &token).await;
    assert!(again.unwrap_err().to_string().contains("registration refused"));
}
