//! The single sign-on path of `sso.rs`, in headless Chromium with a virtual
//! authenticator, through two real relying-party examples. Skipped, saying
//! why, without Chromium or the npm packages — unless SESAME_REQUIRE_BROWSER=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use idp::testing::TestApp;
use idp::testing::browser::{browser_tests_dir, browser_tools_missing};
use sesame_e2e::start_service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_and_logout_in_headless_chromium() {
    let chromium = std::env::var("SESAME_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if let Some(why) = browser_tools_missing(&chromium) {
        assert!(std::env::var("SESAME_REQUIRE_BROWSER").as_deref() != Ok("1"), "browser test required but {why}");
        eprintln!("browser test skipped: {why}");
        return;
    }
    let app = TestApp::spawn().await;
    let library = start_service(&app, "Médiathèque", "127.0.0.1", |_| {}).await;
    let canteen = start_service(&app, "Cantine scolaire", "localhost", |_| {}).await;
    let mut command = tokio::process::Command::new("node");
    command
        .arg(browser_tests_dir().join("sso.mjs"))
        .arg(&library.base)
        .arg(&canteen.base)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(100), command.output())
        .await
        .expect("the browser test finishes within 100 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(output.status.success(), "browser test failed:\n{stdout}\n{stderr}");

    // The second service hears of the logout through the back channel.
    assert_eq!(canteen.rp.open_sessions().len(), 1);
    let http = idp::oidc::logout::backchannel::http_client(true).unwrap();
    idp::oidc::logout::backchannel::deliver_due(&app.state, &http, "browser-e2e").await.unwrap();
    assert!(canteen.rp.open_sessions().is_empty(), "the second service's session ended");
    assert!(library.rp.open_sessions().is_empty());
}
