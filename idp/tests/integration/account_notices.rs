//! Security notices by email, through a real SMTP server, in the citizen's
//! language: what happened, when, what to do (a link to `/account`); the
//! optional ones can be turned off.

use idp::mail::delivery::deliver_due;
use idp::testing::TestApp;
use idp::testing::browser::Browser;
use idp::testing::smtp::{Received, SmtpSink};
use reqwest::StatusCode;
use serde_json::json;

use crate::account_mail::{transport, verified_citizen};

/// Delivers what is due and returns the mails received since `before`.
async fn delivered(app: &TestApp, sink: &SmtpSink, before: usize) -> Vec<Received> {
    deliver_due(&app.state, &transport(app), "t").await.unwrap();
    sink.received().split_off(before)
}

fn assert_notice(mail: &Received, subject: &str, app: &TestApp) {
    assert_eq!(mail.subject, subject);
    let text = mail.text.as_deref().unwrap();
    assert!(text.contains(&app.url("/account")), "what to do: {text}");
    assert!(text.contains("UTC"), "when: {text}");
    assert!(mail.html.as_deref().unwrap().contains(&app.url("/account")));
}

#[tokio::test]
async fn each_notice_arrives_in_the_citizen_s_language() {
    let Some(sink) = SmtpSink::start().await else { return };
    let (app, mut browser, citizen_id) = verified_citizen(&sink, "en-GB,en;q=0.9", "camille@example.org").await;
    let mut seen = sink.received().len();

    // A passkey added (fresh session), then removed.
    let options = browser.start("/account/passkeys/start", &json!({"name": "laptop"})).await;
    let mut laptop = idp::testing::soft_passkey::SoftPasskey::new();
    let credential = laptop.register(&options, &app.issuer).unwrap();
    assert_eq!(browser.post_json("/account/passkeys/finish", &json!({"credential": credential})).await.status(), 200);
    let mails = delivered(&app, &sink, seen).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_notice(&mails[0], "A passkey was added to your Sésame account", &app);
    seen += 1;

    let added = app.state.db.passkeys_of(&citizen_id).await.unwrap().into_iter().find(|p| p.name == "laptop").unwrap();
    let removed = browser.post_form("/account/passkeys/remove", &[("credential_id", &added.credential_id)]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    let mails = delivered(&app, &sink, seen).await;
    assert_notice(&mails[0], "A passkey was removed from your Sésame account", &app);
    seen += 1;

    // Recovery codes renewed.
    browser.post_form("/account/recovery-codes", &[]).await;
    let mails = delivered(&app, &sink, seen).await;
    assert_notice(&mails[0], "New recovery codes for your Sésame account", &app);
    seen += 1;

    // A sign-in from a browser family not seen with this passkey, once.
    for round in 0..2 {
        let options = browser.start("/signin/start", &json!({})).await;
        let assertion = browser.assert(&options);
        let token = browser.csrf().await;
        let done = browser
            .client
            .post(browser.url("/signin/finish"))
            .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0")
            .header("x-csrf-token", token)
            .json(&json!({"credential": assertion}))
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 200);
        browser.forget_csrf();
        let mails = delivered(&app, &sink, seen).await;
        if round == 0 {
            assert_notice(&mails[0], "Sign-in to Sésame from a new device", &app);
            assert!(mails[0].text.as_deref().unwrap().contains("Firefox · Linux"));
            seen += 1;
        } else {
            assert!(mails.is_empty(), "a device seen before: {mails:?}");
        }
    }

    // A service withdrawn; then the optional notices turned off.
    let now = app.clock.now();
    let service = crate::oidc_support::confidential(&app).await.client.client_id;
    app.state.db.save_consent(&citizen_id, &service, "openid", now).await.unwrap();
    browser.post_form("/account/services/revoke", &[("client_id", &service)]).await;
    let mails = delivered(&app, &sink, seen).await;
    assert_notice(&mails[0], "A service no longer has access to your data", &app);
    assert!(mails[0].text.as_deref().unwrap().contains("Mairie de Test"));
    assert!(mails[0].text.as_deref().unwrap().contains("turn this kind of notice off"));
    seen += 1;
    let off = browser.post_form("/account/notices", &[]).await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    app.state.db.save_consent(&citizen_id, &service, "openid", now).await.unwrap();
    browser.post_form("/account/services/revoke", &[("client_id", &service)]).await;
    assert!(delivered(&app, &sink, seen).await.is_empty(), "optional notices off");

    // Deletion: critical, told to the address the erasure forgets.
    let deleted = browser.post_form("/account/delete", &[("confirm", "yes")]).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let mails = delivered(&app, &sink, seen).await;
    assert_notice(&mails[0], "Your Sésame account was deleted", &app);
    assert_eq!(mails[0].rcpt_to, ["camille@example.org"]);
}

#[tokio::test]
async fn a_recovery_code_used_is_told_in_french() {
    let Some(sink) = SmtpSink::start().await else { return };
    let (app, mut browser, _) = verified_citizen(&sink, "fr-FR,fr;q=0.9", "camille@example.fr").await;
    let seen = sink.received().len();
    let renewed = browser.post_form("/account/recovery-codes", &[]).await.text().await.unwrap();
    let code = renewed.split(r#"<li class="code">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
    let identifier = browser.account().await;
    let identifier = idp::testing::browser::element_text(&identifier, r#"id="citizen-identifier""#).unwrap();
    let mut device = Browser::new(&app);
    let options = device.start("/recover/start", &json!({"identifier": identifier, "code": code})).await;
    let credential = device.create(&options);
    assert_eq!(device.post_json("/recover/finish", &json!({"credential": credential})).await.status(), 200);
    let mails = delivered(&app, &sink, seen).await;
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Nouveaux codes de secours pour votre compte Sésame",
            "Un code de secours a été utilisé sur votre compte Sésame"
        ]
    );
    assert!(mails[1].text.as_deref().unwrap().contains("Quand :"));
}

#[tokio::test]
async fn no_notice_goes_to_an_unverified_address() {
    let Some(sink) = SmtpSink::start().await else { return };
    let url = sink.url();
    let app = TestApp::spawn_with(|env| {
        env.insert("SESAME_SMTP_URL".into(), url);
    })
    .await;
    let mut browser = Browser::new(&app);
    browser.sign_up("Camille", "Martin", Some("camille@example.fr")).await;
    browser.post_form("/account/recovery-codes", &[]).await;
    assert!(delivered(&app, &sink, 0).await.is_empty());
}

#[tokio::test]
async fn an_assisted_recovery_at_a_counter_is_told() {
    use crate::assisted_recovery::{enrol, recovery_check, start, verify_identity};
    let Some(sink) = SmtpSink::start().await else { return };
    let (app, _, citizen_id) = verified_citizen(&sink, "fr-FR,fr;q=0.9", "camille@example.fr").await;
    let agent = crate::verification::agent(&app).await;
    verify_identity(&app, &agent, &citizen_id, "X4RTBPFW4").await;
    let identifier = app.state.db.citizen_by_id(&citizen_id).await.unwrap().unwrap().identifier;
    let enrolment = start(&app, &agent, &recovery_check(&identifier, "X4RTBPFW4")).await.unwrap();
    let seen = sink.received().len();
    let mut new_device = Browser::new(&app);
    assert_eq!(enrol(&mut new_device, &enrolment.token).await.status(), StatusCode::OK);
    let mails = delivered(&app, &sink, seen).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_notice(&mails[0], "L’accès à votre compte Sésame a été rétabli à un guichet", &app);
}
