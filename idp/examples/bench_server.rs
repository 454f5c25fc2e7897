//! Starts a provider (release build recommended) on 127.0.0.1:PORT with one
//! confidential client, one signed-in citizen and a stock of authorization
//! codes, writes what a load tool needs to a directory, and serves until
//! Ctrl-C. See docs/benchmarks.md for the wrk commands.
//!
//! cargo run --release -p idp --features test-support --example bench_server -- /tmp/sesame-bench 40000
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use idp::clients::NewClient;
use idp::testing::TestApp;

const REDIRECT: &str = "https://bench.example/cb";

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "/tmp/sesame-bench".into()));
    let codes: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(40_000);
    std::fs::create_dir_all(&dir).unwrap();

    let app = Arc::new(TestApp::spawn().await);
    let client = app
        .register_client(NewClient {
            client_name: "Bench".into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: vec!["authorization_code".into()],
            ..NewClient::default()
        })
        .await;
    let citizen = uuid::Uuid::new_v4().to_string();
    app.state.db.save_consent(&citizen, &client.client.client_id, "openid", app.clock.now()).await.unwrap();
    let cookie = Arc::new(app.session_cookie(&app.citizen_session(&citizen)).await);
    let verifier = "bench-verifier-bench-verifier-bench-verifier-0123456789";
    let challenge = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
    };
    let query = Arc::new(
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", client.client.client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("state", "s"),
                ("nonce", "n"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .finish(),
    );

    eprintln!("minting {codes} authorization codes…");
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = codes.div_ceil(16);
    for _ in 0..16 {
        let (app, cookie, query) = (Arc::clone(&app), Arc::clone(&cookie), Arc::clone(&query));
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let response = app
                    .client
                    .get(app.url(&format!("/authorize?{query}")))
                    .header("cookie", cookie.as_str())
                    .send()
                    .await
                    .unwrap();
                let location = response.headers()["location"].to_str().unwrap().to_owned();
                let code = url::Url::parse(&location)
                    .unwrap()
                    .query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
                    .unwrap();
                out.push(code);
            }
            out
        });
    }
    let mut all = Vec::with_capacity(codes);
    while let Some(batch) = tasks.join_next().await {
        all.extend(batch.unwrap());
    }
    // One code redeemed now gives the access token for the UserInfo load.
    let last = all.pop().unwrap();
    let response = app
        .client
        .post(app.url("/token"))
        .basic_auth(&client.client.client_id, client.client_secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &last),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    let tokens: serde_json::Value = response.json().await.unwrap();
    std::fs::write(dir.join("codes.txt"), all.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("access_token.txt"), tokens["access_token"].as_str().unwrap()).unwrap();
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            client.client.client_id,
            client.client_secret.clone().unwrap()
        ))
    };
    std::fs::write(
        dir.join("token.lua"),
        format!(
            r#"local codes = {{}}
for line in io.lines("{codes}") do codes[#codes + 1] = line end
local i = 0
request = function()
  i = i + 1
  local body = "grant_type=authorization_code&redirect_uri={redirect}&code_verifier={verifier}&code=" .. codes[i]
  return wrk.format("POST", "/token", {{["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = "Basic {basic}"}}, body)
end
"#,
            codes = dir.join("codes.txt").display(),
            redirect = url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("userinfo.lua"),
        format!("wrk.headers[\"Authorization\"] = \"Bearer {}\"\n", tokens["access_token"].as_str().unwrap()),
    )
    .unwrap();
    std::fs::write(dir.join("url.txt"), &app.issuer).unwrap();
    eprintln!("ready: {} ({} codes in {})", app.issuer, all.len(), dir.display());
    println!("READY {}", app.issuer);
    tokio::signal::ctrl_c().await.unwrap();
}
