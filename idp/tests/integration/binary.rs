//! The `idp` binary itself: CLI, start-up refusals, graceful shutdown.

use std::collections::BTreeMap;
use std::process::Stdio;

use idp::testing::{TestDatabase, test_env};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

pub(super) fn idp(env: &BTreeMap<String, String>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_idp"));
    command.env_clear().envs(env).env("PATH", std::env::var("PATH").unwrap_or_default()).kill_on_drop(true);
    command
}

pub(super) async fn run(env: &BTreeMap<String, String>, args: &[&str]) -> (bool, String, String) {
    let output = idp(env).args(args).output().await.unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(super) struct Env {
    pub(super) env: BTreeMap<String, String>,
    _db: TestDatabase,
    _dir: tempfile::TempDir,
}

pub(super) async fn environment() -> Env {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = test_env(&db, dir.path(), free_port());
    Env { env, _db: db, _dir: dir }
}

/// Starts `idp serve` and reads its log until a message starting with
/// `wanted` appears.
pub(super) async fn serve_until(
    env: &BTreeMap<String, String>,
    wanted: &str,
) -> (Child, tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) {
    let mut child = idp(env).arg("serve").stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    wait_for_line(&mut lines, wanted).await;
    (child, lines)
}

/// Reads the JSON log (`SESAME_LOG_FORMAT=json`, the default) until an
/// entry whose `message` starts with `wanted`, and returns that entry.
/// Every line on the way must be one JSON object with a timestamp, a level
/// and a target: a text line fails the test.
pub(super) async fn wait_for_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    wanted: &str,
) -> serde_json::Value {
    while let Some(line) = lines.next_line().await.unwrap() {
        let entry: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        let timestamp = entry["timestamp"].as_str().unwrap_or_else(|| panic!("no timestamp: {line}"));
        assert!(
            time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339).is_ok(),
            "{line}"
        );
        assert!(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&entry["level"].as_str().unwrap_or("")), "{line}");
        assert!(entry["target"].as_str().is_some_and(|t| !t.is_empty()), "no target: {line}");
        let message = entry["message"].as_str().unwrap_or_else(|| panic!("no message: {line}"));
        if message.starts_with(wanted) {
            return entry;
        }
    }
    panic!("the provider exited before logging {wanted:?}");
}

#[tokio::test]
async fn check_config_reports_each_problem_on_its_own_line() {
    let mut env = BTreeMap::new();
    env.insert("HOME".to_owned(), "/nonexistent".to_owned());
    env.insert("SESAME_ISSUER".to_owned(), "http://sesame.example.fr".to_owned());
    env.insert("SESAME_BIND".to_owned(), "0.0.0.0:8080".to_owned());
    env.insert("SESAME_ACCESS_TOKEN_TTL".to_owned(), "forever".to_owned());
    let (ok, _, stderr) = run(&env, &["check-config"]).await;
    assert!(!ok);
    for setting in ["SESAME_ISSUER:", "SESAME_MASTER_KEY:", "SESAME_ACCESS_TOKEN_TTL:"] {
        assert_eq!(stderr.lines().filter(|l| l.trim_start().starts_with(setting)).count(), 1, "{setting}\n{stderr}");
    }

    let env = environment().await;
    let (ok, stdout, stderr) = run(&env.env, &["check-config"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("configuration is valid"));
    assert!(!stdout.contains(&env.env["SESAME_MASTER_KEY"]), "secrets are never printed");
}

/// The port `idp serve` listens on in this environment.
fn port_of(env: &BTreeMap<String, String>) -> u16 {
    env["SESAME_BIND"].rsplit(':').next().unwrap().parse().unwrap()
}

/// GET on a replica's port: status, Retry-After and body.
async fn get(port: u16, path: &str) -> (u16, Option<String>, String) {
    let response = reqwest::get(format!("http://127.0.0.1:{port}{path}")).await.unwrap();
    let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), retry, response.text().await.unwrap())
}

#[tokio::test]
async fn an_unreachable_database_keeps_the_process_up_and_not_ready_with_the_cause() {
    let mut env = environment().await.env;
    env.insert("SESAME_DATABASE_URL".into(), "postgres://nobody@127.0.0.1:1/none".into());
    let port = port_of(&env);
    let (_child, _lines) = serve_until(&env, "not ready yet").await;
    assert_eq!(get(port, "/healthz").await.0, 200, "alive: no crash loop");
    let (status, _, body) = get(port, "/readyz").await;
    assert_eq!(status, 503);
    let readiness: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(readiness["ready"], false);
    assert!(readiness["starting"].as_str().unwrap().starts_with("cannot reach the database"), "{body}");
    let (status, retry, _) = get(port, "/.well-known/openid-configuration").await;
    assert_eq!((status, retry.as_deref()), (503, Some("5")));
}

/// Pods start before the migration Job finishes: they wait, not-ready, and
/// serve as soon as `idp migrate` has run, without a restart.
#[tokio::test]
async fn a_schema_behind_waits_for_idp_migrate_then_serves() {
    let mut env = environment().await;
    env.env.insert("SESAME_AUTO_MIGRATE".into(), "false".into());
    let port = port_of(&env.env);
    let (mut child, mut lines) = serve_until(&env.env, "not ready yet").await;
    let (status, _, body) = get(port, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("migration(s) behind: run `idp migrate`"), "{body}");

    let (ok, _, stderr) = run(&env.env, &["migrate"]).await;
    assert!(ok, "{stderr}");
    wait_for_line(&mut lines, "Sésame is ready").await;
    let (status, _, body) = get(port, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(port, "/.well-known/openid-configuration").await.0, 200);
    child.kill().await.unwrap();
}

/// Errors waiting cannot cure stop the process with their message.
#[tokio::test]
async fn a_configuration_error_stops_start_up_with_one_line() {
    let mut env = environment().await.env;
    env.insert("SESAME_ACCESS_TOKEN_TTL".into(), "forever".into());
    let (ok, _, stderr) = run(&env, &["serve"]).await;
    assert!(!ok);
    assert!(stderr.contains("SESAME_ACCESS_TOKEN_TTL"), "{stderr}");
}

#[tokio::test]
async fn migrate_then_keys_list_and_rotate() {
    let env = environment().await;
    let (ok, stdout, stderr) = run(&env.env, &["migrate"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("up to date"), "{stdout}");
    let (ok, stdout, stderr) = run(&env.env, &["keys", "list", "--json"]).await;
    assert!(ok, "{stderr}");
    let keys: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(keys.len(), 4);
    assert!(keys.iter().all(|k| k["state"] == "active"), "{stdout}");

    let (ok, stdout, stderr) = run(&env.env, &["keys", "rotate", "--alg", "ES256", "--publish-for", "10m"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("published 1 new key(s), signing in 600 s"), "{stdout}");
    let (_, stdout, _) = run(&env.env, &["keys", "list"]).await;
    assert_eq!(stdout.lines().filter(|l| l.contains(" next ")).count(), 1, "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.contains(" active ")).count(), 4, "{stdout}");

    let (ok, _, stderr) = run(&env.env, &["keys", "rotate", "--alg", "HS256"]).await;
    assert!(!ok);
    assert!(stderr.contains("unknown algorithm"), "{stderr}");
}

#[tokio::test]
async fn a_wrong_master_key_never_replaces_the_keys() {
    let mut env = environment().await;
    let (ok, _, stderr) = run(&env.env, &["migrate"]).await;
    assert!(ok, "{stderr}");
    let (_, before, _) = run(&env.env, &["keys", "list", "--json"]).await;

    let original = env.env.insert("SESAME_MASTER_KEY".into(), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    let (ok, _, stderr) = run(&env.env, &["serve"]).await;
    assert!(!ok);
    assert!(stderr.contains("does not match the one this database was created with"), "{stderr}");

    env.env.insert("SESAME_MASTER_KEY".into(), original.unwrap());
    let (_, after, _) = run(&env.env, &["keys", "list", "--json"]).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let mut env = environment().await;
    // The request-start log line tells us the handler has the request.
    env.env.insert("SESAME_LOG".into(), "info,tower_http=debug".into());
    let port = port_of(&env.env);
    let mut child = idp(&env.env).arg("serve").stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = wait_for_line(&mut lines, "Sésame is ready").await;
    assert_eq!((&ready["level"], &ready["target"]), (&"INFO".into(), &"idp".into()), "{ready}");
    assert_eq!(ready["issuer"], env.env["SESAME_ISSUER"].as_str(), "{ready}");
    assert_eq!(ready["address"], format!("127.0.0.1:{port}"), "{ready}");
    assert!(["sqlite", "postgres"].contains(&ready["database"].as_str().unwrap_or("")), "{ready}");

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(
            b"POST /csp-report?secret=s3 HTTP/1.1\r\nhost: localhost\r\nx-request-id: sigterm-1\r\n\
              content-length: 20\r\nconnection: close\r\n\r\n0123456789",
        )
        .await
        .unwrap();
    let started = wait_for_line(&mut lines, "started processing request").await;
    // The request's span is on each of its lines: method, path (never the query), request id.
    assert_eq!(started["span"]["method"], "POST", "{started}");
    assert_eq!(started["span"]["path"], "/csp-report", "{started}");
    assert_eq!(started["span"]["request_id"], "sigterm-1", "{started}");
    assert!(!started.to_string().contains("s3"), "{started}");

    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let draining = wait_for_line(&mut lines, "shutting down").await;
    assert_eq!((&draining["level"], &draining["target"]), (&"INFO".into(), &"idp::server".into()), "{draining}");

    // The in-flight request completes after the signal.
    stream.write_all(b"0123456789").await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");

    let finished = wait_for_line(&mut lines, "finished processing request").await;
    assert_eq!(
        (&finished["status"], &finished["span"]["request_id"]),
        (&204.into(), &"sigterm-1".into()),
        "{finished}"
    );
    wait_for_line(&mut lines, "stopped cleanly").await;
    assert!(child.wait().await.unwrap().success());
}

pub(super) fn json_of(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test]
async fn org_and_client_commands_against_a_real_database() {
    let env = environment().await;
    assert!(run(&env.env, &["migrate"]).await.0);
    let org = |args: &'static [&'static str]| run(&env.env, args);
    let (ok, stdout, stderr) = org(&[
        "org",
        "create",
        "--name",
        "Ville de Toulouse",
        "--kind",
        "commune",
        "--code",
        "213105554",
        "--contact",
        "dsi@toulouse.example.fr",
        "--json",
    ])
    .await;
    assert!(ok, "{stderr}");
    let organisation = json_of(&stdout);
    let org_id = organisation["organisation_id"].as_str().unwrap().to_owned();
    assert_eq!(organisation["official_code"], "213105554");
    let (ok, _, stderr) = org(&["org", "create", "--name", "X", "--kind", "commune", "--code", "213105555"]).await;
    assert!(!ok && stderr.contains("wrong check digit"), "{stderr}");
    let (ok, _, stderr) = org(&["org", "create", "--name", "X", "--kind", "canton", "--code", "31555"]).await;
    assert!(!ok && stderr.contains("kind \"canton\""), "{stderr}");
    let (ok, _, stderr) = org(&["org", "create", "--name", "Bis", "--kind", "commune", "--code", "213105554"]).await;
    assert!(!ok && stderr.contains("exists already"), "{stderr}");
    let (ok, stdout, _) = org(&["org", "list"]).await;
    assert!(ok && stdout.contains("Ville de Toulouse") && stdout.contains(&org_id), "{stdout}");

    // A client needs an organisation.
    let (ok, _, stderr) =
        run(&env.env, &["client", "create", "--name", "X", "--redirect-uri", "https://x.example.fr/cb"]).await;
    assert!(!ok && stderr.contains("--org"), "{stderr}");
    let (ok, stdout, stderr) = run(
        &env.env,
        &[
            "client",
            "create",
            "--org",
            "213105554",
            "--name",
            "Médiathèque",
            "--redirect-uri",
            "https://mediatheque.example.fr/cb",
            "--json",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let created = json_of(&stdout);
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    assert_eq!(created["client_secret"].as_str().unwrap().len(), 43, "256-bit secret");
    assert_eq!(created["registration_access_token"].as_str().unwrap().len(), 43);
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(created["id_token_signed_response_alg"], "ES256", "administrators' clients keep ES256");
    assert_eq!(created["organisation_id"], org_id.as_str());

    let (ok, stdout, stderr) = run(&env.env, &["client", "list", "--org", &org_id]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&client_id) && stdout.contains("Médiathèque"), "{stdout}");
    let (ok, stdout, _) = run(&env.env, &["client", "show", &client_id, "--json"]).await;
    assert!(ok);
    assert!(!stdout.contains("\"client_secret\""), "the secret is never shown again: {stdout}");
    let (ok, stdout, _) = run(&env.env, &["org", "show", &org_id, "--json"]).await;
    assert!(ok && json_of(&stdout)["clients"][0] == client_id.as_str(), "{stdout}");

    // Update changes only what is named; the same validation as HTTP.
    let (ok, stdout, stderr) = run(
        &env.env,
        &["client", "update", &client_id, "--scope", "openid email", "--public-subject", "true", "--json"],
    )
    .await;
    assert!(ok, "{stderr}");
    let updated = json_of(&stdout);
    assert_eq!(updated["scope"], "openid email");
    assert_eq!(updated["subject_type"], "public");
    assert_eq!(updated["redirect_uris"][0], "https://mediatheque.example.fr/cb");
    let (ok, _, stderr) =
        run(&env.env, &["client", "update", &client_id, "--redirect-uri", "https://*.example.fr/cb"]).await;
    assert!(!ok);
    assert!(stderr.contains("invalid_redirect_uri: redirect_uris:") && stderr.contains("wildcard"), "{stderr}");
    let (ok, _, stderr) = run(
        &env.env,
        &["client", "create", "--org", &org_id, "--name", "X", "--redirect-uri", "http://mediatheque.example.fr/cb"],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("invalid_redirect_uri") && stderr.contains("must use https"), "{stderr}");
    // Exactly the validation's text: `error: error_description` as /register answers it.
    let expected = idp::clients::check_redirect_uri("http://mediatheque.example.fr/cb").unwrap_err().to_string();
    assert_eq!(stderr.trim(), format!("idp: {expected}"));

    let (ok, stdout, stderr) =
        run(&env.env, &["client", "rotate-secret", &client_id, "--overlap", "1h", "--json"]).await;
    assert!(ok, "{stderr}");
    let rotated = json_of(&stdout);
    assert_ne!(rotated["client_secret"], created["client_secret"]);
    assert!(rotated["previous_secret_expires_at"].as_i64().is_some());

    // A PKCE exemption: a reason required, shown by `client show`, kept in the log.
    let (ok, _, stderr) = run(&env.env, &["client", "update", &client_id, "--pkce-exempt", "true"]).await;
    assert!(!ok && stderr.contains("--reason"), "{stderr}");
    let reason = "LemonLDAP::NG 2.16 (Debian 12) sends no code_challenge";
    let (ok, _, stderr) =
        run(&env.env, &["client", "update", &client_id, "--pkce-exempt", "true", "--reason", reason]).await;
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = run(&env.env, &["client", "show", &client_id]).await;
    assert!(ok && stdout.contains("pkce_exempt_reason") && stdout.contains(reason), "{stdout}");
    let (ok, stdout, _) = run(&env.env, &["admin", "events", "--json"]).await;
    assert!(ok && stdout.contains(reason), "the administrators' log keeps the reason: {stdout}");
    let (ok, stdout, _) = run(&env.env, &["client", "update", &client_id, "--pkce-exempt", "false", "--json"]).await;
    assert!(ok && json_of(&stdout)["pkce_exempt_reason"].is_null(), "{stdout}");

    let (ok, stdout, _) = run(&env.env, &["client", "delete", &client_id]).await;
    assert!(ok && stdout.contains("deleted"), "{stdout}");
    let (ok, _, stderr) = run(&env.env, &["client", "show", &client_id]).await;
    assert!(!ok);
    assert!(stderr.contains("no client"), "{stderr}");
}

#[tokio::test]
async fn initial_access_and_admin_token_commands() {
    let env = environment().await;
    assert!(run(&env.env, &["migrate"]).await.0);
    let (ok, _, stderr) =
        run(&env.env, &["org", "create", "--name", "Département", "--kind", "departement", "--code", "200046977"])
            .await;
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) =
        run(&env.env, &["iat", "issue", "--org", "200046977", "--single-use", "--expires-in", "1d", "--json"]).await;
    assert!(ok, "{stderr}");
    let issued = json_of(&stdout);
    assert_eq!(issued["token"].as_str().unwrap().len(), 43);
    assert_eq!(issued["single_use"], true);
    let token_id = issued["token_id"].as_str().unwrap().to_owned();
    let (ok, stdout, _) = run(&env.env, &["iat", "list"]).await;
    assert!(ok && stdout.contains(&token_id) && stdout.contains("valid"), "{stdout}");
    assert!(!stdout.contains(issued["token"].as_str().unwrap()), "token values are never listed");
    let (ok, _, stderr) = run(&env.env, &["iat", "issue", "--org", "nope"]).await;
    assert!(!ok && stderr.contains("no organisation"), "{stderr}");
    assert!(run(&env.env, &["iat", "revoke", &token_id]).await.0);
    let (ok, stdout, _) = run(&env.env, &["iat", "list", "--json"]).await;
    assert!(ok && json_of(&stdout)[0]["revoked_at"].is_i64(), "{stdout}");
    let (ok, _, stderr) = run(&env.env, &["iat", "revoke", &token_id]).await;
    assert!(!ok && stderr.contains("revoked already"), "{stderr}");

    let (ok, stdout, stderr) = run(&env.env, &["admin", "token", "issue", "--description", "ops", "--json"]).await;
    assert!(ok, "{stderr}");
    let admin = json_of(&stdout);
    assert!(admin["organisation_id"].is_null(), "global");
    let admin_id = admin["token_id"].as_str().unwrap().to_owned();
    let (ok, stdout, _) = run(&env.env, &["admin", "token", "list"]).await;
    assert!(ok && stdout.contains(&admin_id) && stdout.contains("all"), "{stdout}");
    assert!(run(&env.env, &["admin", "token", "revoke", &admin_id]).await.0);
    let (ok, stdout, _) = run(&env.env, &["admin", "events", "--json"]).await;
    assert!(ok, "{stdout}");
    let actions: Vec<String> =
        json_of(&stdout).as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    for action in
        ["organisation.create", "initial_access_token.issue", "initial_access_token.revoke", "admin_token.revoke"]
    {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn member_commands_invite_list_and_withdraw() {
    let env = environment().await;
    assert!(run(&env.env, &["migrate"]).await.0);
    let org = ["org", "create", "--name", "Mairie", "--kind", "commune", "--code", "213105554"];
    assert!(run(&env.env, &org).await.0);
    let (ok, stdout, stderr) =
        run(&env.env, &["member", "add", "--org", "213105554", "--role", "agent", "--expires-in", "2d"]).await;
    assert!(ok, "{stderr}");
    let link = stdout.lines().find_map(|l| l.trim().strip_prefix("link")).expect("a link line").trim().to_owned();
    assert!(link.starts_with(&format!("{}/invitation?token=", env.env["SESAME_ISSUER"])), "{stdout}");
    let (ok, stdout, _) = run(&env.env, &["member", "list", "--org", "213105554", "--json"]).await;
    assert!(ok, "{stdout}");
    let listed = json_of(&stdout);
    assert_eq!(listed["members"], serde_json::json!([]));
    assert_eq!(listed["invitations"][0]["role"], "agent");
    assert_eq!(listed["invitations"][0]["state"], "pending");
    assert!(!stdout.contains(link.split("token=").nth(1).unwrap()), "the link is shown once only");
    let invitation_id = listed["invitations"][0]["invitation_id"].as_str().unwrap().to_owned();
    let (ok, _, stderr) = run(&env.env, &["member", "uninvite", "--org", "213105554", &invitation_id]).await;
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = run(&env.env, &["member", "list", "--org", "213105554"]).await;
    assert!(ok && stdout.contains("revoked"), "{stdout}");

    let (ok, _, stderr) = run(&env.env, &["member", "add", "--org", "213105554", "--role", "mayor"]).await;
    assert!(!ok && stderr.contains("role \"mayor\""), "{stderr}");
    let (ok, _, stderr) = run(&env.env, &["member", "remove", "--org", "213105554", "--citizen", "ABCD"]).await;
    assert!(!ok && stderr.contains("not a member"), "{stderr}");
}
