//! A real browser: headless Chromium (playwright-core, CDP virtual
//! authenticator) signs up, signs out and signs back in through the pages.
//! Skipped, saying why, when Chromium or the npm packages are missing —
//! unless SESAME_REQUIRE_BROWSER=1 (set by .ci/run), where that fails.

use std::time::Duration;

use idp::testing::TestApp;
use idp::testing::browser::{browser_tests_dir as browser_dir, browser_tools_missing as missing_tools};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_sign_out_sign_in_in_headless_chromium() {
    let chromium = std::env::var("SESAME_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if let Some(why) = missing_tools(&chromium) {
        assert!(std::env::var("SESAME_REQUIRE_BROWSER").as_deref() != Ok("1"), "browser test required but {why}");
        eprintln!("browser test skipped: {why}");
        return;
    }
    let app = TestApp::spawn().await;
    let mut command = tokio::process::Command::new("node");
    command.arg(browser_dir().join("signup-signin.mjs")).arg(&app.issuer).env("CHROMIUM", &chromium).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(100), command.output())
        .await
        .expect("the browser test finishes within 100 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(output.status.success(), "browser test failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(r#""ok":true"#));
    assert_eq!(app.state.db.count_citizens().await.unwrap(), 1);
}
