//! Rate limits: 429 + Retry-After past the budget, windows moved by the
//! injected clock, per address and per client, shared through the cache.

use idp::cache::Cache;
use idp::testing::TestApp;

async fn post(app: &TestApp, path: &str, forwarded_for: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client.post(app.url(path)).header("x-forwarded-for", forwarded_for).form(form).send().await.unwrap()
}

async fn metrics(app: &TestApp) -> String {
    app.ops_get("/metrics").await.text().await.unwrap()
}

#[tokio::test]
async fn ceremony_starts_are_limited_per_address_until_the_window_ends() {
    let app = TestApp::spawn_with(|env| {
        env.insert("SESAME_RATE_LIMIT_PER_ADDRESS".into(), "3".into());
    })
    .await;
    for _ in 0..3 {
        let response = post(&app, "/signin/start", "", &[]).await;
        assert_ne!(response.status(), 429);
    }
    // Recovery shares the ceremony budget of this address.
    let response = post(&app, "/recover/finish", "", &[]).await;
    assert_eq!(response.status(), 429);
    let retry_after: i64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let window_end = idp::testing::T0 - idp::testing::T0.rem_euclid(60) + 60;
    assert_eq!(retry_after, window_end - app.clock.now());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    // Pages and other routes are not limited.
    assert_eq!(app.get("/signin").await.status(), 200);

    app.clock.advance(retry_after);
    assert_ne!(post(&app, "/signin/start", "", &[]).await.status(), 429, "a new window");
    assert!(
        metrics(&app).await.contains(r#"sesame_rate_limited_requests_total{group="ceremony",scope="address"} 1"#),
        "{}",
        metrics(&app).await
    );
}

/// A `/token` request from `address` with these client credentials.
async fn token_request(app: &TestApp, address: &str, client_id: &str, secret: &str) -> reqwest::Response {
    app.client
        .post(app.url("/token"))
        .header("x-forwarded-for", address)
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "authorization_code"), ("code", "x"), ("code_verifier", "y")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn token_requests_are_limited_per_authenticated_client_across_addresses() {
    let app = TestApp::spawn_with(|env| {
        env.insert("SESAME_RATE_LIMIT_PER_CLIENT".into(), "2".into());
        env.insert("SESAME_TRUSTED_PROXIES".into(), "127.0.0.1".into());
    })
    .await;
    let service = crate::oidc_support::confidential(&app).await;
    let (id, secret) = (service.client.client_id.as_str(), service.client_secret.as_deref().unwrap());
    for address in ["198.51.100.1", "198.51.100.2"] {
        let response = token_request(&app, address, id, secret).await;
        assert_eq!(response.status(), 400, "authenticated, the code refused");
    }
    // A third address, same client: the client's budget is spent.
    let response = token_request(&app, "198.51.100.3", id, secret).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert!(metrics(&app).await.contains(r#"sesame_rate_limited_requests_total{group="token",scope="client"} 1"#));
}

/// Anyone can read a `client_id` in an authorization URL: requests with it
/// and a wrong secret spend their own address's budget, never the client's.
#[tokio::test]
async fn bad_secrets_under_a_public_client_id_cannot_lock_the_client_out() {
    let app = TestApp::spawn_with(|env| {
        env.insert("SESAME_RATE_LIMIT_PER_CLIENT".into(), "3".into());
        env.insert("SESAME_TRUSTED_PROXIES".into(), "127.0.0.1".into());
    })
    .await;
    let service = crate::oidc_support::confidential(&app).await;
    let (id, secret) = (service.client.client_id.as_str(), service.client_secret.as_deref().unwrap());
    for (n, attacker) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"].iter().enumerate() {
        for _ in 0..3 {
            assert_eq!(token_request(&app, attacker, id, "guessed").await.status(), 401, "attacker {n}");
        }
        assert_eq!(token_request(&app, attacker, id, "guessed").await.status(), 429, "its address is spent");
    }
    for _ in 0..3 {
        assert_eq!(token_request(&app, "198.51.100.10", id, secret).await.status(), 400, "the service goes on");
    }
    let scrape = metrics(&app).await;
    assert!(scrape.contains(r#"sesame_rate_limited_requests_total{group="token",scope="address"} 3"#), "{scrape}");
    assert!(!scrape.contains(r#"group="token",scope="client""#), "{scrape}");
}

#[tokio::test]
async fn untrusted_peers_cannot_choose_their_address() {
    let app = TestApp::spawn_with(|env| {
        env.insert("SESAME_RATE_LIMIT_PER_ADDRESS".into(), "1".into());
    })
    .await;
    assert_ne!(post(&app, "/signup/start", "198.51.100.1", &[]).await.status(), 429);
    assert_eq!(post(&app, "/signup/start", "198.51.100.2", &[]).await.status(), 429);
}

#[tokio::test]
async fn counters_are_shared_by_caches_on_one_backend() {
    // Two replicas on one Redis (or, without Redis, one process) count together.
    let app = TestApp::spawn().await;
    let other = match &app.state.config.redis_url {
        Some(url) => Cache::redis(
            idp::cache::connect_redis(url).await.unwrap(),
            &app.state.config.redis_prefix,
            app.state.clock.clone(),
        ),
        None => app.state.cache.clone(),
    };
    let first: &Cache = &app.state.cache;
    assert_eq!(first.count_hit("test:k", 60).await.unwrap().count, 1);
    assert_eq!(other.count_hit("test:k", 60).await.unwrap().count, 2);
    app.clock.advance(60);
    assert_eq!(first.count_hit("test:k", 60).await.unwrap().count, 1, "a new window starts at zero");
}

/// One recovery attempt at `/recover/start` from its own browser and source address.
async fn recovery_attempt(app: &TestApp, address: &str, identifier: &str, code: &str) -> reqwest::Response {
    let mut browser = idp::testing::browser::Browser::new(app);
    let csrf = browser.csrf().await;
    browser
        .client
        .post(browser.url("/recover/start"))
        .header("x-csrf-token", csrf)
        .header("x-forwarded-for", address)
        .json(&serde_json::json!({"identifier": identifier, "code": code}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn recovery_attempts_are_limited_per_citizen_across_addresses() {
    let app = TestApp::spawn_with(|env| {
        env.insert("SESAME_RATE_LIMIT_RECOVERY_PER_CITIZEN".into(), "3".into());
        env.insert("SESAME_TRUSTED_PROXIES".into(), "127.0.0.1".into());
    })
    .await;
    let target = idp::testing::browser::Browser::new(&app).sign_up("Marc", "Lefèvre", None).await;
    let bystander = idp::testing::browser::Browser::new(&app).sign_up("Inès", "Roux", None).await;
    let right_code = target.recovery_codes[0].as_str();

    // Three wrong guesses, each from another address (no per-address budget is near its end).
    for address in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let response = recovery_attempt(&app, address, &target.identifier, "ABCD-EFGH-JKMN").await;
        assert_eq!(response.status(), 403);
    }
    // A fourth address, even with the right code: this citizen's budget is spent.
    let response = recovery_attempt(&app, "198.51.100.4", &target.identifier, right_code).await;
    assert_eq!(response.status(), 429);
    let retry_after: i64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let window_end = idp::testing::T0 - idp::testing::T0.rem_euclid(60) + 60;
    assert_eq!(retry_after, window_end - app.clock.now());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests", "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("Trop de tentatives"), "{body}");
    // Another citizen is not affected.
    let response = recovery_attempt(&app, "198.51.100.4", &bystander.identifier, &bystander.recovery_codes[0]).await;
    assert_eq!(response.status(), 200);
    assert!(
        metrics(&app).await.contains(r#"sesame_rate_limited_requests_total{group="recovery",scope="citizen"} 1"#),
        "{}",
        metrics(&app).await
    );

    // The next window: the citizen's own code works again.
    app.clock.advance(retry_after);
    let response = recovery_attempt(&app, "198.51.100.5", &target.identifier, right_code).await;
    assert_eq!(response.status(), 200);
}

/// Whoever knows an identifier can spend its recovery budget, but not lock
/// its owner out: a browser that signed in as that citizen before still
/// gets through, and the owner reads about the blocked attempts on /account.
#[tokio::test]
async fn a_spent_recovery_budget_does_not_lock_out_the_citizens_own_browser() {
    let app = TestApp::spawn_with(|env| {
        env.insert("SESAME_RATE_LIMIT_RECOVERY_PER_CITIZEN".into(), "2".into());
        env.insert("SESAME_TRUSTED_PROXIES".into(), "127.0.0.1".into());
    })
    .await;
    let mut own = idp::testing::browser::Browser::new(&app);
    let target = own.sign_up("Marc", "Lefèvre", None).await;
    let right_code = target.recovery_codes[0].as_str();
    for address in ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"] {
        recovery_attempt(&app, address, &target.identifier, "ABCD-EFGH-JKMN").await;
    }
    let stranger = recovery_attempt(&app, "198.51.100.5", &target.identifier, right_code).await;
    assert_eq!(stranger.status(), 429, "an unknown browser, even with the right code");

    // The citizen's own browser (its passkey lost, say) is not counted.
    let csrf = own.csrf().await;
    let response = own
        .client
        .post(own.url("/recover/start"))
        .header("x-csrf-token", csrf)
        .header("x-forwarded-for", "198.51.100.6")
        .json(&serde_json::json!({"identifier": target.identifier, "code": right_code}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

    // One history entry for the window, however many attempts were refused.
    let account = own.account().await;
    assert_eq!(account.matches("Trop de tentatives de récupération").count(), 1, "{account}");
}
