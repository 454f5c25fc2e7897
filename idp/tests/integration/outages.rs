//! Losing PostgreSQL or Redis mid-run (issue 8, "Bad input"): readiness
//! fails naming the cause, requests that need the lost engine get a clear 503
//! (OAuth `temporarily_unavailable` JSON with `Retry-After` on protocol
//! endpoints, a readable page for people) quickly — never a 500, never a hang
//! — and the provider recovers by itself when the engine returns.
//!
//! The shared PostgreSQL and Redis of the machine are never stopped: each test
//! puts a TCP proxy it controls between the provider and the real service and
//! cuts it (live connections dropped, new ones refused), then restores it.
//! The Redis test runs when SESAME_TEST_REDIS_URL is set, the PostgreSQL test
//! when SESAME_TEST_DATABASE_URL is; otherwise they print why they skipped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use idp::testing::TestApp;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

use crate::oidc_support::{Flow, REDIRECT};

/// Longest any answer may take while an engine is away: the dependency
/// timeout (1 s here) plus slack for a loaded machine, far below the 30 s
/// request timeout.
const ANSWER_BOUND: Duration = Duration::from_secs(8);

/// A TCP proxy to `target` that can be cut and restored.
struct Cuttable {
    addr: SocketAddr,
    target: SocketAddr,
    live: Arc<Mutex<Vec<AbortHandle>>>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl Cuttable {
    async fn to(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy =
            Self { addr: listener.local_addr().unwrap(), target, live: Arc::default(), acceptor: Mutex::new(None) };
        proxy.accept_on(listener);
        proxy
    }

    fn accept_on(&self, listener: TcpListener) {
        let (target, live) = (self.target, self.live.clone());
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let forward = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                live.lock().unwrap().push(forward.abort_handle());
            }
        });
        *self.acceptor.lock().unwrap() = Some(acceptor);
    }

    /// Drops every live connection and closes the port (new connections are refused).
    fn cut(&self) {
        if let Some(acceptor) = self.acceptor.lock().unwrap().take() {
            acceptor.abort();
        }
        for connection in self.live.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// Listens on the same port again.
    async fn restore(&self) {
        // The aborted acceptor drops its listener when the runtime next polls it.
        let listener = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match TcpListener::bind(self.addr).await {
                    Ok(listener) => return listener,
                    Err(_) => tokio::task::yield_now().await,
                }
            }
        })
        .await
        .expect("the proxy port is free again");
        self.accept_on(listener);
    }

    /// `url` with its host and port replaced by the proxy's.
    fn in_front_of(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.addr.port())).unwrap();
        url.to_string()
    }
}

/// The address behind a service URL (default ports for postgres / redis).
fn target_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).unwrap();
    let port = url.port().unwrap_or(if url.scheme() == "redis" { 6379 } else { 5432 });
    let host = match url.host_str() {
        Some("localhost") | None => "127.0.0.1",
        Some(host) => host,
    };
    format!("{host}:{port}").parse().unwrap()
}

fn setting(name: &str) -> Option<String> {
    let value = std::env::var(name).ok().filter(|v| !v.is_empty());
    if value.is_none() {
        eprintln!("skipped: set {name} to run this test (it proxies that service and cuts the proxy)");
    }
    value
}

/// A request timed against [`ANSWER_BOUND`].
async fn timed(request: reqwest::RequestBuilder) -> reqwest::Response {
    let started = Instant::now();
    let response = tokio::time::timeout(ANSWER_BOUND, request.send())
        .await
        .expect("answered within the bound, not hung")
        .expect("answered");
    assert!(started.elapsed() < ANSWER_BOUND);
    response
}

/// A protocol endpoint's answer while an engine is away.
async fn assert_temporarily_unavailable(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"), "{:?}", response.headers());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
}

/// A page request, as a browser sends it.
fn page(app: &TestApp, path: &str, cookie: &str) -> reqwest::RequestBuilder {
    let request = app.client.get(app.url(path)).header("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    if cookie.is_empty() { request } else { request.header("cookie", cookie) }
}

/// A page's answer while an engine is away: readable, in the asked language.
async fn assert_unavailable_page(response: reqwest::Response, text: &str) {
    assert_eq!(response.status(), 503, "{}", response.url());
    assert!(response.headers().contains_key("retry-after"));
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{:?}", response.headers());
    let page = response.text().await.unwrap();
    assert!(page.contains(text), "{page}");
}

/// `/authorize` with a valid request: the service hears `temporarily_unavailable`.
async fn assert_authorization_unavailable(app: &TestApp, flow: &Flow) {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(&[])).finish();
    let authorize = app.client.get(app.url(&format!("/authorize?{query}"))).header("cookie", &flow.cookie);
    let response = timed(authorize).await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let answer = crate::oidc_support::query_of(location);
    assert_eq!(answer["error"], "temporarily_unavailable", "{location}");
    assert_eq!(answer["state"], "st-123");
}

/// Readiness back to 200, waited for (bounded), never slept for.
async fn wait_until_ready(app: &TestApp) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while app.get("/readyz").await.status() != 200 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("ready again once the engine is back, without a restart");
}

/// Requests that keep arriving across the cut and the restore: each must be
/// answered within the bound with success or 503 — never 500, never a hang.
struct Load {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Vec<u16>>,
}

impl Load {
    fn start(app: &TestApp, flow: &Flow, access_token: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ANSWER_BOUND)
            .build()
            .unwrap();
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(&[])).finish();
        let (userinfo, authorize) = (app.url("/userinfo"), app.url(&format!("/authorize?{query}")));
        let (token, cookie) = (access_token.to_owned(), flow.cookie.clone());
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut statuses = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let a = http.get(&userinfo).bearer_auth(&token).send().await;
                    let b = http.get(&authorize).header("cookie", &cookie).send().await;
                    for answer in [a, b] {
                        statuses.push(answer.map_or(0, |r| r.status().as_u16()));
                    }
                }
                statuses
            }
        });
        Self { stop, task }
    }

    async fn finish(self) {
        self.stop.store(true, Ordering::SeqCst);
        let statuses = self.task.await.unwrap();
        assert!(!statuses.is_empty());
        let unexpected: Vec<_> = statuses.iter().filter(|s| ![200, 303, 503].contains(*s)).collect();
        assert!(unexpected.is_empty(), "only 200, 303 or 503 (0 = no answer in time): {statuses:?}");
    }
}

async fn redeem(app: &TestApp, flow: &Flow, code: &str) -> reqwest::Response {
    timed(app.client.post(app.url("/token")).basic_auth(flow.client_id(), Some(flow.secret())).form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", flow.verifier.as_str()),
    ]))
    .await
}

async fn metrics(app: &TestApp) -> String {
    app.ops_get("/metrics").await.text().await.unwrap()
}

/// A provider reaching one engine (`setting`: its URL variable) through
/// `proxy`, with tokens issued, a code not yet redeemed, and load running.
struct Scene {
    app: TestApp,
    flow: Flow,
    access: String,
    code: String,
    load: Load,
}

impl Scene {
    async fn behind(proxy: &Cuttable, setting: &str) -> Self {
        let app = TestApp::spawn_with(|env| {
            let url = proxy.in_front_of(&env[setting]);
            env.insert(setting.into(), url);
            env.insert("SESAME_DEPENDENCY_TIMEOUT".into(), "1s".into());
        })
        .await;
        let flow = Flow::new(&app).await;
        let access = flow.tokens(&app).await["access_token"].as_str().unwrap().to_owned();
        let code = flow.code(&app).await;
        let load = Load::start(&app, &flow, &access);
        Self { app, flow, access, code, load }
    }

    /// `/readyz` while `part` is away: 503, naming it.
    async fn not_ready_naming(&self, part: &str) {
        let ready = timed(self.app.client.get(self.app.ops_url("/readyz"))).await;
        assert_eq!(ready.status(), 503);
        let body: serde_json::Value = ready.json().await.unwrap();
        assert!(body[part].as_str().unwrap().starts_with("unavailable"), "{body}");
        let public = timed(self.app.client.get(self.app.url("/readyz"))).await;
        assert_eq!(public.status(), 503);
        assert_eq!(public.json::<serde_json::Value>().await.unwrap(), serde_json::json!({"ready": false}), "no detail");
    }

    /// The engine is back: ready again by itself, the load saw only clean
    /// answers, and nothing was lost (the code issued before the cut, the
    /// token, the browser session).
    async fn recovers(self, proxy: &Cuttable, dependency: &str) {
        let Self { app, flow, access, code, load } = self;
        proxy.restore().await;
        wait_until_ready(&app).await;
        load.finish().await;
        let response = redeem(&app, &flow, &code).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        assert_eq!(timed(app.client.get(app.url("/userinfo")).bearer_auth(&access)).await.status(), 200);
        flow.tokens(&app).await;
        let counted = format!(r#"sesame_dependency_unavailable_responses_total{{dependency="{dependency}"}}"#);
        assert!(metrics(&app).await.contains(&counted));
    }
}

#[tokio::test]
async fn losing_redis_mid_run_answers_503_and_recovers_by_itself() {
    let Some(redis) = setting("SESAME_TEST_REDIS_URL") else { return };
    let proxy = Cuttable::to(target_of(&redis)).await;
    let scene = Scene::behind(&proxy, "SESAME_REDIS_URL").await;
    let (app, flow) = (&scene.app, &scene.flow);

    proxy.cut();
    scene.not_ready_naming("cache").await;
    // Protocol endpoints: OAuth error JSON.
    assert_temporarily_unavailable(redeem(app, flow, &scene.code).await).await;
    assert_temporarily_unavailable(timed(app.client.get(app.url("/userinfo")).bearer_auth(&scene.access)).await).await;
    // A valid authorization request goes back to the service (RFC 6749 §4.1.2.1).
    assert_authorization_unavailable(app, flow).await;
    // Pages (the browser session lives in Redis): readable, French by default, English on request.
    assert_unavailable_page(timed(page(app, "/account", &flow.cookie)).await, "momentanément indisponible").await;
    // A new visitor: the page renders, but its new session cannot be stored.
    let sign_in = page(app, "/signin", "").header("accept-language", "en");
    assert_unavailable_page(timed(sign_in).await, "briefly unavailable").await;
    // A ceremony endpoint (JSON), whose CSRF check cannot read the session.
    assert_temporarily_unavailable(
        timed(app.client.post(app.url("/signin/start")).header("cookie", &flow.cookie)).await,
    )
    .await;

    scene.recovers(&proxy, "redis").await;
}

#[tokio::test]
async fn losing_postgres_mid_run_answers_503_and_recovers_by_itself() {
    let Some(server) = setting("SESAME_TEST_DATABASE_URL") else { return };
    let proxy = Cuttable::to(target_of(&server)).await;
    // The test database is created on the server directly; the provider reaches it through the proxy.
    let scene = Scene::behind(&proxy, "SESAME_DATABASE_URL").await;
    let (app, flow) = (&scene.app, &scene.flow);

    proxy.cut();
    scene.not_ready_naming("database").await;
    // Protocol endpoints: OAuth error JSON (client authentication reads the registry).
    assert_temporarily_unavailable(redeem(app, flow, &scene.code).await).await;
    assert_temporarily_unavailable(timed(app.client.get(app.url("/userinfo")).bearer_auth(&scene.access)).await).await;
    // The authorization endpoint cannot check the client: a page, never a redirect.
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(&[])).finish();
    let authorize = page(app, &format!("/authorize?{query}"), &flow.cookie);
    assert_unavailable_page(timed(authorize).await, "momentanément indisponible").await;
    // Pages: the account page reads the login and the citizen.
    assert_unavailable_page(timed(page(app, "/account", &flow.cookie)).await, "momentanément indisponible").await;
    let account = page(app, "/account?ui_locales=en", &flow.cookie);
    assert_unavailable_page(timed(account).await, "briefly unavailable").await;
    // What lives in memory is still served.
    assert_eq!(timed(app.client.get(app.url("/jwks"))).await.status(), 200);
    assert_eq!(timed(app.client.get(app.url("/.well-known/openid-configuration"))).await.status(), 200);

    scene.recovers(&proxy, "database").await;
}
