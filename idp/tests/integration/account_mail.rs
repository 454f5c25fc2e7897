//! Mail through a real SMTP server (aiosmtpd, `idp::testing::smtp`): email
//! verification by code and by link, one verified address per account,
//! the outbox surviving the server being down, and the limits.

use idp::mail::{Transport, delivery::deliver_due};
use idp::testing::TestApp;
use idp::testing::browser::Browser;
use idp::testing::smtp::{Received, SmtpSink};
use reqwest::StatusCode;

use crate::oidc_support::{Flow, confidential, pkce, query_of, userinfo_ok};

async fn app_with(sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    TestApp::spawn_with(|env| {
        env.insert("SESAME_SMTP_URL".into(), url);
        env.insert("SESAME_MAIL_FROM".into(), "Sésame <no-reply@sesame.test>".into());
    })
    .await
}

pub fn transport(app: &TestApp) -> Transport {
    Transport::from_settings(&app.state.config.mail).unwrap()
}

/// The six digits after "Sésame : " / "Sésame: " in a code mail.
pub fn code_in(mail: &Received) -> String {
    let text = mail.text.as_deref().unwrap();
    let at = text.find("Sésame").unwrap();
    text[at..].chars().filter(char::is_ascii_digit).take(6).collect()
}

pub fn link_in(mail: &Received) -> String {
    let text = mail.text.as_deref().unwrap();
    let start = text.find("/account/email/confirm?token=").unwrap();
    let rest = &text[start..];
    rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())].to_owned()
}

async fn citizen_id_of(app: &TestApp, browser: &Browser, identifier: &str) -> String {
    let _ = browser;
    app.state.db.citizen_by_identifier(&identifier.replace('-', "")).await.unwrap().unwrap().id
}

#[tokio::test]
async fn an_email_is_verified_by_the_mailed_code_and_services_see_it() {
    let Some(sink) = SmtpSink::start().await else { return };
    let app = app_with(&sink).await;
    let transport = transport(&app);
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", Some("camille@example.fr")).await;
    let (status, page) = browser.get("/account/email").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("pas encore vérifiée"), "{page}");

    let sent = browser.post_form("/account/email", &[("email", "camille@example.fr")]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(deliver_due(&app.state, &transport, "t").await.unwrap(), 1);
    let received = sink.received();
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.rcpt_to, ["camille@example.fr"]);
    assert_eq!(mail.subject, "Votre code de vérification Sésame");
    assert_eq!(mail.content_type, "multipart/alternative");
    let html = mail.html.as_deref().unwrap();
    assert!(!html.contains("<img") && !html.contains("http://") || html.contains(&app.issuer), "{html}");
    let code = code_in(mail);
    assert_eq!(code.len(), 6, "{mail:?}");
    assert!(html.contains(&code));

    // A wrong code: the message next to the field, nothing verified.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = browser.post_form("/account/email/verify", &[("code", wrong)]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(page.contains("aria-invalid=\"true\"") && page.contains("pas celui que nous avons envoyé"), "{page}");

    let verified = browser.post_form("/account/email/verify", &[("code", &code)]).await;
    assert_eq!(verified.status(), StatusCode::SEE_OTHER);
    assert_eq!(verified.headers()["location"], "/account?notice=email_verified");
    // Single use.
    let again = browser.post_form("/account/email/verify", &[("code", &code)]).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let account = browser.account().await;
    assert!(account.contains("adresse électronique vérifiée par le code"), "{account}");
    assert!(account.contains("Adresse électronique vérifiée") && !account.contains("Identité vérifiée au guichet"));

    // A service asking for `email` is told it is verified.
    let citizen_id = citizen_id_of(&app, &browser, &shown.identifier).await;
    let client = confidential(&app).await;
    app.state.db.save_consent(&citizen_id, &client.client.client_id, "openid email", app.clock.now()).await.unwrap();
    let (verifier, challenge) = pkce();
    let flow = Flow { client, cookie: String::new(), citizen_id, verifier, challenge };
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(flow.params(&[("scope", "openid email")]))
        .finish();
    let location = browser.get_location(&format!("/authorize?{query}")).await.unwrap();
    let code = query_of(&location).remove("code").unwrap_or_else(|| panic!("no code: {location}"));
    let (status, tokens) = flow.redeem(&app, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let info = userinfo_ok(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], "camille@example.fr");
    assert_eq!(info["email_verified"], true);
}

#[tokio::test]
async fn the_link_verifies_once_and_an_address_belongs_to_one_account() {
    let Some(sink) = SmtpSink::start().await else { return };
    let app = app_with(&sink).await;
    let transport = transport(&app);
    let mut first = Browser::new(&app);
    first.sign_up("Camille", "Martin", None).await;
    first.post_form("/account/email", &[("email", "shared@example.fr")]).await;
    deliver_due(&app.state, &transport, "t").await.unwrap();
    let link = link_in(&sink.received()[0]);

    // Another browser follows the link: a page with a button (a mail
    // scanner fetching it verifies nothing), then the confirmation.
    let mut other = Browser::new(&app);
    let (status, page) = other.get(&link).await;
    assert_eq!(status, StatusCode::OK);
    let token = link.split("token=").nth(1).unwrap();
    assert!(page.contains(token), "{page}");
    let confirmed = other.post_form("/account/email/confirm", &[("token", token)]).await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER, "{}", confirmed.text().await.unwrap());
    let reused = other.post_form("/account/email/confirm", &[("token", token)]).await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert!(first.account().await.contains("adresse électronique vérifiée"));

    // A second account cannot verify the same address.
    let mut second = Browser::new(&app);
    second.sign_up("Dominique", "Petit", None).await;
    second.post_form("/account/email", &[("email", "shared@example.fr")]).await;
    deliver_due(&app.state, &transport, "t").await.unwrap();
    let code = code_in(&sink.received()[1]);
    let taken = second.post_form("/account/email/verify", &[("code", &code)]).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    assert!(taken.text().await.unwrap().contains("déjà vérifiée par un autre compte"));
}

#[tokio::test]
async fn bad_addresses_expired_codes_and_too_many_sends_are_refused() {
    let Some(sink) = SmtpSink::start().await else { return };
    let app = app_with(&sink).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("Camille", "Martin", None).await;
    let bad = browser.post_form("/account/email", &[("email", "not an address")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("nom@exemple.fr"));
    assert!(app.state.db.all_verifications().await.unwrap().is_empty());

    browser.post_form("/account/email", &[("email", "camille@example.fr")]).await;
    deliver_due(&app.state, &transport(&app), "t").await.unwrap();
    let code = code_in(&sink.received()[0]);
    app.clock.advance(31 * 60);
    let expired = browser.post_form("/account/email/verify", &[("code", &code)]).await;
    assert_eq!(expired.status(), StatusCode::BAD_REQUEST);
    assert!(expired.text().await.unwrap().contains("a expiré"));

    for _ in 0..4 {
        assert_eq!(browser.post_form("/account/email/resend", &[]).await.status(), StatusCode::SEE_OTHER);
    }
    let limited = browser.post_form("/account/email/resend", &[]).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(3_600);
    assert_eq!(browser.post_form("/account/email/resend", &[]).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_outbox_survives_the_mail_server_being_down_and_delivers_once() {
    let Some(mut sink) = SmtpSink::start().await else { return };
    let app = app_with(&sink).await;
    let transport = transport(&app);
    let mut browser = Browser::new(&app);
    browser.sign_up("Camille", "Martin", None).await;
    sink.stop().await;

    // The citizen's request succeeds; the mail waits.
    let sent = browser.post_form("/account/email", &[("email", "camille@example.fr")]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(deliver_due(&app.state, &transport, "t").await.unwrap(), 1, "attempted");
    assert!(sink.received().is_empty());
    // Not due again before the backoff.
    assert_eq!(deliver_due(&app.state, &transport, "t").await.unwrap(), 0);

    sink.restart().await;
    app.clock.advance(10);
    let started = std::time::Instant::now();
    assert_eq!(deliver_due(&app.state, &transport, "t").await.unwrap(), 1);
    let elapsed = started.elapsed();
    assert_eq!(deliver_due(&app.state, &transport, "t").await.unwrap(), 0);
    app.clock.advance(3_600);
    assert_eq!(deliver_due(&app.state, &transport, "t").await.unwrap(), 0);
    let received = sink.received();
    assert_eq!(received.len(), 1, "delivered once");
    eprintln!("mail latency: one outbox pass (claim + SMTP send + mark) took {} ms", elapsed.as_millis());
}

/// A provider mailing through `sink`, with a signed-up citizen whose address
/// is verified (their mail language: the browser's).
pub async fn verified_citizen(sink: &SmtpSink, accept_language: &str, email: &str) -> (TestApp, Browser, String) {
    let app = app_with(sink).await;
    let mut browser = Browser::new(&app);
    browser.accept_language = accept_language.into();
    let shown = browser.sign_up("Camille", "Martin", None).await;
    let citizen_id = citizen_id_of(&app, &browser, &shown.identifier).await;
    let sent = browser
        .client
        .post(browser.url("/account/email"))
        .header("accept-language", accept_language)
        .form(&[("email", email), ("csrf", &browser.csrf().await)])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let before = sink.received().len();
    deliver_due(&app.state, &transport(&app), "t").await.unwrap();
    let code = code_in(&sink.received()[before]);
    let verified = browser.post_form("/account/email/verify", &[("code", &code)]).await;
    assert_eq!(verified.status(), StatusCode::SEE_OTHER);
    (app, browser, citizen_id)
}

#[tokio::test]
async fn without_smtp_mail_goes_to_the_log_and_its_bodies_are_not_kept() {
    let app = TestApp::spawn().await;
    assert!(app.state.config.mail.smtp_url.is_none(), "the zero-config default");
    let transport = transport(&app);
    assert!(matches!(transport, Transport::Log));
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", None).await;
    let citizen_id = citizen_id_of(&app, &browser, &shown.identifier).await;
    browser.post_form("/account/email", &[("email", "camille@example.fr")]).await;
    let queued = app.state.db.mail_of(&citizen_id).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].text_body.contains("Sésame"), "composed before delivery");
    assert_eq!(deliver_due(&app.state, &transport, "t").await.unwrap(), 1);
    let sent = app.state.db.mail_of(&citizen_id).await.unwrap();
    assert!(sent[0].delivered_at.is_some());
    assert_eq!((sent[0].text_body.as_str(), sent[0].html_body.as_str()), ("", ""), "the code is not kept");
}
