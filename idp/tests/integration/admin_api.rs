//! The admin API: its authorization matrix, what it does, its log, and an
//! OpenAPI document that lists every route of the router.

use idp::clients::{self, Actor, NewClient};
use idp::store::TokenKind;
use idp::testing::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

async fn call(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut request = app.client.request(method, app.ops_url(&format!("/admin/api{path}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

struct World {
    org_a: String,
    org_b: String,
    client_a: String,
    client_b: String,
    global: String,
    admin_a: String,
}

async fn world(app: &TestApp) -> World {
    let org_a = app.organisation().await.organisation_id;
    let org_b = app.organisation_with_code("31555").await.organisation_id;
    let mut ids = Vec::new();
    for org in [&org_a, &org_b] {
        let registered = app
            .register_client(NewClient {
                organisation_id: org.clone(),
                client_name: "Service".into(),
                redirect_uris: vec!["https://service.example.fr/cb".into()],
                ..NewClient::default()
            })
            .await;
        ids.push(registered.client.client_id);
    }
    World {
        client_b: ids.pop().unwrap(),
        client_a: ids.pop().unwrap(),
        global: app.admin_token(None).await,
        admin_a: app.admin_token(Some(&org_a)).await,
        org_a,
        org_b,
    }
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (status, body) = call(&app, Method::GET, "/clients", None, None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));
    let (status, _) = call(&app, Method::GET, "/clients", Some("wrong"), None).await;
    assert_eq!(status, 401);
    // An initial access token is not an administrator token.
    let iat = app.initial_access_token(&w.org_a, 3_600, false).await;
    assert_eq!(call(&app, Method::GET, "/clients", Some(&iat), None).await.0, 401);
    // Expired.
    app.clock.advance(3_600);
    let (status, body) = call(&app, Method::GET, "/clients", Some(&w.global), None).await;
    assert_eq!(status, 401);
    assert!(body["error_description"].as_str().unwrap().contains("expired"), "{body}");
    // Revoked.
    let token = app.admin_token(None).await;
    assert_eq!(call(&app, Method::GET, "/clients", Some(&token), None).await.0, 200);
    let listed = clients::admin::tokens(&app.state.db, TokenKind::Admin, None).await.unwrap();
    for t in listed.iter().filter(|t| t.revoked_at.is_none()) {
        clients::admin::revoke_token(&app.state.db, TokenKind::Admin, &t.token_id, &Actor::cli(), app.clock.now())
            .await
            .unwrap();
    }
    let (status, body) = call(&app, Method::GET, "/clients", Some(&token), None).await;
    assert_eq!(status, 401);
    assert!(body["error_description"].as_str().unwrap().contains("revoked"), "{body}");
}

#[tokio::test]
async fn an_organisation_token_stays_in_its_organisation() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let a = Some(w.admin_a.as_str());
    let forbidden: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/clients/{}", w.client_b), None),
        (
            Method::PUT,
            format!("/clients/{}", w.client_b),
            Some(json!({"client_name": "x", "redirect_uris": ["https://x.fr/cb"]})),
        ),
        (Method::DELETE, format!("/clients/{}", w.client_b), None),
        (Method::POST, format!("/clients/{}/rotate-secret", w.client_b), None),
        (Method::GET, format!("/clients/{}/entitlements", w.client_b), None),
        (Method::GET, format!("/clients?organisation_id={}", w.org_b), None),
        (Method::GET, format!("/organisations/{}", w.org_b), None),
        (
            Method::POST,
            "/clients".into(),
            Some(json!({"organisation_id": w.org_b, "client_name": "x", "redirect_uris": ["https://x.fr/cb"]})),
        ),
        (Method::POST, "/initial-access-tokens".into(), Some(json!({"organisation_id": w.org_b}))),
        // Global-only actions.
        (
            Method::POST,
            "/organisations".into(),
            Some(json!({"name": "X", "kind": "region", "official_code": "200046977"})),
        ),
        (Method::PUT, format!("/clients/{}/entitlements", w.client_a), Some(json!({"public_subject": true}))),
    ];
    for (method, path, body) in forbidden {
        let (status, answer) = call(&app, method.clone(), &path, a, body).await;
        assert_eq!((status, answer["error"].as_str()), (403, Some("insufficient_scope")), "{method} {path}: {answer}");
    }
    assert!(clients::find(&app.state.db, &w.client_b).await.unwrap().is_some(), "nothing happened to B");

    // Within its organisation, it works.
    let (status, list) = call(&app, Method::GET, "/clients", a, None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![w.client_a.as_str()]);
    let (status, orgs) = call(&app, Method::GET, "/organisations", a, None).await;
    assert_eq!((status, orgs.as_array().unwrap().len()), (200, 1));
    assert_eq!(call(&app, Method::GET, &format!("/clients/{}", w.client_a), a, None).await.0, 200);
    assert_eq!(call(&app, Method::GET, &format!("/organisations/{}", w.org_a), a, None).await.0, 200);
    let (status, issued) =
        call(&app, Method::POST, "/initial-access-tokens", a, Some(json!({"single_use": true}))).await;
    assert_eq!(status, 201, "{issued}");
    assert_eq!(issued["organisation_id"], w.org_a.as_str());
    let (status, created) = call(
        &app,
        Method::POST,
        "/clients",
        a,
        Some(json!({"client_name": "Cantine", "redirect_uris": ["https://cantine.example.fr/cb"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["organisation_id"], w.org_a.as_str());
    assert_eq!(created["id_token_signed_response_alg"], "ES256", "administrators' clients keep ES256");
    assert!(created["client_secret"].is_string() && created["registration_access_token"].is_string());
}

#[tokio::test]
async fn a_global_token_administers_everything_and_every_action_is_logged() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let g = Some(w.global.as_str());
    let (status, org) = call(
        &app,
        Method::POST,
        "/organisations",
        g,
        Some(json!({"name": "Région", "kind": "region", "official_code": "200046977", "contacts": ["a@b.fr"]})),
    )
    .await;
    assert_eq!(status, 201, "{org}");
    let (status, dup) = call(
        &app,
        Method::POST,
        "/organisations",
        g,
        Some(json!({"name": "Bis", "kind": "region", "official_code": "200046977"})),
    )
    .await;
    assert_eq!((status, dup["error"].as_str()), (409, Some("conflict")));
    let (status, bad) = call(
        &app,
        Method::POST,
        "/organisations",
        g,
        Some(json!({"name": "X", "kind": "region", "official_code": "12"})),
    )
    .await;
    assert_eq!((status, bad["error"].as_str()), (400, Some("invalid_client_metadata")));
    assert_eq!(call(&app, Method::GET, "/clients", g, None).await.1.as_array().unwrap().len(), 2);

    // The same validation as registration.
    let (status, bad) = call(
        &app,
        Method::POST,
        "/clients",
        g,
        Some(json!({"organisation_id": w.org_b, "client_name": "x", "redirect_uris": ["http://x.fr/cb"]})),
    )
    .await;
    assert_eq!((status, bad["error"].as_str()), (400, Some("invalid_redirect_uri")));

    // Entitlements, rotation, update with a stale version, delete.
    let path = format!("/clients/{}/entitlements", w.client_b);
    let (status, ent) =
        call(&app, Method::PUT, &path, g, Some(json!({"public_subject": true, "skip_consent": true}))).await;
    let expected =
        json!({"public_subject": true, "skip_consent": true, "pkce_exempt": false, "pkce_exempt_reason": null});
    assert_eq!((status, ent), (200, expected));
    let (status, rotated) =
        call(&app, Method::POST, &format!("/clients/{}/rotate-secret", w.client_b), g, Some(json!({"overlap": 60})))
            .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["previous_secret_expires_at"], app.clock.now() + 60);
    let (_, current) = call(&app, Method::GET, &format!("/clients/{}", w.client_b), g, None).await;
    let stale = json!({"client_name": "Renamed", "redirect_uris": ["https://service.example.fr/cb"], "version": 1});
    let (status, _) = call(&app, Method::PUT, &format!("/clients/{}", w.client_b), g, Some(stale)).await;
    assert_eq!(status, 409, "an update based on an old version is refused");
    let fresh = json!({"client_name": "Renamed", "redirect_uris": ["https://service.example.fr/cb"], "version": current["version"]});
    let (status, updated) = call(&app, Method::PUT, &format!("/clients/{}", w.client_b), g, Some(fresh)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["subject_type"], "public", "entitlements survive updates");
    assert_eq!(call(&app, Method::DELETE, &format!("/clients/{}", w.client_b), g, None).await.0, 204);
    assert_eq!(call(&app, Method::GET, &format!("/clients/{}", w.client_b), g, None).await.0, 404);

    let (status, issued) =
        call(&app, Method::POST, "/initial-access-tokens", g, Some(json!({"organisation_id": w.org_a}))).await;
    assert_eq!(status, 201);
    let token_id = issued["token_id"].as_str().unwrap();
    assert_eq!(call(&app, Method::DELETE, &format!("/initial-access-tokens/{token_id}"), g, None).await.0, 204);
    assert_eq!(call(&app, Method::DELETE, &format!("/initial-access-tokens/{token_id}"), g, None).await.0, 409);

    let (status, events) = call(&app, Method::GET, "/events?limit=100", g, None).await;
    assert_eq!(status, 200);
    let logged: Vec<(String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["actor"].as_str().unwrap().to_owned()))
        .collect();
    for action in [
        "organisation.create",
        "client.update",
        "client.rotate_secret",
        "client.delete",
        "initial_access_token.issue",
        "initial_access_token.revoke",
    ] {
        assert!(
            logged.iter().any(|(a, actor)| a == action && actor.starts_with("admin-token:")),
            "{action}: {logged:?}"
        );
    }
    // An organisation's token reads its organisation's entries only.
    assert!(
        events.as_array().unwrap().iter().any(|e| e["organisation_id"] != w.org_a.as_str()),
        "other organisations' entries exist, so there is something to leave out: {events}"
    );
    let (status, theirs) = call(&app, Method::GET, "/events", Some(&w.admin_a), None).await;
    assert_eq!(status, 200);
    let theirs = theirs.as_array().unwrap();
    assert!(!theirs.is_empty() && theirs.iter().all(|e| e["organisation_id"] == w.org_a.as_str()), "{theirs:?}");
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = TestApp::spawn().await;
    let response = app.ops_get("/admin/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented = doc["paths"].as_object().unwrap();
    let routes = idp::admin::routes();
    assert_eq!(documented.len(), routes.len(), "no documented path without a route");
    for (path, methods, _) in routes {
        for method in ["get", "post", "put", "delete", "patch"] {
            let listed = methods.contains(&method);
            assert_eq!(documented[path].get(method).is_some(), listed, "{method} {path} documented iff routed");
            let concrete = path
                .replace("{client_id}", "x")
                .replace("{organisation_id}", "x")
                .replace("{token_id}", "x")
                .replace("{member}", "x")
                .replace("{invitation_id}", "x");
            let status = app
                .client
                .request(method.to_uppercase().parse().unwrap(), app.ops_url(&format!("/admin/api{concrete}")))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            if listed {
                assert!(status != 404 && status != 405, "{method} {path} answers ({status})");
            } else {
                assert_eq!(status, 405, "{method} {path} is not routed");
            }
        }
    }
}

#[tokio::test]
async fn a_citizens_audit_trail_is_for_global_administrators_and_reading_it_is_logged() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let event = idp::store::NewAuditEvent {
        citizen_id: "citizen-1".into(),
        event: idp::audit::AuditEvent::ConsentGranted {
            client_id: w.client_a.clone(),
            client_name: "Service A".into(),
            scope: vec!["openid".into()],
        },
        at: app.clock.now(),
        mail: None,
    };
    app.state.db.append_audit_event(&event).await.unwrap();
    let (status, body) = call(&app, Method::GET, "/audit?citizen_id=citizen-1", Some(&w.admin_a), None).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("insufficient_scope")));
    assert_eq!(call(&app, Method::GET, "/audit", Some(&w.global), None).await.0, 400);
    let (status, trail) = call(&app, Method::GET, "/audit?citizen_id=citizen-1", Some(&w.global), None).await;
    assert_eq!(status, 200);
    assert_eq!(trail[0]["kind"], "consent.granted");
    assert_eq!(trail[0]["details"]["client_id"], w.client_a.as_str());
    let (_, events) = call(&app, Method::GET, "/events", Some(&w.global), None).await;
    assert!(
        events.as_array().unwrap().iter().any(|e| e["action"] == "audit.read" && e["target"] == "citizen-1"),
        "{events}"
    );
}
