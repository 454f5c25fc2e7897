//! A real browser: headless Chromium (playwright-core, CDP virtual
//! authenticator) signs up, signs out and signs back in through the pages.
//! Skipped, saying why, when Chromium or the npm packages are missing —
//! unless SESAME_REQUIRE_BROWSER=1 (set by .ci/run), where that fails.

use idp::testing::TestApp;
use idp::testing::browser::{chromium_or_skip, run_script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_sign_out_sign_in_in_headless_chromium() {
    let Some(chromium) = chromium_or_skip() else { return };
    let app = TestApp::spawn().await;
    run_script(&chromium, "signup-signin.mjs", &[&app.issuer]).await;
    assert_eq!(app.state.db.count_citizens().await.unwrap(), 1);
}
