//! A browser for tests: a cookie jar, the page's CSRF token, and a
//! [`SoftPasskey`] to answer WebAuthn ceremonies — driving the same pages
//! and JSON endpoints the real page script does.
//!
//! `sign_up` / `sign_in` are the login steps other end-to-end tests (the
//! OIDC flows) reuse: after them, `browser.client` carries a signed-in
//! session cookie.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::TestApp;
use super::soft_passkey::SoftPasskey;

/// What the "identifier shown once" page showed.
#[derive(Debug, Clone)]
pub struct SignedUp {
    /// Grouped, as shown (`XXXX-XXXX-XXXX-XXXX-C`).
    pub identifier: String,
    /// Grouped, as shown (`XXXX-XXXX-XXXX`).
    pub recovery_codes: Vec<String>,
}

pub struct Browser {
    /// Cookie jar on; redirects not followed; `localhost` → the test server.
    pub client: reqwest::Client,
    pub issuer: String,
    /// The origin the soft authenticator writes into clientDataJSON.
    pub origin: String,
    pub passkey: SoftPasskey,
    /// `Accept-Language` sent with every request.
    pub accept_language: String,
    csrf: Option<String>,
    /// Kept apart from `client`, so [`Browser::switch_to`] keeps the cookies.
    jar: Arc<reqwest::cookie::Jar>,
    /// Where requests go: the issuer, or `http://localhost:PORT` of another
    /// replica (reqwest's `resolve` ignores the port, the URL's wins).
    base: String,
}

impl Browser {
    /// A fresh browser with a device-bound passkey authenticator.
    pub fn new(app: &TestApp) -> Self {
        Self::with_passkey(app, SoftPasskey::new())
    }

    pub fn with_passkey(app: &TestApp, passkey: SoftPasskey) -> Self {
        Self::at(&app.issuer, app.addr, passkey)
    }

    /// A browser for the provider `issuer` (`http://localhost:PORT`) whose
    /// requests go to `addr` — e.g. one replica among several.
    pub fn at(issuer: &str, addr: SocketAddr, passkey: SoftPasskey) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        Self {
            client: client_to(&jar, addr),
            issuer: issuer.to_owned(),
            origin: issuer.to_owned(),
            passkey,
            accept_language: "fr-FR,fr;q=0.9".into(),
            csrf: None,
            jar,
            base: issuer.to_owned(),
        }
    }

    /// Sends the following requests to another replica behind the same
    /// issuer, with the same cookies (as a load balancer would).
    pub fn switch_to(&mut self, addr: SocketAddr) {
        self.client = client_to(&self.jar, addr);
        self.base = format!("http://localhost:{}", addr.port());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GETs a page; remembers its CSRF token.
    pub async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(self.url(path))
            .header("accept-language", &self.accept_language)
            .send()
            .await
            .expect("GET sent");
        let status = response.status();
        let body = response.text().await.expect("body");
        if let Some(token) = meta_csrf(&body) {
            self.csrf = Some(token);
        }
        (status, body)
    }

    /// Where a GET sends the browser: its `Location`, or the target of the
    /// page it answers when that page navigates on at once ([`refresh_target`]).
    pub async fn get_location(&mut self, path: &str) -> Option<String> {
        let response = self.client.get(self.url(path)).send().await.expect("GET sent");
        if let Some(location) = response.headers().get("location") {
            return Some(location.to_str().unwrap().to_owned());
        }
        refresh_target(&response.text().await.ok()?)
    }

    /// The CSRF token of this browser's session (loads `/signin` if none yet).
    pub async fn csrf(&mut self) -> String {
        if self.csrf.is_none() {
            self.get("/signin").await;
        }
        self.csrf.clone().expect("pages carry a CSRF token")
    }

    /// Forgets the remembered token (after a sign-out the session is new).
    pub fn forget_csrf(&mut self) {
        self.csrf = None;
    }

    /// POSTs JSON with the CSRF header, as the page script does.
    pub async fn post_json(&mut self, path: &str, body: &Value) -> reqwest::Response {
        let token = self.csrf().await;
        self.post_json_with_token(path, body, Some(&token)).await
    }

    pub async fn post_json_with_token(&mut self, path: &str, body: &Value, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).header("accept-language", &self.accept_language).json(body);
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        request.send().await.expect("POST sent")
    }

    /// POSTs a form with this session's `csrf` field added.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &token));
        let request = self.client.post(self.url(path)).header("accept-language", &self.accept_language);
        request.form(&all).send().await.expect("POST sent")
    }

    /// Starts a ceremony; panics unless the provider answers with options.
    pub async fn start(&mut self, path: &str, body: &Value) -> Value {
        let response = self.post_json(path, body).await;
        let status = response.status();
        let json: Value = response.json().await.expect("JSON");
        assert_eq!(status, StatusCode::OK, "{path}: {json}");
        json
    }

    /// Registers a credential on the soft authenticator for these options.
    pub fn create(&mut self, options: &Value) -> Value {
        self.passkey.register(options, &self.origin.clone()).expect("authenticator creates a credential")
    }

    /// Asserts with the soft authenticator for these options.
    pub fn assert(&mut self, options: &Value) -> Value {
        self.passkey.authenticate(options, &self.origin.clone()).expect("authenticator signs")
    }

    /// Signs up through `/signup` and reads the identifier page. Panics on failure.
    pub async fn sign_up(&mut self, given_name: &str, family_name: &str, email: Option<&str>) -> SignedUp {
        self.get("/signup").await;
        let options = self
            .start(
                "/signup/start",
                &json!({"given_name": given_name, "family_name": family_name, "email": email.unwrap_or("")}),
            )
            .await;
        let credential = self.create(&options);
        let response = self.post_json("/signup/finish", &json!({"credential": credential})).await;
        let status = response.status();
        let done: Value = response.json().await.expect("JSON");
        assert_eq!(status, StatusCode::OK, "sign-up finish: {done}");
        assert_eq!(done["redirect"], "/signup/done");
        let (status, page) = self.get("/signup/done").await;
        assert_eq!(status, StatusCode::OK);
        SignedUp {
            identifier: element_text(&page, r#"id="citizen-identifier""#).expect("identifier shown"),
            recovery_codes: page
                .split(r#"<li class="code">"#)
                .skip(1)
                .map(|rest| rest.split('<').next().unwrap_or_default().to_owned())
                .collect(),
        }
    }

    /// Usernameless sign-in; returns the raw finish response.
    pub async fn try_sign_in(&mut self, next: Option<&str>) -> reqwest::Response {
        self.get(&match next {
            Some(next) => format!("/signin?next={}", urlencode(next)),
            None => "/signin".to_owned(),
        })
        .await;
        let options = self.start("/signin/start", &json!({})).await;
        let assertion = self.assert(&options);
        self.post_json("/signin/finish", &json!({"credential": assertion, "next": next.unwrap_or("")})).await
    }

    /// Usernameless sign-in with the soft passkey; returns where the
    /// provider sends the browser next. Panics on failure.
    pub async fn sign_in(&mut self) -> String {
        self.sign_in_to(None).await
    }

    /// Sign-in from `/signin?next=…`; returns the redirect target.
    pub async fn sign_in_to(&mut self, next: Option<&str>) -> String {
        let response = self.try_sign_in(next).await;
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, StatusCode::OK, "sign-in finish: {body}");
        body["redirect"].as_str().expect("redirect").to_owned()
    }

    /// `POST /signout`.
    pub async fn sign_out(&mut self) {
        let response = self.post_form("/signout", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        self.forget_csrf();
    }

    /// `/account` as HTML, or panics if not signed in.
    pub async fn account(&mut self) -> String {
        let (status, body) = self.get("/account").await;
        assert_eq!(status, StatusCode::OK, "not signed in?");
        body
    }
}

fn client_to(jar: &Arc<reqwest::cookie::Jar>, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(Arc::clone(jar))
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", addr)
        .build()
        .expect("HTTP client")
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `content` of `<meta name="csrf-token" content="…">`.
pub fn meta_csrf(page: &str) -> Option<String> {
    let rest = page.split(r#"<meta name="csrf-token" content=""#).nth(1)?;
    let token = rest.split('"').next()?;
    (!token.is_empty()).then(|| token.to_owned())
}

/// Where a page sends the browser at once: the URL of its
/// `<meta http-equiv="refresh" content="0;url=…">` (after a form, the way
/// on to a service), unescaped.
pub fn refresh_target(page: &str) -> Option<String> {
    let rest = page.split(r#"<meta http-equiv="refresh" content="0;url="#).nth(1)?;
    let url = rest.split('"').next()?;
    Some(
        url.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// Text content of the first element carrying `marker` in its start tag.
pub fn element_text(page: &str, marker: &str) -> Option<String> {
    let rest = page.split(marker).nth(1)?;
    let rest = rest.split_once('>')?.1;
    Some(rest.split('<').next()?.to_owned())
}

/// Why the headless-browser tests cannot run here, if they cannot: Chromium,
/// the npm packages in `tests/browser`, or node missing.
fn browser_tools_missing(chromium: &str) -> Option<String> {
    if !std::path::Path::new(chromium).exists() {
        return Some(format!("{chromium} not found (apt-get install chromium)"));
    }
    if !browser_tests_dir().join("node_modules/playwright-core").exists() {
        return Some("tests/browser/node_modules missing (npm ci --prefix tests/browser)".into());
    }
    match std::process::Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("node not found".into()),
    }
}

/// The Chromium the browser scripts drive (`SESAME_CHROMIUM`, else Debian's),
/// or `None` when a tool is missing: the test is then skipped, saying why —
/// unless `SESAME_REQUIRE_BROWSER=1` (set by `.ci/run`), where it fails.
pub fn chromium_or_skip() -> Option<String> {
    let chromium = std::env::var("SESAME_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if let Some(why) = browser_tools_missing(&chromium) {
        assert!(std::env::var("SESAME_REQUIRE_BROWSER").as_deref() != Ok("1"), "browser test required but {why}");
        eprintln!("browser test skipped: {why}");
        return None;
    }
    Some(chromium)
}

/// Runs `tests/browser/<script>` under node with `args`, within 100 s; it
/// must exit successfully and print its `{"ok":true,…}` line. Returns stdout.
pub async fn run_script(chromium: &str, script: &str, args: &[&str]) -> String {
    let mut command = tokio::process::Command::new("node");
    command.arg(browser_tests_dir().join(script)).args(args).env("CHROMIUM", chromium).kill_on_drop(true);
    let output = tokio::time::timeout(std::time::Duration::from_secs(100), command.output())
        .await
        .expect("the browser script finishes within 100 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(output.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(r#""ok":true"#), "{script} did not report success:\n{stdout}");
    stdout
}

/// Runs `tests/browser/<script>` as [`run_script`] does, and when it prints
/// a line containing `prompt`, calls `answer` and writes a line to its
/// stdin (the script waits for it): e.g. the test moves the clock.
pub async fn run_script_answering(
    chromium: &str,
    script: &str,
    args: &[&str],
    prompt: &str,
    answer: impl FnOnce(),
) -> String {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    let mut child = tokio::process::Command::new("node")
        .arg(browser_tests_dir().join(script))
        .args(args)
        .env("CHROMIUM", chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut answer = Some(answer);
    let mut stdout = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("script output") {
            println!("{line}");
            if line.contains(prompt)
                && let Some(answer) = answer.take()
            {
                answer();
                stdin.write_all(b"go\n").await.expect("script input");
            }
            stdout.push_str(&line);
            stdout.push('\n');
        }
        child.wait().await.expect("script ends")
    };
    let status = tokio::time::timeout(std::time::Duration::from_secs(100), read)
        .await
        .expect("the browser script finishes within 100 s");
    assert!(status.success(), "{script} failed:\n{stdout}");
    assert!(stdout.contains(r#""ok":true"#), "{script} did not report success:\n{stdout}");
    stdout
}

/// `tests/browser` at the workspace root.
pub fn browser_tests_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser")
}
