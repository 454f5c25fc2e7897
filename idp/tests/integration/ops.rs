//! Probes, metrics, request ids, headers, methods.

use idp::testing::TestApp;

#[tokio::test]
async fn healthz_and_readyz_answer_when_all_is_well() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], true);
    assert_eq!(body["migrations"], "ok");
}

#[tokio::test]
async fn readyz_turns_not_ready_when_the_database_goes_away() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.state.db.close().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["ready"], false);
    assert!(body["database"].as_str().unwrap().starts_with("unavailable"), "{body}");
    // The process itself is still alive: liveness must not restart it.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    app.get("/jwks").await;
    app.get("/no/such/page/42").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains(r#"sesame_http_requests_total{method="GET",route="/jwks",status="200"} 1"#), "{text}");
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(!text.contains("/no/such/page"), "raw paths must not become labels");
    assert!(text.contains("sesame_http_request_duration_seconds_bucket"), "{text}");
}

#[tokio::test]
async fn every_response_has_a_request_id_and_security_headers() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz").await;
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let csp = response.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{csp}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let given = app.client.get(app.url("/healthz")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(given.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn wrong_method_is_405_and_unknown_path_404() {
    let app = TestApp::spawn().await;
    let response = app.client.post(app.url("/jwks")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let response = app.client.delete(app.url("/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(app.get("/nothing-here").await.status(), 404);
}

#[tokio::test]
async fn an_unknown_path_is_a_readable_page_in_the_readers_language() {
    let app = TestApp::spawn().await;
    for (language, says) in
        [("fr-FR,fr;q=0.9", "Cette page n’existe pas ou plus."), ("en-GB", "This page does not exist")]
    {
        let response =
            app.client.get(app.url("/nothing-here")).header("accept-language", language).send().await.unwrap();
        assert_eq!(response.status(), 404);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let page = response.text().await.unwrap();
        assert!(page.contains(says) && page.contains(&format!(r#"<html lang="{}""#, &language[..2])), "{page}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let response = app.client.post(app.url("/csp-report")).body(vec![b'x'; 100 * 1024]).send().await.unwrap();
    assert_eq!(response.status(), 413);
    let response = app.client.post(app.url("/csp-report")).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 204);
}
