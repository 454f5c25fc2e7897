//! POSTs to `/authorize` and `/logout` from another site: the browser does
//! not send the `SameSite=Lax` session cookie with them. The provider asks
//! again as a top-level GET (which carries it) and never sets a session
//! cookie in answer to a request that carried none.

use idp::clients::NewClient;
use idp::testing::TestApp;

use crate::oidc_support::*;

const BYE: &str = "https://mairie.example.fr/bye";

/// POST `form` to `path` as another site's page would: no cookie.
async fn cross_site_post(app: &TestApp, path: &str, form: &[(String, String)]) -> reqwest::Response {
    app.client.post(app.url(path)).header("sec-fetch-site", "cross-site").form(form).send().await.unwrap()
}

#[tokio::test]
async fn a_cross_site_post_to_authorize_reaches_the_session_and_never_replaces_its_cookie() {
    let app = TestApp::spawn().await;
    let flow = Flow::new(&app).await;
    let response = cross_site_post(&app, "/authorize", &flow.params(&[])).await;
    assert_eq!(response.status(), 303);
    assert!(response.headers().get("set-cookie").is_none(), "no fresh session over the citizen's");
    let again = response.headers()["location"].to_str().unwrap().to_owned();
    let (path, _) = again.split_once('?').unwrap();
    assert_eq!(path, "/authorize");
    let sent: std::collections::HashMap<String, String> = flow.params(&[]).into_iter().collect();
    assert_eq!(query_of(&again), sent, "the same request, as a GET");

    // The browser follows with a top-level GET, which carries the cookie: the signed-in citizen gets a code.
    let response = app.client.get(app.url(&again)).header("cookie", &flow.cookie).send().await.unwrap();
    let location = response.headers()["location"].to_str().unwrap();
    assert!(query_of(location).contains_key("code"), "{location}");
    // The same POST with the cookie (same site) is answered at once.
    let response = app
        .client
        .post(app.url("/authorize"))
        .header("cookie", &flow.cookie)
        .form(&flow.params(&[]))
        .send()
        .await
        .unwrap();
    assert!(query_of(response.headers()["location"].to_str().unwrap()).contains_key("code"));
}

#[tokio::test]
async fn a_cross_site_post_to_logout_reaches_the_session() {
    let app = TestApp::spawn().await;
    let client = app
        .register_client(NewClient {
            client_name: "Mairie".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec![BYE.into()],
            ..NewClient::default()
        })
        .await;
    let flow = Flow::for_client(&app, client).await;
    let hint = flow.tokens(&app).await["id_token"].as_str().unwrap().to_owned();
    let form: Vec<(String, String)> =
        [("id_token_hint", hint.as_str()), ("post_logout_redirect_uri", BYE), ("state", "s1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    let response = cross_site_post(&app, "/logout", &form).await;
    assert_eq!(response.status(), 303);
    assert!(response.headers().get("set-cookie").is_none());
    let again = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(again.starts_with("/logout?"), "not a redirect to the service while the login lives on: {again}");
    let (_, location) = flow.authorize(&app, &[("prompt", "none")]).await;
    assert!(query_of(&location).contains_key("code"), "still signed in: {location}");

    // The top-level GET carries the cookie: the hint names the signed-in citizen, the login ends.
    let response = app.client.get(app.url(&again)).header("cookie", &flow.cookie).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], format!("{BYE}?state=s1"));
    let (_, location) = flow.authorize(&app, &[("prompt", "none")]).await;
    assert_eq!(query_of(&location)["error"], "login_required", "{location}");
}
