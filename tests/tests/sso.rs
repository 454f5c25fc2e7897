//! Single sign-on and single logout across two services of different
//! sectors, each a real relying-party example.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use idp::testing::TestApp;
use idp::testing::browser::Browser;
use sesame_e2e::{follow, log_in, start_service};

#[tokio::test]
async fn one_passkey_login_serves_two_services_with_different_subjects() {
    let app = TestApp::spawn().await;
    let library = start_service(&app, "Médiathèque", "127.0.0.1", |_| {}).await;
    let canteen = start_service(&app, "Cantine scolaire", "localhost", |_| {}).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("Camille", "Martin", None).await;
    let passkey_uses = browser.passkey.sign_count(&browser.passkey.credential_ids()[0]);

    let page = log_in(&mut browser, &app, &library).await;
    assert!(page.contains("Camille"));
    let page = log_in(&mut browser, &app, &canteen).await;
    assert!(page.contains("Camille"), "signed in to the second service");
    assert_eq!(
        browser.passkey.sign_count(&browser.passkey.credential_ids()[0]),
        passkey_uses,
        "without touching the authenticator again"
    );
    let a = library.rp.open_sessions()[0].sub.clone();
    let b = canteen.rp.open_sessions()[0].sub.clone();
    assert_ne!(a, b, "different sectors, different subjects");

    // Logging in again to the first service: same subject, no prompt.
    let (_, page) = follow(&browser, format!("{}/login", library.base)).await;
    assert!(page.contains(&a), "stable subject");

    // RP-initiated logout from the library ends the provider session.
    let response = browser.client.post(format!("{}/logout", library.base)).send().await.unwrap();
    let to_provider = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(to_provider.starts_with(&format!("{}/logout?", app.issuer)), "{to_provider}");
    let (at, _) = follow(&browser, to_provider).await;
    assert!(at.starts_with(&format!("{}/?state=", library.base)), "back to the service after logout: {at}");
    let (at, _) = follow(&browser, format!("{}/login", canteen.base)).await;
    assert!(at.contains("/signin?"), "the provider session is over: sign-in needed ({at})");

    // The canteen hears of it through back-channel logout (delivered by the outbox).
    assert_eq!(canteen.rp.open_sessions().len(), 1);
    let http = idp::oidc::logout::backchannel::http_client(&app.state.config).unwrap();
    let delivered = idp::oidc::logout::backchannel::deliver_due(&app.state, &http, "e2e").await.unwrap();
    assert_eq!(delivered, 2, "one logout token per service of the login");
    assert!(canteen.rp.open_sessions().is_empty(), "the second service's session ended");
    assert!(library.rp.open_sessions().is_empty());
}

/// A receiver in front of a service that answers 500 twice, then forwards.
async fn flaky_proxy()
-> (String, std::sync::Arc<std::sync::Mutex<String>>, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let target = Arc::new(Mutex::new(String::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (t, c) = (Arc::clone(&target), Arc::clone(&calls));
    let router = axum::Router::new().route(
        "/bc",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (t, c) = (Arc::clone(&t), Arc::clone(&c));
            async move {
                if c.fetch_add(1, Ordering::SeqCst) < 2 {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                let url = t.lock().unwrap().clone();
                let response = reqwest::Client::new()
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                axum::http::StatusCode::from_u16(response.status().as_u16()).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}/bc", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, target, calls)
}

#[tokio::test]
async fn a_receiver_that_fails_twice_ends_its_session_once_after_retries() {
    use idp::oidc::logout::backchannel::{deliver_due, http_client};
    use idp::outbox::backoff;
    let app = TestApp::spawn().await;
    let (proxy, target, calls) = flaky_proxy().await;
    let library = start_service(&app, "Médiathèque", "127.0.0.1", |_| {}).await;
    let canteen = start_service(&app, "Cantine scolaire", "localhost", |new| {
        new.extra.backchannel_logout_uri = Some(proxy.clone())
    })
    .await;
    *target.lock().unwrap() = format!("{}/backchannel-logout", canteen.base);
    let mut browser = Browser::new(&app);
    browser.sign_up("Camille", "Martin", None).await;
    log_in(&mut browser, &app, &library).await;
    log_in(&mut browser, &app, &canteen).await;

    let response = browser.client.post(format!("{}/logout", library.base)).send().await.unwrap();
    follow(&browser, response.headers()["location"].to_str().unwrap().to_owned()).await;

    let http = http_client(&app.state.config).unwrap();
    deliver_due(&app.state, &http, "r").await.unwrap();
    assert_eq!(canteen.rp.open_sessions().len(), 1, "first attempt failed");
    app.clock.advance(backoff(1));
    deliver_due(&app.state, &http, "r").await.unwrap();
    assert_eq!(canteen.rp.open_sessions().len(), 1, "second attempt failed");
    app.clock.advance(backoff(2));
    deliver_due(&app.state, &http, "r").await.unwrap();
    assert!(canteen.rp.open_sessions().is_empty(), "the third attempt ended the session");
    app.clock.advance(3_600);
    deliver_due(&app.state, &http, "r").await.unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3, "delivered once, never again");
}
