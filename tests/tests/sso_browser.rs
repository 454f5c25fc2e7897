//! The single sign-on path of `sso.rs`, in headless Chromium with a virtual
//! authenticator, through two real relying-party examples. Skipped, saying
//! why, without Chromium or the npm packages — unless SESAME_REQUIRE_BROWSER=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use idp::testing::TestApp;
use idp::testing::browser::{chromium_or_skip, run_script};
use sesame_e2e::start_service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_and_logout_in_headless_chromium() {
    let Some(chromium) = chromium_or_skip() else { return };
    let app = TestApp::spawn().await;
    let library = start_service(&app, "Médiathèque", "127.0.0.1", |_| {}).await;
    let canteen = start_service(&app, "Cantine scolaire", "localhost", |_| {}).await;
    run_script(&chromium, "sso.mjs", &[&library.base, &canteen.base]).await;

    // The second service hears of the logout through the back channel.
    assert_eq!(canteen.rp.open_sessions().len(), 1);
    let http = idp::oidc::logout::backchannel::http_client(&app.state.config).unwrap();
    idp::oidc::logout::backchannel::deliver_due(&app.state, &http, "browser-e2e").await.unwrap();
    assert!(canteen.rp.open_sessions().is_empty(), "the second service's session ended");
    assert!(library.rp.open_sessions().is_empty());
}
