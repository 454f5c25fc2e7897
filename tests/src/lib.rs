//! Helpers shared by the end-to-end tests in `tests/`: the relying-party
//! example started in-process against a test provider, and a redirect
//! follower across both servers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use idp::clients::NewClient;
use idp::testing::TestApp;
use idp::testing::browser::Browser;
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, RedirectUrl};
use relying_party_example::{Rp, Settings};

/// A running relying-party example.
pub struct Service {
    pub rp: Rp,
    /// e.g. `http://127.0.0.1:PORT` or `http://localhost:PORT`.
    pub base: String,
    pub client_id: String,
}

/// Registers a client for a service on `host` (its pairwise sector) and
/// starts the example on a free port.
pub async fn start_service(app: &TestApp, name: &str, host: &str, extra: impl FnOnce(&mut NewClient)) -> Service {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{host}:{}", listener.local_addr().unwrap().port());
    let mut new = NewClient {
        client_name: name.into(),
        redirect_uris: vec![format!("{base}/callback")],
        post_logout_redirect_uris: vec![format!("{base}/")],
        scope: Some("openid profile email offline_access".into()),
        ..NewClient::default()
    };
    new.extra.backchannel_logout_uri = Some(format!("{base}/backchannel-logout"));
    extra(&mut new);
    let registered = app.register_client(new).await;
    let settings = Settings {
        issuer: app.issuer.clone(),
        client_id: registered.client.client_id.clone(),
        client_secret: registered.client_secret.clone(),
        base_url: base.clone(),
        scopes: vec!["profile".into()],
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", app.addr)
        .build()
        .unwrap();
    let clock = app.clock.clone();
    let rp = Rp::discover(settings, http, Arc::new(move || clock.now())).await.expect("discovery");
    let router = rp.clone().router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Service { rp, base, client_id: registered.client.client_id }
}

fn origin_of(url: &str) -> String {
    url.split('/').take(3).collect::<Vec<_>>().join("/")
}

/// Follows redirects (and pages that navigate on at once, as after a
/// consent) by hand with the browser's cookies; returns the final URL and body.
pub async fn follow(browser: &Browser, mut url: String) -> (String, String) {
    for _ in 0..12 {
        let response = browser.client.get(&url).send().await.unwrap();
        let next = match response.headers().get("location") {
            Some(location) => location.to_str().unwrap().to_owned(),
            None => {
                let page = response.text().await.unwrap();
                match idp::testing::browser::refresh_target(&page) {
                    Some(target) => target,
                    None => return (url, page),
                }
            }
        };
        url = if next.starts_with('/') { format!("{}{next}", origin_of(&url)) } else { next };
    }
    panic!("too many redirects");
}

/// Logs in to `service` through the provider, allowing consent if asked.
/// Returns the service's home page once signed in.
pub async fn log_in(browser: &mut Browser, app: &TestApp, service: &Service) -> String {
    let (at, page) = follow(browser, format!("{}/login", service.base)).await;
    if let Some(consent) = at.strip_prefix(&app.issuer).filter(|p| p.starts_with("/authorize/consent/")) {
        let consent = consent.to_owned();
        let allowed = browser.post_form(&consent, &[("decision", "allow")]).await;
        let resume = allowed.headers()["location"].to_str().unwrap().to_owned();
        let (at, page) = follow(browser, format!("{}{resume}", app.issuer)).await;
        assert_eq!(at, format!("{}/", service.base), "{page}");
        return page;
    }
    assert_eq!(at, format!("{}/", service.base), "{page}");
    page
}

/// A client of the `openidconnect` crate, configured from discovery.
pub type OidcClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// The relying party's side for the `openidconnect` crate: its HTTP client
/// (no redirects followed, as the crate requires; `localhost` → the test
/// provider) and a client for `registered`, configured from discovery.
pub async fn oidc_client(
    app: &TestApp,
    registered: &idp::clients::Registered,
    redirect: &str,
) -> (OidcClient, reqwest::Client) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", app.addr)
        .build()
        .unwrap();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.client.client_id.clone()),
        Some(ClientSecret::new(registered.client_secret.clone().unwrap())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.into()).unwrap());
    (client, http)
}
