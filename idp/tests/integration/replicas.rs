//! Several `idp serve` processes on one database (and one Redis when
//! SESAME_TEST_REDIS_URL is set): operational commands run while they serve,
//! and replicas come and go without losing stored data. With PostgreSQL and
//! Redis: ceremonies, codes and revocations cross replicas; replicas killed
//! under a steady stream of complete logins (SIGTERM drains, SIGKILL loses
//! only what was in flight) lose no completed login and no stored citizen;
//! and a back-channel logout queued on any replica reaches the service once,
//! although every replica's delivery loop runs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use idp::testing::browser::Browser;
use idp::testing::soft_passkey::SoftPasskey;
use idp::testing::{TestDatabase, test_env};
use serde_json::json;
use tokio::process::Child;

use crate::binary::{free_port, run, serve_until};

/// One replica: the shared environment with its own listening port. The
/// issuer stays the first replica's, as behind one Service.
fn replica_env(shared: &BTreeMap<String, String>, port: u16) -> BTreeMap<String, String> {
    let mut env = shared.clone();
    env.insert("SESAME_BIND".into(), format!("127.0.0.1:{port}"));
    env
}

struct Replica {
    child: Child,
    port: u16,
}

async fn start(shared: &BTreeMap<String, String>) -> Replica {
    start_on(shared, free_port()).await
}

async fn start_on(shared: &BTreeMap<String, String>, port: u16) -> Replica {
    let (child, mut lines) = serve_until(&replica_env(shared, port), "Sésame is ready").await;
    // Keep reading the log so a full pipe never blocks the replica.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Replica { child, port }
}

impl Replica {
    fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill").args([signal, &pid]).status().unwrap().success());
    }
}

#[tokio::test]
async fn migrate_and_key_rotation_run_safely_while_replicas_serve() {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let shared = test_env(&db, dir.path(), free_port());
    let http = reqwest::Client::new();

    let first = start(&shared).await;
    let second = start(&shared).await;

    // Traffic on both replicas for as long as the commands run.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let urls: Vec<String> = [&first, &second]
            .iter()
            .flat_map(|r| [r.url("/readyz"), r.url("/jwks"), r.url("/.well-known/openid-configuration")])
            .collect();
        let (http, stop, served, failed) = (http.clone(), stop.clone(), served.clone(), failed.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                for url in &urls {
                    match http.get(url).send().await {
                        Ok(r) if r.status() == 200 => served.fetch_add(1, Ordering::SeqCst),
                        _ => failed.fetch_add(1, Ordering::SeqCst),
                    };
                }
            }
        })
    };

    let (ok, stdout, stderr) = run(&shared, &["migrate"]).await;
    assert!(ok && stdout.contains("up to date"), "{stdout}{stderr}");
    let (ok, stdout, stderr) = run(&shared, &["keys", "rotate", "--alg", "ES256", "--publish-for", "10m"]).await;
    assert!(ok, "{stderr}");
    let new_kid = stdout.lines().nth(1).unwrap().trim().to_owned();
    let (ok, stdout, stderr) = run(&shared, &["migrate"]).await;
    assert!(ok && stdout.contains("up to date"), "{stdout}{stderr}");

    // A replica started after the rotation publishes the new key at once
    // (running ones reload within 30 s; this test never waits for that).
    let third = start(&shared).await;
    let jwks: serde_json::Value = http.get(third.url("/jwks")).send().await.unwrap().json().await.unwrap();
    assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == new_kid.as_str()), "{jwks}");

    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    assert_eq!(failed.load(Ordering::SeqCst), 0, "every request answered 200 while the commands ran");
    assert!(served.load(Ordering::SeqCst) >= 6);

    // Replicas go away, gracefully and not: stored data stays.
    first.signal("-TERM");
    second.signal("-KILL");
    let (mut first, mut second) = (first, second);
    assert!(first.child.wait().await.unwrap().success(), "SIGTERM drains and exits 0");
    let _ = second.child.wait().await;
    let ready = http.get(third.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let (ok, stdout, _) = run(&shared, &["keys", "list", "--json"]).await;
    assert!(ok);
    let keys: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(keys.len(), 5, "four first keys and the rotated one: {stdout}");
    assert!(keys.iter().any(|k| k["kid"] == new_kid.as_str() && k["state"] == "next"), "{stdout}");
    let restarted = start(&shared).await;
    assert_eq!(http.get(restarted.url("/readyz")).send().await.unwrap().status(), 200);
}

/// The shared engines this test needs; None (with the reason printed) without them.
fn shared_engines() -> Option<()> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty()).is_some();
    if set("SESAME_TEST_DATABASE_URL") && set("SESAME_TEST_REDIS_URL") {
        return Some(());
    }
    eprintln!(
        "skipped: replicas share state through PostgreSQL and Redis; \
         set SESAME_TEST_DATABASE_URL and SESAME_TEST_REDIS_URL to run this test"
    );
    None
}

#[tokio::test]
async fn three_replicas_behave_as_one_provider() {
    let Some(()) = shared_engines() else { return };
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let issuer_port = free_port();
    let shared = test_env(&db, dir.path(), issuer_port);
    let issuer = shared["SESAME_ISSUER"].clone();
    let first = start_on(&shared, issuer_port).await;
    let second = start(&shared).await;
    let third = start(&shared).await;
    let http = reqwest::Client::new();

    // Sign-up ceremony: started on replica 1, finished on replica 2.
    let mut browser = Browser::at(&issuer, first.addr(), SoftPasskey::new());
    browser.get("/signup").await;
    let options =
        browser.start("/signup/start", &json!({"given_name": "Camille", "family_name": "Martin", "email": ""})).await;
    let credential = browser.create(&options);
    browser.switch_to(second.addr());
    let response = browser.post_json("/signup/finish", &json!({"credential": credential})).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    // The session is everywhere.
    browser.switch_to(third.addr());
    browser.account().await;
    browser.sign_out().await;

    // Sign-in: options from replica 3, assertion verified by replica 1.
    browser.get("/signin").await;
    let options = browser.start("/signin/start", &json!({})).await;
    let assertion = browser.assert(&options);
    browser.switch_to(first.addr());
    let response = browser.post_json("/signin/finish", &json!({"credential": assertion, "next": ""})).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    browser.switch_to(second.addr());
    let account = browser.account().await;
    assert!(account.contains("Camille"), "signed in on replica 2 too");

    // The code flow: authorized on replica 2, redeemed on replica 3, replayed on 1.
    let redirect = crate::oidc_support::REDIRECT;
    let client = cli_client(&shared).await;
    let (client_id, secret) = (client.0.as_str(), client.1.as_str());
    let (verifier, challenge) = crate::oidc_support::pkce();
    let query = authorize_query(client_id, &challenge);
    let location = browser.get_location(&format!("/authorize?{query}")).await.unwrap();
    let consent = location.strip_prefix(&issuer).unwrap_or(&location).to_owned();
    assert!(consent.starts_with("/authorize/consent/"), "{location}");
    browser.get(&consent).await;
    let response = browser.post_form(&consent, &[("decision", "allow")]).await;
    let mut location = response.headers()["location"].to_str().unwrap().to_owned();
    // Back to the authorization, which now answers the service.
    for _ in 0..3 {
        if location.starts_with(redirect) {
            break;
        }
        let path = location.strip_prefix(&issuer).unwrap_or(&location).to_owned();
        location = browser.get_location(&path).await.unwrap_or_else(|| panic!("{path} did not redirect"));
    }
    let code = crate::oidc_support::query_of(&location).remove("code").unwrap_or_else(|| panic!("{location}"));
    let redeem = |replica: &Replica| {
        http.post(replica.url("/token")).basic_auth(client_id, Some(secret)).form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier.as_str()),
        ])
    };
    let response = redeem(&third).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let tokens: serde_json::Value = response.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let introspect = |replica: &Replica| {
        http.post(replica.url("/introspect")).basic_auth(client_id, Some(secret)).form(&[("token", access)])
    };
    let active: serde_json::Value = introspect(&first).send().await.unwrap().json().await.unwrap();
    assert_eq!(active["active"], true, "a token from replica 3 is known to replica 1");
    // Revoked on replica 1: inactive on 2 and 3, and refused by UserInfo.
    let revoked = http
        .post(first.url("/revoke"))
        .basic_auth(client_id, Some(secret))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    for replica in [&second, &third] {
        let body: serde_json::Value = introspect(replica).send().await.unwrap().json().await.unwrap();
        assert_eq!(body["active"], false, "{body}");
        let userinfo = http.get(replica.url("/userinfo")).bearer_auth(access).send().await.unwrap();
        assert_eq!(userinfo.status(), 401);
    }
    // The code was taken once, for all replicas.
    let replay = redeem(&first).send().await.unwrap();
    assert_eq!(replay.status(), 400);
    let body: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // Replica 1 drains on SIGTERM, replica 2 is killed: the login survives on replica 3.
    first.signal("-TERM");
    second.signal("-KILL");
    let (mut first, mut second) = (first, second);
    assert!(first.child.wait().await.unwrap().success());
    let _ = second.child.wait().await;
    browser.switch_to(third.addr());
    assert!(browser.account().await.contains("Camille"), "no completed login lost");
    // And a replica started now serves it as well.
    let fourth = start(&shared).await;
    browser.switch_to(fourth.addr());
    browser.account().await;
}

/// Creates the test organisation and a confidential client (CLI), returning
/// its id and secret.
async fn cli_client(shared: &BTreeMap<String, String>) -> (String, String) {
    let (ok, _, stderr) =
        run(shared, &["org", "create", "--name", "Ville de Test", "--kind", "commune", "--code", "213105554"]).await;
    assert!(ok, "{stderr}");
    let redirect = crate::oidc_support::REDIRECT;
    let args = ["client", "create", "--org", "213105554", "--name", "Mairie", "--redirect-uri", redirect];
    let (ok, stdout, stderr) = run(shared, &[&args[..], &["--scope", "openid", "--json"]].concat()).await;
    assert!(ok, "{stderr}");
    let client: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    (client["client_id"].as_str().unwrap().to_owned(), client["client_secret"].as_str().unwrap().to_owned())
}

/// The query of an authorization request (PKCE, `openid`) to the test redirect.
fn authorize_query(client_id: &str, challenge: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", crate::oidc_support::REDIRECT),
            ("scope", "openid"),
            ("state", "st"),
            ("nonce", "n"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .finish()
}

/// Why one step of a login did not succeed (the details are read in assertion messages).
#[derive(Debug)]
#[allow(dead_code)]
enum Failed {
    /// No answer: refused, reset, or cut mid-answer (a replica going away).
    Connection(String),
    /// An answer other than the expected one.
    Status(u16, String),
}

impl Failed {
    fn is_clean(&self) -> bool {
        matches!(self, Self::Connection(_) | Self::Status(503, _))
    }
}

async fn step(request: reqwest::RequestBuilder, expected: &[u16]) -> Result<reqwest::Response, Failed> {
    match request.send().await {
        Err(e) => Err(Failed::Connection(e.to_string())),
        Ok(r) if expected.contains(&r.status().as_u16()) => Ok(r),
        Ok(r) => Err(Failed::Status(r.status().as_u16(), r.text().await.unwrap_or_default())),
    }
}

async fn body_json(response: reqwest::Response) -> Result<serde_json::Value, Failed> {
    response.json().await.map_err(|e| Failed::Connection(e.to_string()))
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The replicas a load balancer would send to, in turn.
#[derive(Clone)]
struct Rotation {
    live: Arc<std::sync::Mutex<Vec<std::net::SocketAddr>>>,
    turn: Arc<AtomicUsize>,
}

impl Rotation {
    fn new(replicas: &[&Replica]) -> Self {
        Self {
            live: Arc::new(std::sync::Mutex::new(replicas.iter().map(|r| r.addr()).collect())),
            turn: Arc::default(),
        }
    }

    fn next(&self) -> std::net::SocketAddr {
        let live = self.live.lock().unwrap();
        live[self.turn.fetch_add(1, Ordering::SeqCst) % live.len()]
    }

    /// Out of the rotation (the endpoint removed before the pod is stopped).
    fn remove(&self, replica: &Replica) {
        self.live.lock().unwrap().retain(|a| *a != replica.addr());
    }
}

/// One complete login, each step on the next replica: passkey sign-up
/// (start and finish), authorization, consent, code redemption.
struct Login {
    browser: Browser,
    signed_up: bool,
    outcome: Result<serde_json::Value, Failed>,
}

async fn complete_login(issuer: &str, rotation: &Rotation, client: &(String, String)) -> Login {
    let mut browser = Browser::at(issuer, rotation.next(), SoftPasskey::new());
    // `at` aims at the issuer's port; this aims at the chosen replica's.
    browser.switch_to(rotation.next());
    let mut login = Login { browser, signed_up: false, outcome: Err(Failed::Connection(String::new())) };
    login.outcome = login_steps(&mut login, issuer, rotation, client).await;
    login
}

async fn login_steps(
    login: &mut Login,
    issuer: &str,
    rotation: &Rotation,
    (client_id, secret): &(String, String),
) -> Result<serde_json::Value, Failed> {
    let redirect = crate::oidc_support::REDIRECT;
    let b = &mut login.browser;
    let page = step(b.client.get(b.url("/signup")), &[200]).await?.text().await.unwrap_or_default();
    let csrf = idp::testing::browser::meta_csrf(&page).ok_or(Failed::Connection("page cut short".into()))?;
    b.switch_to(rotation.next());
    let profile = json!({"given_name": "Camille", "family_name": "Martin", "email": ""});
    let start = b.client.post(b.url("/signup/start")).header("x-csrf-token", &csrf).json(&profile);
    let options = body_json(step(start, &[200]).await?).await?;
    let credential = b.create(&options);
    b.switch_to(rotation.next());
    let finish = b.client.post(b.url("/signup/finish")).header("x-csrf-token", &csrf);
    step(finish.json(&json!({"credential": credential})), &[200]).await?;
    login.signed_up = true;

    let (verifier, challenge) = crate::oidc_support::pkce();
    let query = authorize_query(client_id, &challenge);
    b.switch_to(rotation.next());
    let to_consent = location(&step(b.client.get(b.url(&format!("/authorize?{query}"))), &[302, 303]).await?);
    let consent = to_consent.strip_prefix(issuer).unwrap_or(&to_consent).to_owned();
    b.switch_to(rotation.next());
    step(b.client.get(b.url(&consent)), &[200]).await?;
    b.switch_to(rotation.next());
    let allow = b.client.post(b.url(&consent)).form(&[("decision", "allow"), ("csrf", &csrf)]);
    let mut at = location(&step(allow, &[302, 303]).await?);
    for _ in 0..3 {
        if at.starts_with(redirect) {
            break;
        }
        let path = at.strip_prefix(issuer).unwrap_or(&at).to_owned();
        b.switch_to(rotation.next());
        // After the consent form, the way to the service is a page that navigates there.
        let answer = step(b.client.get(b.url(&path)), &[200, 302, 303]).await?;
        at = match answer.headers().get("location") {
            Some(_) => location(&answer),
            None => {
                let page = answer.text().await.map_err(|e| Failed::Connection(e.to_string()))?;
                idp::testing::browser::refresh_target(&page).ok_or(Failed::Status(200, page))?
            }
        };
    }
    let code = crate::oidc_support::query_of(&at).remove("code").ok_or(Failed::Status(0, at.clone()))?;
    let token = reqwest::Client::new()
        .post(format!("http://{}/token", rotation.next()))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier.as_str()),
        ]);
    body_json(step(token, &[200]).await?).await
}

/// A request provably in flight when the replica is told to stop: `/token`
/// with `Expect: 100-continue`, whose `100 Continue` shows the handler is
/// reading the body. Returns the connection, body not yet sent.
async fn request_in_flight(replica: &Replica) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(replica.addr()).await.unwrap();
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        replica.port,
        DRAIN_BODY.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).await.unwrap();
    assert!(interim.starts_with(b"HTTP/1.1 100 Continue\r\n\r\n"), "{}", String::from_utf8_lossy(&interim));
    stream
}

const DRAIN_BODY: &str = "grant_type=authorization_code&client_id=draining&code=x";

/// Sends the rest of a [`request_in_flight`] and reads the whole answer.
async fn finish_in_flight(mut stream: tokio::net::TcpStream) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream.write_all(DRAIN_BODY.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn killing_replicas_mid_load_loses_no_completed_login() {
    let Some(()) = shared_engines() else { return };
    const TERM_AFTER: usize = 4;
    const KILL_AFTER: usize = 8;
    const ENOUGH: usize = 12;
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let issuer_port = free_port();
    let shared = test_env(&db, dir.path(), issuer_port);
    let issuer = shared["SESAME_ISSUER"].clone();
    let (first, second, third) = (start_on(&shared, issuer_port).await, start(&shared).await, start(&shared).await);
    let client = cli_client(&shared).await;
    let rotation = Rotation::new(&[&first, &second, &third]);

    // A steady stream of complete logins from four workers, round-robin over the live replicas.
    let completed = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(tokio::sync::Notify::new());
    let results = Arc::new(tokio::sync::Mutex::new(Vec::<Login>::new()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (issuer, rotation, client) = (issuer.clone(), rotation.clone(), client.clone());
            let (completed, progress, results) = (completed.clone(), progress.clone(), results.clone());
            tokio::spawn(async move {
                while completed.load(Ordering::SeqCst) < ENOUGH {
                    let login = complete_login(&issuer, &rotation, &client).await;
                    if login.outcome.is_ok() {
                        completed.fetch_add(1, Ordering::SeqCst);
                        progress.notify_waiters();
                    }
                    results.lock().await.push(login);
                }
            })
        })
        .collect();
    let reached = |n: usize| {
        let (completed, progress) = (completed.clone(), progress.clone());
        async move {
            tokio::time::timeout(std::time::Duration::from_secs(120), async {
                loop {
                    let notified = progress.notified();
                    if completed.load(Ordering::SeqCst) >= n {
                        return;
                    }
                    notified.await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("{n} logins completed"));
        }
    };

    // SIGTERM: out of the rotation, then stopped with a request in flight, which is answered.
    reached(TERM_AFTER).await;
    rotation.remove(&first);
    let in_flight = request_in_flight(&first).await;
    first.signal("-TERM");
    let answer = finish_in_flight(in_flight).await;
    assert!(answer.starts_with("HTTP/1.1 4") && answer.contains(r#""error":"#), "answered while draining: {answer}");
    let mut first = first;
    let exited = tokio::time::timeout(std::time::Duration::from_secs(60), first.child.wait()).await;
    assert!(exited.expect("drained within the grace").unwrap().success(), "SIGTERM drains and exits 0");

    // SIGKILL: whatever it was doing is lost, mid-request.
    reached(KILL_AFTER).await;
    second.signal("-KILL");
    rotation.remove(&second);
    let mut second = second;
    let _ = second.child.wait().await;

    reached(ENOUGH).await;
    for worker in workers {
        worker.await.unwrap();
    }
    let results = std::mem::take(&mut *results.lock().await);
    let failures: Vec<&Failed> = results.iter().filter_map(|l| l.outcome.as_ref().err()).collect();
    assert!(failures.iter().all(|f| f.is_clean()), "only connection errors or 503, never a 500: {failures:?}");

    // On the survivor: every completed login's tokens are valid, every citizen signs in with its passkey.
    let http = reqwest::Client::new();
    let (client_id, secret) = &client;
    let mut signed_up = 0;
    for mut login in results {
        if let Ok(tokens) = &login.outcome {
            let access = tokens["access_token"].as_str().unwrap();
            let introspection = http
                .post(third.url("/introspect"))
                .basic_auth(client_id, Some(secret))
                .form(&[("token", access)])
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = introspection.json().await.unwrap();
            assert_eq!(body["active"], true, "{body}");
            let userinfo = http.get(third.url("/userinfo")).bearer_auth(access).send().await.unwrap();
            assert_eq!(userinfo.status(), 200);
        }
        if login.signed_up {
            signed_up += 1;
            login.browser.switch_to(third.addr());
            login.browser.forget_csrf();
            let response = login.browser.try_sign_in(None).await;
            assert_eq!(response.status(), 200, "a stored citizen and passkey: {}", response.text().await.unwrap());
        }
    }
    assert!(signed_up >= ENOUGH);
}

/// A relying party's back-channel receiver: verifies each logout token
/// against the provider's keys, ends the RP session of its `sid` (once), and
/// counts the POSTs per `sid`.
#[derive(Default)]
struct Receiver {
    jwks: serde_json::Value,
    posts: std::sync::Mutex<BTreeMap<String, usize>>,
    /// RP sessions by `sid`: true while signed in.
    sessions: std::sync::Mutex<BTreeMap<String, bool>>,
    ended: AtomicUsize,
    arrived: tokio::sync::Notify,
}

impl Receiver {
    async fn start(jwks: serde_json::Value) -> (Arc<Self>, String) {
        let receiver = Arc::new(Self { jwks, ..Self::default() });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/backchannel-logout", listener.local_addr().unwrap().port());
        let router = axum::Router::new().route(
            "/backchannel-logout",
            axum::routing::post({
                let receiver = receiver.clone();
                move |form: axum::extract::Form<BTreeMap<String, String>>| async move { receiver.receive(&form.0) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        (receiver, url)
    }

    /// The RP signs a citizen in: a session under the ID token's `sid`.
    fn signed_in(&self, id_token: &str) -> String {
        let sid = self.verified(id_token)["sid"].as_str().unwrap().to_owned();
        self.sessions.lock().unwrap().insert(sid.clone(), true);
        sid
    }

    fn verified(&self, jwt: &str) -> serde_json::Value {
        let kid = crate::oidc_support::header_of(jwt)["kid"].as_str().unwrap().to_owned();
        let jwk = self.jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap();
        idp::keys::verify(jwt, jwk).expect("signed by the provider").1
    }

    fn receive(&self, form: &BTreeMap<String, String>) -> axum::http::StatusCode {
        let claims = self.verified(&form["logout_token"]);
        assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object(), "{claims}");
        let sid = claims["sid"].as_str().unwrap().to_owned();
        *self.posts.lock().unwrap().entry(sid.clone()).or_default() += 1;
        if self.sessions.lock().unwrap().insert(sid, false) == Some(true) {
            self.ended.fetch_add(1, Ordering::SeqCst);
        }
        self.arrived.notify_waiters();
        axum::http::StatusCode::OK
    }

    /// Waits (bounded) until a logout for each of `sids` has arrived.
    async fn wait_for(&self, sids: &[String]) {
        tokio::time::timeout(std::time::Duration::from_secs(60), async {
            loop {
                let arrived = self.arrived.notified();
                if sids.iter().all(|sid| self.posts.lock().unwrap().contains_key(sid)) {
                    return;
                }
                arrived.await;
            }
        })
        .await
        .expect("back-channel logouts delivered");
    }
}

#[tokio::test]
async fn a_back_channel_logout_reaches_the_service_once_from_three_delivering_replicas() {
    let Some(()) = shared_engines() else { return };
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let issuer_port = free_port();
    let mut shared = test_env(&db, dir.path(), issuer_port);
    // Every replica's delivery loop runs, often.
    shared.insert("SESAME_LOGOUT_DELIVERY_INTERVAL".into(), "1s".into());
    let issuer = shared["SESAME_ISSUER"].clone();
    let replicas = [start_on(&shared, issuer_port).await, start(&shared).await, start(&shared).await];
    let http = reqwest::Client::new();
    let jwks: serde_json::Value = http.get(replicas[0].url("/jwks")).send().await.unwrap().json().await.unwrap();
    let (receiver, receiver_url) = Receiver::start(jwks).await;

    // The service registers itself (RFC 7591) with its back-channel receiver.
    let (ok, _, stderr) =
        run(&shared, &["org", "create", "--name", "Ville de Test", "--kind", "commune", "--code", "213105554"]).await;
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = run(&shared, &["iat", "issue", "--org", "213105554", "--json"]).await;
    assert!(ok, "{stderr}");
    let iat: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let registration = json!({
        "client_name": "Portail famille",
        "redirect_uris": [crate::oidc_support::REDIRECT],
        "scope": "openid",
        "backchannel_logout_uri": receiver_url,
    });
    let response = http
        .post(replicas[1].url("/register"))
        .bearer_auth(iat["token"].as_str().unwrap())
        .json(&registration)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let registered: serde_json::Value = response.json().await.unwrap();
    let client = (
        registered["client_id"].as_str().unwrap().to_owned(),
        registered["client_secret"].as_str().unwrap().to_owned(),
    );

    // Four citizens log in to the service across the replicas; the first three
    // sign out, each on another replica.
    let rotation = Rotation::new(&replicas.iter().collect::<Vec<_>>());
    let mut logins = Vec::new();
    for _ in 0..4 {
        let login = complete_login(&issuer, &rotation, &client).await;
        let tokens = login.outcome.as_ref().unwrap_or_else(|e| panic!("{e:?}"));
        let sid = receiver.signed_in(tokens["id_token"].as_str().unwrap());
        logins.push((login.browser, sid));
    }
    let mut sids = Vec::new();
    for (replica, (browser, sid)) in replicas.iter().zip(logins.iter_mut()) {
        browser.switch_to(replica.addr());
        browser.sign_out().await;
        sids.push(sid.clone());
    }
    receiver.wait_for(&sids).await;
    // A later logout, delivered after those: the delivery loops have run on
    // since, and none delivered an earlier one again.
    let (browser, last) = &mut logins[3];
    browser.switch_to(replicas[2].addr());
    browser.sign_out().await;
    receiver.wait_for(std::slice::from_ref(last)).await;

    let posts = receiver.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 4, "{posts:?}");
    assert!(posts.values().all(|n| *n == 1), "exactly one POST per sid: {posts:?}");
    assert_eq!(receiver.ended.load(Ordering::SeqCst), 4, "each RP session ended once");
    assert!(receiver.sessions.lock().unwrap().values().all(|alive| !alive));
}
