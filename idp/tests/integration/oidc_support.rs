//! Helpers for protocol tests: a registered client, PKCE, one authorization.

use base64::Engine as _;
use idp::clients::{NewClient, Registered};
use idp::testing::TestApp;

pub const REDIRECT: &str = "https://mairie.example.fr/callback";

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = b64(&idp::testing::random_bytes::<32>());
    let challenge = b64(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
    (verifier, challenge)
}

pub fn header_of(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Verifies a JWT against the provider's published keys.
pub fn verified(app: &TestApp, jwt: &str) -> serde_json::Value {
    let kid = header_of(jwt)["kid"].as_str().unwrap().to_owned();
    let jwk = app.state.keys.published_jwk(&kid).expect("signed by a published key");
    idp::keys::verify(jwt, &jwk).expect("signature verifies").1
}

pub async fn confidential(app: &TestApp) -> Registered {
    app.register_client(NewClient {
        client_name: "Mairie de Test".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid profile email offline_access".into()),
        ..NewClient::default()
    })
    .await
}

/// One browser (session cookie) and one client, ready to authorize.
pub struct Flow {
    pub client: Registered,
    pub cookie: String,
    pub citizen_id: String,
    pub verifier: String,
    pub challenge: String,
}

impl Flow {
    /// A signed-in citizen who already consented to a confidential client.
    pub async fn new(app: &TestApp) -> Self {
        let client = confidential(app).await;
        Self::for_client(app, client).await
    }

    pub async fn for_client(app: &TestApp, client: Registered) -> Self {
        let citizen_id = uuid::Uuid::new_v4().to_string();
        let cookie = app.session_cookie(&app.citizen_session(&citizen_id)).await;
        app.state
            .db
            .save_consent(&citizen_id, &client.client.client_id, "openid profile email offline_access", app.clock.now())
            .await
            .unwrap();
        let (verifier, challenge) = pkce();
        Self { client, cookie, citizen_id, verifier, challenge }
    }

    pub fn client_id(&self) -> &str {
        &self.client.client.client_id
    }

    pub fn secret(&self) -> &str {
        self.client.client_secret.as_deref().unwrap()
    }

    /// The standard parameters, with `extra` added or overriding (empty value removes).
    pub fn params(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), self.client_id().into()),
            ("redirect_uri".into(), REDIRECT.into()),
            ("scope".into(), "openid profile".into()),
            ("state".into(), "st-123".into()),
            ("nonce".into(), "n-456".into()),
            ("code_challenge".into(), self.challenge.clone()),
            ("code_challenge_method".into(), "S256".into()),
        ];
        for (name, value) in extra {
            params.retain(|(n, _)| n != name);
            if !value.is_empty() {
                params.push(((*name).into(), (*value).into()));
            }
        }
        params
    }

    /// GET /authorize with this browser's cookie; returns status and Location.
    pub async fn authorize(&self, app: &TestApp, extra: &[(&str, &str)]) -> (u16, String) {
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(self.params(extra)).finish();
        let response = app
            .client
            .get(app.url(&format!("/authorize?{query}")))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
        (response.status().as_u16(), location)
    }

    /// GET with this browser's cookie; returns status, Location and body.
    async fn get(&self, app: &TestApp, path: &str) -> (u16, String, String) {
        let response = app.client.get(app.url(path)).header("cookie", &self.cookie).send().await.unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
        (response.status().as_u16(), location, response.text().await.unwrap())
    }

    /// Authorizes, approving on the real consent page when it is shown (as
    /// it always is for offline_access), and returns the final redirect.
    pub async fn authorize_consenting(&self, app: &TestApp, extra: &[(&str, &str)]) -> (u16, String) {
        let (status, location) = self.authorize(app, extra).await;
        if !location.starts_with("/authorize/consent/") {
            return (status, location);
        }
        let (status, _, page) = self.get(app, &location).await;
        assert_eq!(status, 200, "{page}");
        let csrf = idp::testing::browser::meta_csrf(&page).expect("the consent page carries a CSRF token");
        let allowed = app
            .client
            .post(app.url(&location))
            .header("cookie", &self.cookie)
            .form(&[("decision", "allow"), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 303);
        let resume = allowed.headers()["location"].to_str().unwrap().to_owned();
        let (status, location, page) = self.get(app, &resume).await;
        // After the consent form, the answer is a page that navigates to the
        // service at once: for the caller, the same as a 303 there.
        match idp::testing::browser::refresh_target(&page) {
            Some(target) if status == 200 => (303, target),
            _ => (status, location),
        }
    }

    /// Authorizes (consenting if asked) and returns the code from the redirect.
    pub async fn code(&self, app: &TestApp) -> String {
        let (status, location) = self.authorize_consenting(app, &[]).await;
        assert_eq!(status, 303, "{location}");
        let response = query_of(&location);
        assert_eq!(response.get("state").map(String::as_str), Some("st-123"), "{location}");
        assert_eq!(response.get("iss").map(String::as_str), Some(app.issuer.as_str()), "{location}");
        response.get("code").cloned().unwrap_or_else(|| panic!("no code: {location}"))
    }

    /// POST /token with client_secret_basic.
    pub async fn token(&self, app: &TestApp, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let response = app
            .client
            .post(app.url("/token"))
            .basic_auth(self.client_id(), Some(self.secret()))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert_eq!(response.headers()["cache-control"], "no-store");
        (status, response.json().await.unwrap())
    }

    pub async fn redeem(&self, app: &TestApp, code: &str) -> (u16, serde_json::Value) {
        self.token(
            app,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &self.verifier),
            ],
        )
        .await
    }

    /// Code flow to tokens, with `extra` authorization parameters.
    pub async fn tokens_with(&self, app: &TestApp, extra: &[(&str, &str)]) -> serde_json::Value {
        let (status, location) = self.authorize_consenting(app, extra).await;
        assert_eq!(status, 303, "{location}");
        let code = query_of(&location).get("code").cloned().unwrap_or_else(|| panic!("no code: {location}"));
        let (status, body) = self.redeem(app, &code).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Code flow to tokens.
    pub async fn tokens(&self, app: &TestApp) -> serde_json::Value {
        let code = self.code(app).await;
        let (status, body) = self.redeem(app, &code).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

pub fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// A successful UserInfo answer (200, with a `sub`): a claim missing from it
/// is missing for a reason, not because the call failed.
pub async fn userinfo_ok(app: &TestApp, access_token: &str) -> serde_json::Value {
    let response = userinfo(app, access_token).await;
    assert_eq!(response.status(), 200);
    let info: serde_json::Value = response.json().await.unwrap();
    assert!(info["sub"].is_string(), "{info}");
    info
}

pub async fn userinfo(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.client.get(app.url("/userinfo")).bearer_auth(access_token).send().await.unwrap()
}
