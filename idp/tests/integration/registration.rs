//! Dynamic client registration (RFC 7591) and management (RFC 7592) over
//! HTTP: the happy path, every validation rule, token scoping, secret
//! rotation, concurrency, and a login with a client registered this way.

use idp::clients::{self, Actor, Registered};
use idp::testing::TestApp;
use serde_json::{Value, json};

use crate::oidc_support::*;

/// A registration request for a confidential web service.
fn metadata() -> Value {
    json!({
        "client_name": "Portail famille",
        "client_name#fr": "Portail famille",
        "client_name#en": "Family portal",
        "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": ["https://mairie.example.fr/bye"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile offline_access",
        "logo_uri": "https://mairie.example.fr/logo.png",
        "policy_uri": "https://mairie.example.fr/privacy",
        "tos_uri": "https://mairie.example.fr/tos",
        "contacts": ["dev@mairie.example.fr"],
        "default_acr_values": ["eidas1"],
        "default_max_age": 3600,
        "require_auth_time": true,
        "backchannel_logout_uri": "https://mairie.example.fr/logout/back",
        "backchannel_logout_session_required": true,
        "frontchannel_logout_uri": "https://mairie.example.fr/logout/front",
        "frontchannel_logout_session_required": false,
        "software_id": "unknown metadata is ignored"
    })
}

pub async fn iat(app: &TestApp) -> String {
    let org = app.organisation().await;
    app.initial_access_token(&org.organisation_id, 3_600, false).await
}

pub async fn post_register(app: &TestApp, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = app.client.post(app.url("/register")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn register_ok(app: &TestApp, token: &str, body: &Value) -> Value {
    let (status, body) = post_register(app, Some(token), body).await;
    assert_eq!(status, 201, "{body}");
    body
}

pub async fn client_count(app: &TestApp) -> usize {
    clients::list(&app.state.db, None).await.unwrap().len()
}

pub async fn manage(
    app: &TestApp,
    method: reqwest::Method,
    uri: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, uri).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn discovery_names_the_registration_endpoint() {
    let app = TestApp::spawn().await;
    let discovery: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(discovery["registration_endpoint"], app.url("/register"));
}

#[tokio::test]
async fn register_read_update_delete() {
    let app = TestApp::spawn().await;
    let token = iat(&app).await;
    let body = register_ok(&app, &token, &metadata()).await;
    let client_id = body["client_id"].as_str().unwrap().to_owned();
    assert_eq!(body["client_secret"].as_str().unwrap().len(), 43, "256-bit secret");
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(body["client_id_issued_at"], idp::testing::T0);
    let rat = body["registration_access_token"].as_str().unwrap().to_owned();
    assert_eq!(rat.len(), 43);
    let uri = body["registration_client_uri"].as_str().unwrap().to_owned();
    assert_eq!(uri, app.url(&format!("/register/{client_id}")));
    // OIDC Registration §2: RS256 when the registrant names no algorithm.
    assert_eq!(body["id_token_signed_response_alg"], "RS256");
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["subject_type"], "pairwise");
    assert_eq!(body["organisation_id"], app.organisation().await.organisation_id.as_str());
    for field in [
        "client_name#fr",
        "client_name#en",
        "redirect_uris",
        "post_logout_redirect_uris",
        "grant_types",
        "scope",
        "logo_uri",
        "policy_uri",
        "tos_uri",
        "contacts",
        "default_acr_values",
        "default_max_age",
        "require_auth_time",
        "backchannel_logout_uri",
        "backchannel_logout_session_required",
        "frontchannel_logout_uri",
        "frontchannel_logout_session_required",
    ] {
        assert_eq!(body[field], metadata()[field], "{field}");
    }
    assert!(body.get("software_id").is_none(), "unknown metadata is ignored");
    for internal in ["sector", "version", "skip_consent", "secret_overlap"] {
        assert!(body.get(internal).is_none(), "{internal}");
    }
    let stored = clients::find(&app.state.db, &client_id).await.unwrap().unwrap();
    assert_ne!(stored.secret_hash.as_deref(), body["client_secret"].as_str(), "stored hashed");

    // Read (RFC 7592 §2.1).
    let (status, read) = manage(&app, reqwest::Method::GET, &uri, &rat, None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["client_name#en"], "Family portal");
    assert!(read.get("client_secret").is_none(), "the secret is shown once");
    assert_eq!(read["registration_access_token"], rat.as_str());

    // Update (RFC 7592 §2.2): the body replaces the metadata as a whole.
    let update = json!({
        "client_id": client_id,
        "client_name": "Portail famille v2",
        "redirect_uris": [REDIRECT, "https://mairie.example.fr/cb2"],
        "id_token_signed_response_alg": "ES256",
    });
    let (status, updated) = manage(&app, reqwest::Method::PUT, &uri, &rat, Some(&update)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["client_name"], "Portail famille v2");
    assert_eq!(updated["redirect_uris"].as_array().unwrap().len(), 2);
    assert_eq!(updated["id_token_signed_response_alg"], "ES256");
    assert!(updated.get("logo_uri").is_none(), "omitted fields are cleared");
    assert_eq!(updated["grant_types"], json!(["authorization_code"]), "omitted fields return to defaults");
    assert!(updated.get("client_secret").is_none(), "the secret is kept, not reissued");
    // Switching to a public client drops the secret; back to a secret method issues a new one.
    let public = json!({"client_id": client_id, "client_name": "P", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    let (status, switched) = manage(&app, reqwest::Method::PUT, &uri, &rat, Some(&public)).await;
    assert_eq!(status, 200, "{switched}");
    assert!(switched.get("client_secret").is_none() && switched.get("client_secret_expires_at").is_none());
    assert!(clients::find(&app.state.db, &client_id).await.unwrap().unwrap().secret_hash.is_none());
    let basic = json!({"client_id": client_id, "client_name": "P", "redirect_uris": [REDIRECT]});
    let (status, switched) = manage(&app, reqwest::Method::PUT, &uri, &rat, Some(&basic)).await;
    assert_eq!(status, 200, "{switched}");
    assert_eq!(switched["client_secret"].as_str().unwrap().len(), 43, "a new secret, shown once");
    // The client_id in the body must be this one.
    let (status, error) = manage(&app, reqwest::Method::PUT, &uri, &rat, Some(&json!({"client_id": "other"}))).await;
    assert_eq!((status, error["error"].as_str()), (400, Some("invalid_client_metadata")));

    // Delete (RFC 7592 §2.3), then the token manages nothing.
    let response = app.client.delete(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(clients::find(&app.state.db, &client_id).await.unwrap().is_none());
    let (status, _) = manage(&app, reqwest::Method::GET, &uri, &rat, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn every_validation_rule_names_the_field() {
    let app = TestApp::spawn().await;
    let token = iat(&app).await;
    let with = |patch: Value| {
        let mut body = metadata();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let long = format!("https://mairie.example.fr/{}", "a".repeat(2_100));
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"redirect_uris": ["http://mairie.example.fr/cb"]}), "invalid_redirect_uri", "must use https"),
        (json!({"redirect_uris": ["https://mairie.example.fr/cb#x"]}), "invalid_redirect_uri", "fragment"),
        (json!({"redirect_uris": ["https://*.example.fr/cb"]}), "invalid_redirect_uri", "wildcard"),
        (json!({"redirect_uris": ["/cb"]}), "invalid_redirect_uri", "absolute URL"),
        (json!({"redirect_uris": ["https://u:p@mairie.example.fr/cb"]}), "invalid_redirect_uri", "credentials"),
        (json!({"redirect_uris": [long]}), "invalid_redirect_uri", "longer than 2000"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri", "at least one"),
        (
            json!({"redirect_uris": "https://mairie.example.fr/cb"}),
            "invalid_client_metadata",
            "redirect_uris must be an array",
        ),
        (
            json!({"redirect_uris": ["https://a.example.fr/cb", "https://b.example.fr/cb"]}),
            "invalid_redirect_uri",
            "several hosts",
        ),
        (
            json!({"redirect_uris": (0..21).map(|i| format!("https://mairie.example.fr/{i}")).collect::<Vec<_>>()}),
            "invalid_client_metadata",
            "redirect_uris: at most 20",
        ),
        (
            json!({"post_logout_redirect_uris": ["http://mairie.example.fr/"]}),
            "invalid_client_metadata",
            "post_logout_redirect_uris",
        ),
        (json!({"client_name": ""}), "invalid_client_metadata", "client_name"),
        (json!({"client_name": 42}), "invalid_client_metadata", "client_name must be a string"),
        (json!({"client_name#fr": "x".repeat(201)}), "invalid_client_metadata", "client_name#fr"),
        (json!({"grant_types": ["implicit"]}), "invalid_client_metadata", "grant_types: \"implicit\""),
        (
            json!({"grant_types": ["refresh_token"], "response_types": []}),
            "invalid_client_metadata",
            "refresh_token needs authorization_code",
        ),
        (json!({"response_types": ["token"]}), "invalid_client_metadata", "response_types"),
        (
            json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
            "invalid_client_metadata",
            "disagree",
        ),
        (json!({"grant_types": ["authorization_code"], "response_types": []}), "invalid_client_metadata", "disagree"),
        (
            json!({"token_endpoint_auth_method": "client_secret_jwt"}),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
            "private_key_jwt needs jwks",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "EC", "d": "secret"}]}}),
            "invalid_client_metadata",
            "public keys only",
        ),
        (json!({"jwks": {"keys": [{"kty": "EC"}]}}), "invalid_client_metadata", "jwks is only used with"),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://mairie.example.fr/jwks"}),
            "invalid_client_metadata",
            "jwks_uri \"http://mairie.example.fr/jwks\" must use https",
        ),
        (
            json!({"token_endpoint_auth_method": "none", "grant_types": ["client_credentials"], "response_types": []}),
            "invalid_client_metadata",
            "client_credentials needs a confidential client",
        ),
        (json!({"scope": "openid admin"}), "invalid_client_metadata", "scope \"admin\""),
        (json!({"id_token_signed_response_alg": "HS256"}), "invalid_client_metadata", "id_token_signed_response_alg"),
        (json!({"id_token_signed_response_alg": "none"}), "invalid_client_metadata", "id_token_signed_response_alg"),
        (json!({"userinfo_signed_response_alg": "HS256"}), "invalid_client_metadata", "userinfo_signed_response_alg"),
        (json!({"subject_type": "anonymous"}), "invalid_client_metadata", "subject_type"),
        (json!({"logo_uri": "not a url"}), "invalid_client_metadata", "logo_uri"),
        (json!({"policy_uri": "http://mairie.example.fr/p"}), "invalid_client_metadata", "policy_uri"),
        (json!({"tos_uri": "ftp://mairie.example.fr/t"}), "invalid_client_metadata", "tos_uri"),
        (
            json!({"backchannel_logout_uri": "https://mairie.example.fr/b#f"}),
            "invalid_client_metadata",
            "backchannel_logout_uri",
        ),
        (json!({"frontchannel_logout_uri": "http://x.fr/"}), "invalid_client_metadata", "frontchannel_logout_uri"),
        (
            json!({"backchannel_logout_uri": null, "backchannel_logout_session_required": true}),
            "invalid_client_metadata",
            "needs a backchannel_logout_uri",
        ),
        (json!({"contacts": ["not-an-address"]}), "invalid_client_metadata", "contacts"),
        (json!({"default_acr_values": ["loa3"]}), "invalid_client_metadata", "default_acr_values"),
        (json!({"default_max_age": -1}), "invalid_client_metadata", "default_max_age"),
        (json!({"require_auth_time": "yes"}), "invalid_client_metadata", "require_auth_time must be true or false"),
        (
            json!({"sector_identifier_uri": "http://other.example.fr/sector.json"}),
            "invalid_client_metadata",
            "sector_identifier_uri \"http://other.example.fr/sector.json\" must use https",
        ),
    ];
    for (patch, error, words) in cases {
        let (status, body) = post_register(&app, Some(&token), &with(patch.clone())).await;
        assert_eq!(status, 400, "{patch}: {body}");
        assert_eq!(body["error"], error, "{patch}: {body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(words), "{patch}: {description:?} lacks {words:?}");
    }
    assert_eq!(client_count(&app).await, 0, "nothing was written");
    // The description is the validation's own text, as the CLI prints it.
    let (_, body) =
        post_register(&app, Some(&token), &with(json!({"redirect_uris": ["http://mairie.example.fr/cb"]}))).await;
    let cli_text = clients::check_redirect_uri("http://mairie.example.fr/cb").unwrap_err().to_string();
    assert_eq!(
        format!("{}: {}", body["error"].as_str().unwrap(), body["error_description"].as_str().unwrap()),
        cli_text
    );
    // Loopback http is fine for development.
    register_ok(
        &app,
        &token,
        &with(json!({"redirect_uris": ["http://127.0.0.1:3000/cb"], "post_logout_redirect_uris": null})),
    )
    .await;
}

#[tokio::test]
async fn bad_requests_get_the_right_status_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let token = iat(&app).await;
    // No token: 401 with a Bearer challenge.
    let (status, body) = post_register(&app, None, &metadata()).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));
    let response = app.client.post(app.url("/register")).json(&metadata()).send().await.unwrap();
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    // Wrong content type.
    let response = app
        .client
        .post(app.url("/register"))
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("client_name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response.json::<Value>().await.unwrap()["error_description"].as_str().unwrap().contains("application/json")
    );
    // Invalid JSON.
    let response = app
        .client
        .post(app.url("/register"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"client_name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client_metadata");
    // Oversized body.
    let mut big = metadata();
    big["padding"] = json!("x".repeat(70 * 1024));
    let response = app.client.post(app.url("/register")).bearer_auth(&token).json(&big).send().await.unwrap();
    assert_eq!(response.status(), 413);
    // A wrong method is 405.
    let response = app.client.get(app.url("/register")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(client_count(&app).await, 0);
}

#[tokio::test]
async fn initial_access_tokens_are_scoped_expiring_revocable_and_single_use() {
    let app = TestApp::spawn().await;
    let home = app.organisation().await;
    let other = app.organisation_with_code("31555").await;

    // The token decides the organisation, whatever the body says.
    let token = app.initial_access_token(&home.organisation_id, 600, false).await;
    let mut body = metadata();
    body["organisation_id"] = json!(other.organisation_id);
    let registered = register_ok(&app, &token, &body).await;
    assert_eq!(registered["organisation_id"], home.organisation_id.as_str());

    // Expired.
    app.clock.advance(601);
    let (status, error) = post_register(&app, Some(&token), &metadata()).await;
    assert_eq!(status, 401);
    assert!(error["error_description"].as_str().unwrap().contains("expired"), "{error}");

    // Revoked.
    let token = app.initial_access_token(&home.organisation_id, 600, false).await;
    let info = &clients::admin::tokens(&app.state.db, idp::store::TokenKind::InitialAccess, None).await.unwrap()[0];
    clients::admin::revoke_token(
        &app.state.db,
        idp::store::TokenKind::InitialAccess,
        &info.token_id,
        &Actor::cli(),
        app.clock.now(),
    )
    .await
    .unwrap();
    let (status, error) = post_register(&app, Some(&token), &metadata()).await;
    assert_eq!(status, 401);
    assert!(error["error_description"].as_str().unwrap().contains("revoked"), "{error}");

    // Unknown, and an admin token is not an initial access token.
    let admin = app.admin_token(None).await;
    for wrong in ["nope", admin.as_str()] {
        let (status, error) = post_register(&app, Some(wrong), &metadata()).await;
        assert_eq!((status, error["error"].as_str()), (401, Some("invalid_token")));
    }

    // Single use, even under concurrent registrations; a refused
    // registration does not spend it.
    let token = app.initial_access_token(&other.organisation_id, 600, true).await;
    let mut bad = metadata();
    bad["redirect_uris"] = json!(["http://x.fr/"]);
    assert_eq!(post_register(&app, Some(&token), &bad).await.0, 400);
    let before = client_count(&app).await;
    let request = metadata();
    let attempts: Vec<_> = (0..8).map(|_| post_register(&app, Some(&token), &request)).collect();
    let statuses: Vec<u16> = futures_join(attempts).await.into_iter().map(|(s, _)| s).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 401), "{statuses:?}");
    assert_eq!(client_count(&app).await, before + 1);
}

/// Drives futures together on this task (join_all without a dependency).
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, result) in pinned.iter_mut().zip(results.iter_mut()) {
            if result.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *result = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn a_registration_access_token_manages_only_its_client() {
    let app = TestApp::spawn().await;
    let token = iat(&app).await;
    let first = register_ok(&app, &token, &metadata()).await;
    let second = register_ok(&app, &token, &metadata()).await;
    let second_uri = second["registration_client_uri"].as_str().unwrap();
    let first_rat = first["registration_access_token"].as_str().unwrap();
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let (status, body) = manage(&app, method, second_uri, first_rat, None).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));
    }
    let (status, _) = manage(&app, reqwest::Method::GET, second_uri, &token, None).await;
    assert_eq!(status, 401, "the initial access token does not manage clients");
    let response = app.client.get(second_uri).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(client_count(&app).await, 2);
}

#[tokio::test]
async fn entitlements_cannot_be_self_assigned_and_survive_updates() {
    let app = TestApp::spawn().await;
    let token = iat(&app).await;
    for (patch, words) in [
        (json!({"subject_type": "public"}), "administrator"),
        (json!({"scope": "openid citizen_identifier"}), "administrator"),
        (json!({"skip_consent": true}), "administrator"),
    ] {
        let mut body = metadata();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, error) = post_register(&app, Some(&token), &body).await;
        assert_eq!((status, error["error"].as_str()), (400, Some("invalid_client_metadata")), "{patch}");
        assert!(error["error_description"].as_str().unwrap().contains(words), "{error}");
    }
    // An administrator entitles a registered client; the developer's
    // updates keep the entitlement.
    let registered = register_ok(&app, &token, &metadata()).await;
    let client_id = registered["client_id"].as_str().unwrap();
    clients::modify(&app.state.db, &app.state.fetcher, client_id, &Actor::cli(), app.clock.now(), |new| {
        new.public_subject = true;
        new.skip_consent = true;
    })
    .await
    .unwrap();
    let mut update = metadata();
    update["client_id"] = json!(client_id);
    update["subject_type"] = json!("public");
    let uri = registered["registration_client_uri"].as_str().unwrap();
    let rat = registered["registration_access_token"].as_str().unwrap();
    let (status, body) = manage(&app, reqwest::Method::PUT, uri, rat, Some(&update)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["subject_type"], "public");
    let stored = clients::find(&app.state.db, client_id).await.unwrap().unwrap();
    assert!(stored.skip_consent && stored.public_subject());
}

async fn client_credentials(app: &TestApp, client_id: &str, secret: &str) -> u16 {
    app.client
        .post(app.url("/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn secret_rotation_keeps_the_old_secret_for_the_overlap() {
    let app = TestApp::spawn().await;
    let token = iat(&app).await;
    let body = json!({
        "client_name": "Batch", "grant_types": ["client_credentials"], "response_types": [], "scope": "openid"
    });
    let registered = register_ok(&app, &token, &body).await;
    let client_id = registered["client_id"].as_str().unwrap();
    let old = registered["client_secret"].as_str().unwrap();
    assert_eq!(client_credentials(&app, client_id, old).await, 200);

    let (_, new) =
        clients::rotate_secret(&app.state.db, client_id, Some(3_600), &Actor::cli(), app.clock.now()).await.unwrap();
    assert_ne!(new, old);
    assert_eq!(client_credentials(&app, client_id, &new).await, 200);
    assert_eq!(client_credentials(&app, client_id, old).await, 200, "old secret during the overlap");
    app.clock.advance(3_600);
    assert_eq!(client_credentials(&app, client_id, old).await, 401, "old secret after the overlap");
    assert_eq!(client_credentials(&app, client_id, &new).await, 200);

    // A rotation with no overlap retires the old secret at once.
    let (_, newer) =
        clients::rotate_secret(&app.state.db, client_id, Some(0), &Actor::cli(), app.clock.now()).await.unwrap();
    assert_eq!(client_credentials(&app, client_id, &new).await, 401);
    assert_eq!(client_credentials(&app, client_id, &newer).await, 200);
}

#[tokio::test]
async fn concurrent_updates_never_lose_a_field() {
    let app = TestApp::spawn().await;
    let registered = confidential(&app).await;
    let client_id = registered.client.client_id.clone();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let db = app.state.db.clone();
        let fetcher = app.state.fetcher.clone();
        let client_id = client_id.clone();
        let now = app.clock.now();
        tasks.push(tokio::spawn(async move {
            clients::modify(&db, &fetcher, &client_id, &Actor::cli(), now, |new| {
                new.post_logout_redirect_uris.push(format!("https://mairie.example.fr/bye/{i}"));
            })
            .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let client = clients::find(&app.state.db, &client_id).await.unwrap().unwrap();
    assert_eq!(client.post_logout_redirect_uris.len(), 8, "{:?}", client.post_logout_redirect_uris);

    // A stale version is refused, never merged silently.
    let stale = client.to_new();
    clients::modify(&app.state.db, &app.state.fetcher, &client_id, &Actor::cli(), app.clock.now(), |new| {
        new.client_name = "Fresh".into()
    })
    .await
    .unwrap();
    let err = clients::update(
        &app.state.db,
        &app.state.fetcher,
        &client_id,
        stale,
        Some(client.version),
        &Actor::cli(),
        app.clock.now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, clients::ClientError::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn a_client_registered_by_dcr_completes_the_code_flow() {
    let app = TestApp::spawn().await;
    let token = iat(&app).await;
    let body = register_ok(&app, &token, &metadata()).await;
    let client_id = body["client_id"].as_str().unwrap();
    let client = clients::find(&app.state.db, client_id).await.unwrap().unwrap();
    let flow = Flow::for_client(&app, Registered::new(client, body["client_secret"].as_str().map(str::to_owned))).await;
    let tokens = flow.tokens(&app).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(header_of(id_token)["alg"], "RS256");
    let claims = verified(&app, id_token);
    assert_eq!(claims["aud"], client_id);
    assert_eq!(claims["nonce"], "n-456");
    assert!(tokens["refresh_token"].is_string());
    assert_eq!(userinfo(&app, tokens["access_token"].as_str().unwrap()).await.status(), 200);
}
