//! Logout: RP-initiated (end_session_endpoint), and the back-channel outbox.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use idp::clients::NewClient;
use idp::endings::notify::{self, Notice};
use idp::oidc::logout::backchannel::{self, deliver_due};
use idp::outbox::{MAX_ATTEMPTS, backoff};
use idp::testing::TestApp;

use crate::oidc_support::*;

const BYE: &str = "https://mairie.example.fr/bye";

async fn flow_with_logout_uri(app: &TestApp) -> Flow {
    let client = app
        .register_client(NewClient {
            client_name: "Mairie".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec![BYE.into()],
            scope: Some("openid profile email offline_access".into()),
            ..NewClient::default()
        })
        .await;
    Flow::for_client(app, client).await
}

/// A service registered with a back-channel logout receiver.
pub(crate) async fn listening_client(app: &TestApp, scope: &str) -> idp::clients::Registered {
    let mut new = NewClient {
        client_name: "Mairie".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some(scope.into()),
        ..NewClient::default()
    };
    new.extra.backchannel_logout_uri = Some("https://mairie.example.fr/backchannel".into());
    app.register_client(new).await
}

async fn logout(app: &TestApp, cookie: &str, query: &[(&str, &str)]) -> reqwest::Response {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    app.client.get(app.url(&format!("/logout?{query}"))).header("cookie", cookie).send().await.unwrap()
}

/// Whether the browser still has a provider session: a silent authorization
/// gives a code, or exactly `login_required` back at the service (anything
/// else fails the test rather than reading as "signed out").
async fn signed_in(app: &TestApp, flow: &Flow) -> bool {
    let (_, location) = flow.authorize(app, &[("prompt", "none")]).await;
    assert!(location.starts_with(REDIRECT), "{location}");
    let answer = query_of(&location);
    if answer.contains_key("code") {
        return true;
    }
    assert_eq!(answer.get("error").map(String::as_str), Some("login_required"), "{location}");
    false
}

#[tokio::test]
async fn rp_initiated_logout_with_a_matching_hint_returns_to_the_service() {
    let app = TestApp::spawn().await;
    let flow = flow_with_logout_uri(&app).await;
    let hint = flow.tokens(&app).await["id_token"].as_str().unwrap().to_owned();
    assert!(signed_in(&app, &flow).await);
    let response =
        logout(&app, &flow.cookie, &[("id_token_hint", &hint), ("post_logout_redirect_uri", BYE), ("state", "s 1")])
            .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], format!("{BYE}?state=s+1"));
    assert!(!signed_in(&app, &flow).await, "the provider session ended");
}

#[tokio::test]
async fn an_unregistered_post_logout_uri_is_never_followed() {
    let app = TestApp::spawn().await;
    let flow = flow_with_logout_uri(&app).await;
    let hint = flow.tokens(&app).await["id_token"].as_str().unwrap().to_owned();
    for evil in ["https://evil.example/", "https://mairie.example.fr/bye/extra", "https://mairie.example.fr/by"] {
        let response =
            logout(&app, &flow.cookie, &[("id_token_hint", &hint), ("post_logout_redirect_uri", evil)]).await;
        assert_eq!(response.status(), 200, "{evil}");
        assert!(response.headers().get("location").is_none());
        let page = response.text().await.unwrap();
        assert!(!page.contains("evil.example") && !page.contains("/bye/extra"), "{page}");
    }
    // A forged hint is refused outright.
    let response = logout(&app, &flow.cookie, &[("id_token_hint", "e30.e30.sig")]).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn without_a_hint_the_citizen_confirms_on_a_page() {
    let app = TestApp::spawn().await;
    let flow = flow_with_logout_uri(&app).await;
    flow.tokens(&app).await;
    let response =
        logout(&app, &flow.cookie, &[("client_id", flow.client_id()), ("post_logout_redirect_uri", BYE)]).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"action="/logout/confirm""#) && page.contains("Mairie"), "{page}");
    assert!(signed_in(&app, &flow).await, "nothing happens before the citizen confirms");

    let csrf = page.split(r#"name="csrf" value=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
    let forged = app
        .client
        .post(app.url("/logout/confirm"))
        .header("cookie", &flow.cookie)
        .form(&[("client_id", flow.client_id())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "no CSRF token");
    let confirmed = app
        .client
        .post(app.url("/logout/confirm"))
        .header("cookie", &flow.cookie)
        .form(&[("csrf", csrf.as_str()), ("client_id", flow.client_id()), ("post_logout_redirect_uri", BYE)])
        .send()
        .await
        .unwrap();
    // A page that navigates back, beyond the confirmation form's form-action.
    assert_eq!(confirmed.status(), 200);
    let page = confirmed.text().await.unwrap();
    assert_eq!(idp::testing::browser::refresh_target(&page).as_deref(), Some(BYE), "{page}");
    assert!(!signed_in(&app, &flow).await);
}

/// A receiver that fails `failures` times, then accepts; records tokens.
async fn receiver(failures: usize) -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (h, t) = (Arc::clone(&hits), Arc::clone(&tokens));
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (h, t) = (Arc::clone(&h), Arc::clone(&t));
            async move {
                let n = h.fetch_add(1, Ordering::SeqCst);
                let form: std::collections::HashMap<String, String> =
                    url::form_urlencoded::parse(&body).into_owned().collect();
                t.lock().unwrap().push(form.get("logout_token").cloned().unwrap_or_default());
                if n < failures { axum::http::StatusCode::INTERNAL_SERVER_ERROR } else { axum::http::StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}/backchannel", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits, tokens)
}

async fn queue_one(app: &TestApp, flow: &Flow, uri: &str) {
    let client = idp::clients::find(&app.state.db, flow.client_id()).await.unwrap().unwrap();
    let notice = Notice { client: &client, uri, citizen_id: &flow.citizen_id, sid: "sid-1" };
    assert_eq!(notify::enqueue(&app.state, "logout", &[notice]).await.unwrap(), 1);
}

#[tokio::test]
async fn back_channel_logout_is_retried_with_backoff_and_delivered_once() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let (uri, hits, tokens) = receiver(2).await;
    queue_one(&app, &flow, &uri).await;
    let http = backchannel::http_client(&app.state.config).unwrap();

    assert_eq!(deliver_due(&app.state, &http, "replica-a").await.unwrap(), 1);
    assert_eq!(deliver_due(&app.state, &http, "replica-a").await.unwrap(), 0, "not due before its backoff");
    app.clock.advance(backoff(1));
    assert_eq!(deliver_due(&app.state, &http, "replica-b").await.unwrap(), 1, "any replica may retry");
    app.clock.advance(backoff(2));
    deliver_due(&app.state, &http, "replica-a").await.unwrap();
    app.clock.advance(3_600);
    assert_eq!(deliver_due(&app.state, &http, "replica-a").await.unwrap(), 0, "delivered: never again");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    let rows = app.state.db.logout_deliveries_for(flow.client_id()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].delivered_at.is_some() && rows[0].attempts == 3, "{rows:?}");
    assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 500"));
    let events = app.state.db.admin_events(None, 50).await.unwrap();
    let outcome = events.iter().find(|e| e.action == "logout.delivered").expect("outcome recorded");
    assert_eq!(outcome.target, flow.client_id());
    assert!(outcome.detail.contains(r#""attempts":3"#), "{}", outcome.detail);

    // The token: signed, typed, with the event, a sid and no nonce; same jti on every retry.
    let received = tokens.lock().unwrap().clone();
    let jtis: Vec<serde_json::Value> = received.iter().map(|t| verified(&app, t)["jti"].clone()).collect();
    assert!(jtis.windows(2).all(|w| w[0] == w[1]), "the same jti on every retry");
    let iats: Vec<i64> = received.iter().map(|t| verified(&app, t)["iat"].as_i64().unwrap()).collect();
    assert!(iats.windows(2).all(|w| w[0] < w[1]), "signed afresh for each attempt: {iats:?}");
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(received[0].split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "logout+jwt");
    let claims = verified(&app, &received[0]);
    assert_eq!(claims["aud"], flow.client_id());
    assert_eq!(claims["sid"], "sid-1");
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
}

#[tokio::test]
async fn an_unreachable_receiver_is_given_up_after_the_last_attempt() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    queue_one(&app, &flow, &format!("http://127.0.0.1:{port}/bc")).await;
    let http = backchannel::http_client(&app.state.config).unwrap();
    for attempt in 1..=MAX_ATTEMPTS {
        assert_eq!(deliver_due(&app.state, &http, "r").await.unwrap(), 1, "attempt {attempt}");
        app.clock.advance(backoff(attempt));
    }
    app.clock.advance(86_400);
    assert_eq!(deliver_due(&app.state, &http, "r").await.unwrap(), 0, "never retried forever");
    let rows = app.state.db.logout_deliveries_for(flow.client_id()).await.unwrap();
    assert!(rows[0].gave_up_at.is_some() && rows[0].delivered_at.is_none());
    let events = app.state.db.admin_events(None, 50).await.unwrap();
    assert!(events.iter().any(|e| e.action == "logout.given_up" && e.target == flow.client_id()), "{events:?}");
    assert_eq!(rows[0].attempts, MAX_ATTEMPTS);
}

#[tokio::test]
async fn a_queued_logout_survives_a_provider_restart() {
    let mut first = TestApp::spawn().await;
    let flow = Flow::new(&first).await;
    let (uri, hits, _) = receiver(0).await;
    queue_one(&first, &flow, &uri).await;
    first.shutdown().await;

    let idp::config::MasterKeySource::Given(key) = first.state.config.master_key.clone() else { unreachable!() };
    let url = first.db.url.clone();
    let second = TestApp::spawn_with(|env| {
        env.insert("SESAME_DATABASE_URL".into(), url);
        env.insert("SESAME_MASTER_KEY".into(), base64::engine::general_purpose::STANDARD.encode(key));
    })
    .await;
    second.clock.set(first.clock.now());
    assert_eq!(
        deliver_due(&second.state, &backchannel::http_client(&second.state.config).unwrap(), "after-restart")
            .await
            .unwrap(),
        1
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn logout_ends_the_tokens_of_the_login_but_not_offline_access() {
    let app = TestApp::spawn().await;
    let flow = flow_with_logout_uri(&app).await;
    let online = flow.authorize(&app, &[("scope", "openid profile")]).await.1;
    let (_, online) = flow.redeem(&app, &query_of(&online)["code"]).await;
    let offline = flow.tokens_with(&app, &[("scope", "openid profile offline_access")]).await;
    let pending_code = query_of(&flow.authorize(&app, &[]).await.1)["code"].clone();
    let hint = offline["id_token"].as_str().unwrap();

    let response = logout(&app, &flow.cookie, &[("id_token_hint", hint)]).await;
    assert_eq!(response.status(), 200);

    assert_eq!(userinfo(&app, online["access_token"].as_str().unwrap()).await.status(), 401);
    let (status, body) = flow
        .token(&app, &[("grant_type", "refresh_token"), ("refresh_token", online["refresh_token"].as_str().unwrap())])
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "online refresh ends with the login");
    let (status, body) = flow.redeem(&app, &pending_code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "a code of the ended login");
    let (status, _) = flow
        .token(&app, &[("grant_type", "refresh_token"), ("refresh_token", offline["refresh_token"].as_str().unwrap())])
        .await;
    assert_eq!(status, 200, "offline_access outlives the login");
}

#[tokio::test]
async fn front_channel_logout_loads_each_services_page_with_iss_and_sid() {
    let app = TestApp::spawn().await;
    let mut new = NewClient {
        client_name: "Mairie".into(),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![BYE.into()],
        scope: Some("openid profile email offline_access".into()),
        ..NewClient::default()
    };
    new.extra.frontchannel_logout_uri = Some("https://mairie.example.fr/frontchannel?x=1".into());
    let flow = Flow::for_client(&app, app.register_client(new).await).await;
    let tokens = flow.tokens(&app).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let sid = verified(&app, id_token)["sid"].as_str().unwrap().to_owned();
    let response = logout(&app, &flow.cookie, &[("id_token_hint", id_token), ("post_logout_redirect_uri", BYE)]).await;
    assert_eq!(response.status(), 200, "a page, so the iframes load before going back");
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-src https://mairie.example.fr"), "{csp}");
    let page = response.text().await.unwrap();
    let issuer: String = url::form_urlencoded::byte_serialize(app.issuer.as_bytes()).collect();
    let expected = format!("https://mairie.example.fr/frontchannel?x=1&amp;iss={issuer}&amp;sid={sid}");
    assert!(page.contains(&format!(r#"<iframe src="{expected}""#)), "{page}");
    assert!(page.contains(&format!(r#"href="{BYE}""#)), "a link back to the service: {page}");
}

#[tokio::test]
async fn signing_out_other_sessions_tells_their_services() {
    let app = TestApp::spawn().await;
    let flow = Flow::for_client(&app, listening_client(&app, "openid profile email offline_access").await).await;
    let online = flow.authorize(&app, &[("scope", "openid profile")]).await.1;
    let (_, tokens) = flow.redeem(&app, &query_of(&online)["code"]).await;

    // The same citizen on another device signs the first one out.
    let other = app.session_cookie(&app.citizen_session(&flow.citizen_id)).await;
    let page = app.client.get(app.url("/account")).header("cookie", &other).send().await.unwrap().text().await.unwrap();
    let csrf = idp::testing::browser::meta_csrf(&page).expect("the account page carries a CSRF token");
    let response = app
        .client
        .post(app.url("/account/sessions/revoke-others"))
        .header("cookie", &other)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let queued = app.state.db.logout_deliveries_for(flow.client_id()).await.unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].reason, "session_revoked");
    assert_eq!(userinfo(&app, tokens["access_token"].as_str().unwrap()).await.status(), 401, "its tokens ended");
    assert!(!signed_in(&app, &flow).await);
}

/// Signing in again in the same browser (`prompt=login`, `max_age`, a
/// step-up, another citizen on a shared computer) ends the previous login
/// like a sign-out: its services are told, its tokens die.
#[tokio::test]
async fn signing_in_again_ends_the_previous_login_for_its_services() {
    let app = TestApp::spawn().await;
    let client = listening_client(&app, "openid profile").await;
    let mut browser = idp::testing::browser::Browser::new(&app);
    let signed_up = browser.sign_up("Jeanne", "Martin", None).await;
    let identifier = idp::citizen::CitizenIdentifier::parse(&signed_up.identifier).unwrap();
    let citizen_id = app.state.db.citizen_by_identifier(identifier.as_str()).await.unwrap().unwrap().id;
    app.state.db.save_consent(&citizen_id, &client.client.client_id, "openid profile", app.clock.now()).await.unwrap();
    let (verifier, challenge) = pkce();
    let flow = Flow { client, cookie: String::new(), citizen_id, verifier, challenge };

    // A login at the service, from the browser's own sign-in.
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(&[])).finish();
    let location = browser.get_location(&format!("/authorize?{query}")).await.expect("a redirect");
    let code = query_of(&location).remove("code").unwrap_or_else(|| panic!("no code: {location}"));
    let (status, tokens) = flow.redeem(&app, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let sid = verified(&app, tokens["id_token"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access_token).await.status(), 200);
    assert!(app.state.db.logout_deliveries_for(flow.client_id()).await.unwrap().is_empty());

    app.clock.advance(60);
    assert_eq!(browser.sign_in().await, "/account");

    let queued = app.state.db.logout_deliveries_for(flow.client_id()).await.unwrap();
    assert_eq!(queued.len(), 1, "the service of the replaced login is told: {queued:?}");
    assert_eq!(queued[0].reason, "replaced");
    assert_eq!(verified(&app, &queued[0].logout_token)["sid"], sid.as_str(), "for the login that ended");
    assert_eq!(userinfo(&app, access_token).await.status(), 401, "its tokens ended");
    if let Some(refresh) = tokens["refresh_token"].as_str() {
        let (status, body) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    }
    // The new login is live, under another sid.
    let logins = app.state.db.login_sessions_of(&flow.citizen_id, app.clock.now()).await.unwrap();
    assert_eq!(logins.len(), 1, "{logins:?}");
    assert_ne!(logins[0].sid, sid);
}
