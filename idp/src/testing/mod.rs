//! The test harness: a real provider on an ephemeral port with a fresh
//! database (a temporary SQLite file, or a new PostgreSQL database when
//! `SESAME_TEST_DATABASE_URL` is set) and its own Redis key prefix (when
//! `SESAME_TEST_REDIS_URL` is set), time from a [`ManualClock`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;

use crate::app::AppState;
use crate::clock::{ManualClock, SharedClock};
use crate::config::Config;
use crate::keys::{KeyError, RsaKeySource};
use crate::server;

pub mod browser;
pub mod smtp;
pub mod soft_passkey;

/// SIREN of the test organisation (Toulouse's, a valid check digit).
pub const TEST_SIREN: &str = "213105554";

/// A fixed start time for tests: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600;

const FIXTURE_RSA: [&str; 6] = [
    include_str!("../../tests/fixtures/rsa3072-1.pk8.b64"),
    include_str!("../../tests/fixtures/rsa3072-2.pk8.b64"),
    include_str!("../../tests/fixtures/rsa3072-3.pk8.b64"),
    include_str!("../../tests/fixtures/rsa3072-4.pk8.b64"),
    include_str!("../../tests/fixtures/rsa3072-5.pk8.b64"),
    include_str!("../../tests/fixtures/rsa3072-6.pk8.b64"),
];

/// Pre-generated RSA-3072 keys, handed out in order (RSA generation costs
/// seconds in debug builds).
#[derive(Debug, Default)]
pub struct FixtureRsa {
    next: AtomicUsize,
}

impl FixtureRsa {
    /// Skips the first `n` fixtures (those a provider took at start).
    pub fn starting_at(n: usize) -> Self {
        Self { next: AtomicUsize::new(n) }
    }
}

impl RsaKeySource for FixtureRsa {
    fn generate(&self) -> Result<Vec<u8>, KeyError> {
        let index = self.next.fetch_add(1, Ordering::SeqCst);
        let text = FIXTURE_RSA.get(index).ok_or(KeyError::Crypto("test RSA fixtures exhausted"))?;
        base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| KeyError::Crypto("test RSA fixture"))
    }
}

/// A database of its own for one test; dropped with it.
pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn create() -> Self {
        match std::env::var("SESAME_TEST_DATABASE_URL").ok().filter(|v| !v.is_empty()) {
            Some(admin_url) => {
                let name = format!("sesame_t_{}", crate::random::id());
                let admin = crate::store::Db::connect(&admin_url).await.expect("SESAME_TEST_DATABASE_URL reachable");
                admin.execute_admin(&format!("CREATE DATABASE {name}")).await.expect("create test database");
                admin.close().await;
                let mut url = url::Url::parse(&admin_url).expect("SESAME_TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                Self { url: url.to_string(), postgres: Some((admin_url, name)), _dir: None }
            }
            None => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Self { url, postgres: None, _dir: Some(dir) }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else { return };
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let admin = crate::store::Db::connect(&admin_url).await.ok()?;
                admin.execute_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()?;
                admin.close().await;
                Some(())
            })
        })
        .join();
    }
}

/// The environment of a test provider: everything explicit, nothing from
/// the process except the test backends.
pub fn test_env(db: &TestDatabase, data_dir: &std::path::Path, port: u16) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("SESAME_ISSUER".into(), format!("http://localhost:{port}"));
    env.insert("SESAME_BIND".into(), format!("127.0.0.1:{port}"));
    // Every test server picks a free port for its operators' listener.
    env.insert("SESAME_OPS_BIND".into(), "127.0.0.1:0".into());
    env.insert("SESAME_DATA_DIR".into(), data_dir.display().to_string());
    env.insert("SESAME_DATABASE_URL".into(), db.url.clone());
    env.insert("SESAME_MASTER_KEY".into(), base64::engine::general_purpose::STANDARD.encode(random_bytes::<32>()));
    // Tests deliver back-channel logouts explicitly (`deliver_due`), on the test clock.
    env.insert("SESAME_LOGOUT_DELIVERY_INTERVAL".into(), "1d".into());
    // Likewise mail (`mail::delivery::deliver_due`).
    env.insert("SESAME_MAIL_DELIVERY_INTERVAL".into(), "1d".into());
    if let Some(redis) = std::env::var("SESAME_TEST_REDIS_URL").ok().filter(|v| !v.is_empty()) {
        env.insert("SESAME_REDIS_URL".into(), redis);
        env.insert("SESAME_REDIS_PREFIX".into(), format!("sesame-test:{}:", crate::random::id()));
    }
    env
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    crate::random::bytes().expect("random bytes")
}

/// A running provider.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The operators' listener (`/metrics`, detailed `/readyz`, `/admin/api`).
    pub ops_addr: SocketAddr,
    /// `http://localhost:PORT`, the issuer.
    pub issuer: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub db: TestDatabase,
    pub data_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Starts a provider with the default test environment.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a provider after `adjust` has edited its environment.
    pub async fn spawn_with(adjust: impl FnOnce(&mut BTreeMap<String, String>)) -> Self {
        let listener = server::bind("127.0.0.1:0".parse().expect("address")).await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let ops = server::bind("127.0.0.1:0".parse().expect("address")).await.expect("bind");
        let ops_addr = ops.local_addr().expect("local address");
        let db = TestDatabase::create().await;
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let mut env = test_env(&db, data_dir.path(), addr.port());
        adjust(&mut env);
        let config = Config::from_env(&env).expect("valid test configuration");
        let clock = ManualClock::new(T0);
        let shared: SharedClock = clock.clone();
        let state = server::prepare(config, shared, &FixtureRsa::default()).await.expect("provider starts");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let listeners = server::Listeners { public: listener, ops };
        let server = tokio::spawn(server::serve(listeners, state.clone(), async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve("localhost", addr)
            .build()
            .expect("HTTP client");
        Self {
            addr,
            ops_addr,
            issuer: format!("http://localhost:{}", addr.port()),
            client,
            clock,
            state,
            db,
            data_dir,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// `issuer + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    /// A URL on the operators' listener (`/metrics`, `/readyz`, `/admin/api…`).
    pub fn ops_url(&self, path: &str) -> String {
        format!("http://{}{}", self.ops_addr, path)
    }

    pub async fn ops_get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.ops_url(path)).send().await.expect("request sent")
    }

    /// Writes a signed-in browser session straight into the session store
    /// (protocol tests; the passkey tests sign in for real) and returns the
    /// `Cookie` header value that presents it.
    pub async fn session_cookie(&self, auth: &crate::login::AuthSession) -> String {
        use tower_sessions::SessionStore as _;
        let mut data = std::collections::HashMap::new();
        data.insert("auth".to_owned(), serde_json::to_value(auth).expect("session data"));
        let mut record = tower_sessions::session::Record {
            id: tower_sessions::session::Id::default(),
            data,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(self.clock.now() + 3_600).expect("time"),
        };
        self.state.cache.sessions().create(&mut record).await.expect("session stored");
        self.record_login(auth).await;
        format!("{}={}", crate::app::SESSION_COOKIE, record.id)
    }

    /// Stores the citizen (if new) and the login behind `auth`, as sign-in does.
    pub async fn record_login(&self, auth: &crate::login::AuthSession) {
        let identifier =
            crate::citizen::CitizenIdentifier::generate(&ring::rand::SystemRandom::new()).expect("identifier");
        self.state
            .db
            .insert_citizen_for_tests(&crate::store::CitizenRecord {
                id: auth.citizen_id.clone(),
                identifier: identifier.as_str().to_owned(),
                given_name: "Camille".to_owned(),
                family_name: "Martin".to_owned(),
                email: Some("camille.martin@example.fr".to_owned()),
                created_at: auth.auth_time,
            })
            .await
            .expect("citizen stored");
        self.state
            .db
            .insert_login_session(&crate::store::LoginSessionRecord {
                sid: auth.sid.clone(),
                citizen_id: auth.citizen_id.clone(),
                created_at: auth.auth_time,
                expires_at: auth.expires_at,
                device: "test".to_owned(),
                amr: auth.amr.join(" "),
            })
            .await
            .expect("login stored");
    }

    /// A signed-in citizen as of now, with a user-verified device-bound passkey.
    pub fn citizen_session(&self, citizen_id: &str) -> crate::login::AuthSession {
        crate::login::AuthSession {
            citizen_id: citizen_id.to_owned(),
            auth_time: self.clock.now(),
            acr: "eidas1".to_owned(),
            amr: vec!["hwk".to_owned(), "user".to_owned(), "mfa".to_owned()],
            sid: crate::random::id(),
            expires_at: self.clock.now() + 12 * 3_600,
        }
    }

    /// A citizen account as sign-up leaves it (without passkey); its id.
    pub async fn citizen(&self) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.record_login(&self.citizen_session(&id)).await;
        id
    }

    /// An invitation to hold `role` in an organisation, issued by the operator.
    pub async fn invitation(
        &self,
        organisation_id: &str,
        role: crate::clients::members::Role,
    ) -> crate::clients::members::IssuedInvitation {
        let actor = crate::clients::Actor::cli();
        crate::clients::members::invite(
            &self.state.db,
            organisation_id,
            role,
            3_600,
            &self.issuer,
            &actor,
            self.clock.now(),
        )
        .await
        .expect("invitation issued")
    }

    /// A new citizen holding `role` in the organisation (invited, accepted); its id.
    pub async fn member(&self, organisation_id: &str, role: crate::clients::members::Role) -> String {
        let id = self.citizen().await;
        let link = self.invitation(organisation_id, role).await.link;
        let token = link.split("token=").nth(1).unwrap_or_default();
        crate::clients::members::accept(&self.state.db, token, &id, self.clock.now())
            .await
            .expect("invitation accepted");
        id
    }

    /// Registers a client directly (administrator path), in the test
    /// organisation unless `new` names one.
    pub async fn register_client(&self, mut new: crate::clients::NewClient) -> crate::clients::Registered {
        if new.organisation_id.is_empty() {
            new.organisation_id = self.organisation().await.organisation_id;
        }
        crate::clients::register(
            &self.state.db,
            &self.state.fetcher,
            new,
            &crate::clients::Actor::cli(),
            None,
            self.clock.now(),
        )
        .await
        .expect("client registered")
    }

    /// The test organisation (a commune), created on first use.
    pub async fn organisation(&self) -> crate::clients::Organisation {
        self.organisation_with_code(TEST_SIREN).await
    }

    /// An organisation with this official code (SIREN or INSEE), created on first use.
    pub async fn organisation_with_code(&self, code: &str) -> crate::clients::Organisation {
        use crate::clients::admin;
        if let Some(found) = admin::find_organisation(&self.state.db, code).await.expect("organisation read") {
            return found;
        }
        let new = admin::NewOrganisation {
            name: format!("Commune {code}"),
            kind: "commune".into(),
            official_code: code.into(),
            contacts: vec!["dsi@mairie.example.fr".into()],
        };
        admin::create_organisation(&self.state.db, new, &crate::clients::Actor::cli(), self.clock.now())
            .await
            .expect("organisation created")
    }

    /// An initial access token for an organisation (RFC 7591 §3).
    pub async fn initial_access_token(&self, organisation_id: &str, lifetime: i64, single_use: bool) -> String {
        self.issue_token(crate::store::TokenKind::InitialAccess, Some(organisation_id), lifetime, single_use).await
    }

    /// An administrator token for the admin API: one organisation's, or global (`None`).
    pub async fn admin_token(&self, organisation_id: Option<&str>) -> String {
        self.issue_token(crate::store::TokenKind::Admin, organisation_id, 3_600, false).await
    }

    async fn issue_token(
        &self,
        kind: crate::store::TokenKind,
        organisation: Option<&str>,
        lifetime: i64,
        single_use: bool,
    ) -> String {
        let new = crate::clients::admin::NewToken {
            kind,
            organisation: organisation.map(str::to_owned),
            description: "test".into(),
            lifetime,
            single_use,
        };
        crate::clients::admin::issue_token(&self.state.db, new, &crate::clients::Actor::cli(), self.clock.now())
            .await
            .expect("token issued")
            .token
    }

    /// Stops the server but keeps its database (a restart test starts
    /// another provider on `self.db.url`).
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Stops the server, waiting for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}
