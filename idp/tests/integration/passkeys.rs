//! Sign-up, sign-in, sessions and the account page over HTTP, with a
//! software passkey authenticator.

use idp::citizen::{CitizenIdentifier, RecoveryCode};
use idp::testing::browser::Browser;
use idp::testing::soft_passkey::SoftPasskey;
use idp::testing::{T0, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn citizen_id(app: &TestApp, identifier: &str) -> String {
    let canonical = CitizenIdentifier::parse(identifier).unwrap();
    app.state.db.citizen_by_identifier(canonical.as_str()).await.unwrap().expect("citizen stored").id
}

#[tokio::test]
async fn sign_up_then_sign_out_then_usernameless_sign_in() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let signed_up = browser.sign_up("Élodie", "Dupont-Léger", Some("elodie@example.fr")).await;

    // The identifier is shown grouped and parses; eight recovery codes.
    assert_eq!(signed_up.identifier.len(), 21, "{}", signed_up.identifier);
    assert_eq!(signed_up.identifier.matches('-').count(), 4);
    let identifier = CitizenIdentifier::parse(&signed_up.identifier).unwrap();
    assert_eq!(identifier.to_string(), signed_up.identifier);
    assert_eq!(signed_up.recovery_codes.len(), 8);
    for code in &signed_up.recovery_codes {
        RecoveryCode::parse(code).unwrap();
    }
    // Shown once only.
    assert_eq!(browser.get_location("/signup/done").await.as_deref(), Some("/account"));

    let account = browser.account().await;
    assert!(account.contains("Élodie") && account.contains("Dupont-Léger") && account.contains("elodie@example.fr"));
    assert!(account.contains(&signed_up.identifier));

    browser.sign_out().await;
    assert_eq!(browser.get_location("/account").await.as_deref(), Some("/signin?next=%2Faccount"));

    app.clock.advance(60);
    assert_eq!(browser.sign_in().await, "/account");
    let account = browser.account().await;
    assert!(account.contains("Élodie") && account.contains(&signed_up.identifier));

    // One live login, device-bound passkey → hwk, user verified → user + mfa.
    let id = citizen_id(&app, &signed_up.identifier).await;
    let logins = app.state.db.login_sessions_of(&id, app.clock_now()).await.unwrap();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].amr, "hwk user mfa");
    assert_eq!(logins[0].created_at, T0 + 60);
    let passkeys = app.state.db.passkeys_of(&id).await.unwrap();
    assert_eq!(passkeys.len(), 1);
    assert_eq!(passkeys[0].sign_count, 1);
    assert_eq!(passkeys[0].last_used_at, Some(T0 + 60));

    let kinds: Vec<String> = app.state.db.audit_events_of(&id).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        ["citizen.signed_up", "passkey.added", "recovery.codes_issued", "session.signed_in", "session.signed_in"]
    );
}

trait ClockNow {
    fn clock_now(&self) -> i64;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> i64 {
        self.clock.now()
    }
}

#[tokio::test]
async fn synced_passkeys_sign_in_with_swk() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::with_passkey(&app, SoftPasskey::synced());
    let signed_up = browser.sign_up("Jean", "Martin", None).await;
    let id = citizen_id(&app, &signed_up.identifier).await;
    let logins = app.state.db.login_sessions_of(&id, app.clock_now()).await.unwrap();
    assert_eq!(logins[0].amr, "swk user mfa");
    browser.sign_out().await;
    browser.sign_in().await;
    let logins = app.state.db.login_sessions_of(&id, app.clock_now()).await.unwrap();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].amr, "swk user mfa");
    assert!(app.state.db.passkeys_of(&id).await.unwrap()[0].backup_eligible);
    assert!(browser.account().await.contains("synchronisée"));
}

#[tokio::test]
async fn next_is_followed_only_when_local_and_sign_in_works_when_signed_in() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let signed_up = browser.sign_up("Ana", "Silva", None).await;
    // Already signed in: signing in again refreshes the login (prompt=login).
    app.clock.advance(30);
    assert_eq!(browser.sign_in_to(Some("/authorize/continue/abc")).await, "/authorize/continue/abc");
    assert_eq!(browser.sign_in_to(Some("//evil.example/x")).await, "/account");
    assert_eq!(browser.sign_in_to(Some("https://evil.example/")).await, "/account");
    let id = citizen_id(&app, &signed_up.identifier).await;
    let logins = app.state.db.login_sessions_of(&id, app.clock_now()).await.unwrap();
    assert_eq!(logins.len(), 1, "the browser's previous login is replaced");
    assert_eq!(logins[0].created_at, T0 + 30);

    // The sign-in page carries a safe `next` only, escaped.
    let (_, page) = browser.get("/signin?next=%2Fauthorize%2Fcontinue%2F%22%3E%3Cb%3E").await;
    assert!(page.contains(r#"data-next="/authorize/continue/&quot;&gt;&lt;b&gt;""#));
    let (_, page) = browser.get("/signin?next=%2F%2Fevil.example").await;
    assert!(page.contains(r#"data-next="""#));
}

#[tokio::test]
async fn pages_speak_french_by_default_english_on_request() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let (status, page) = browser.get("/signin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<html lang="fr">"#) && page.contains("Se connecter avec une clé d’accès"));
    assert!(page.contains(r#"autocomplete="username webauthn""#));
    let (_, page) = browser.get("/signup?ui_locales=en%20fr").await;
    assert!(page.contains(r#"<html lang="en">"#) && page.contains("Create my account"));
    // remembered for the session
    let (_, page) = browser.get("/recover").await;
    assert!(page.contains(r#"<html lang="en">"#));

    let mut english = Browser::new(&app);
    english.accept_language = "en-GB,en;q=0.8".into();
    let (_, page) = english.get("/signup").await;
    assert!(page.contains(r#"<html lang="en">"#));
    // Errors from the JSON endpoints are in the page's language too.
    let response = english.post_json("/signup/start", &json!({"given_name": "", "family_name": "X"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["fields"]["given_name"], "Enter your given name (at most 100 characters).");
}

#[tokio::test]
async fn static_script_and_stylesheet_are_served_with_long_cache() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let (_, page) = browser.get("/signin").await;
    let script = page.split(r#"<script src=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert!(script.starts_with("/static/sesame-") && script.ends_with(".js"));
    let response = app.get(&script).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(response.text().await.unwrap().contains("navigator.credentials"));
    assert_eq!(app.get("/static/sesame-000000.js").await.status(), StatusCode::NOT_FOUND);
    // No inline script: the CSP (script-src 'self') holds for the pages.
    assert!(!page.contains("<script>"));
    let csp = app.get("/signin").await.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'"));
}

#[tokio::test]
async fn second_passkey_added_renamed_removed_never_the_last() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let signed_up = browser.sign_up("Lucie", "Bernard", None).await;
    let id = citizen_id(&app, &signed_up.identifier).await;

    // Add a synced passkey from a second authenticator (the first is excluded).
    let options = browser.start("/account/passkeys/start", &json!({"name": "Téléphone"})).await;
    assert_eq!(options["publicKey"]["excludeCredentials"].as_array().unwrap().len(), 1);
    assert_eq!(options["publicKey"]["authenticatorSelection"]["residentKey"], "required");
    let mut phone = SoftPasskey::synced();
    let credential = phone.register(&options, &browser.origin).unwrap();
    let response = browser.post_json("/account/passkeys/finish", &json!({"credential": credential})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["redirect"], "/account?notice=passkey_added");
    let passkeys = app.state.db.passkeys_of(&id).await.unwrap();
    assert_eq!(passkeys.len(), 2);
    let added = passkeys.iter().find(|p| p.name == "Téléphone").unwrap().credential_id.clone();
    let first = passkeys.iter().find(|p| p.credential_id != added).unwrap().credential_id.clone();

    // Sign in with the new one.
    browser.sign_out().await;
    let laptop = std::mem::replace(&mut browser.passkey, phone);
    browser.sign_in().await;

    // Rename it.
    let response =
        browser.post_form("/account/passkeys/rename", &[("credential_id", &added), ("name", "Mon <téléphone>")]).await;
    assert_eq!(response.headers()["location"], "/account?notice=passkey_renamed");
    let (_, page) = browser.get("/account?notice=passkey_renamed").await;
    assert!(page.contains("Mon &lt;téléphone&gt;"), "{page}");
    assert!(page.contains(r#"<p class="notice" role="status">La clé d’accès a été renommée.</p>"#));
    let response = browser.post_form("/account/passkeys/rename", &[("credential_id", &added), ("name", "  ")]).await;
    assert_eq!(response.headers()["location"], "/account?notice=name_required");

    // Remove the first one; the last one is refused.
    let response = browser.post_form("/account/passkeys/remove", &[("credential_id", &first)]).await;
    assert_eq!(response.headers()["location"], "/account?notice=passkey_removed");
    let response = browser.post_form("/account/passkeys/remove", &[("credential_id", &added)]).await;
    assert_eq!(response.headers()["location"], "/account?notice=last_passkey");
    assert_eq!(app.state.db.passkeys_of(&id).await.unwrap().len(), 1);
    // Another citizen's or an unknown passkey: not found, nothing changes.
    let response = browser.post_form("/account/passkeys/remove", &[("credential_id", "nope")]).await;
    assert_eq!(response.headers()["location"], "/account?notice=passkey_not_found");

    // The removed passkey no longer signs in.
    browser.passkey = laptop;
    let response = browser.try_sign_in(None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "unknown_credential");

    let kinds: Vec<String> = app.state.db.audit_events_of(&id).await.unwrap().into_iter().map(|e| e.kind).collect();
    for kind in ["passkey.added", "passkey.renamed", "passkey.removed"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn signing_out_other_sessions_ends_them_everywhere() {
    let app = TestApp::spawn().await;
    let mut laptop = Browser::new(&app);
    laptop.sign_up("Paul", "Durand", None).await;
    let mut phone = Browser::with_passkey(&app, laptop.passkey.clone());
    phone.sign_in().await;
    let page = laptop.account().await;
    assert_eq!(page.matches("Connecté depuis le").count(), 2);
    assert!(page.contains("ce navigateur"));

    let response = laptop.post_form("/account/sessions/revoke-others", &[]).await;
    assert_eq!(response.headers()["location"], "/account?notice=sessions_ended");
    assert_eq!(phone.get_location("/account").await.as_deref(), Some("/signin?next=%2Faccount"));
    assert_eq!(laptop.account().await.matches("Connecté depuis le").count(), 1);
}

#[tokio::test]
async fn login_ends_at_the_absolute_lifetime() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_up("Inès", "Roux", None).await;
    // Stay active (idle lifetime 30 min) until the absolute lifetime (12 h).
    for _ in 0..23 {
        app.clock.advance(29 * 60);
        browser.account().await;
    }
    app.clock.advance(60 * 60);
    assert_eq!(browser.get_location("/account").await.as_deref(), Some("/signin?next=%2Faccount"));
}

#[tokio::test]
async fn sign_up_with_invalid_profile_is_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.get("/signup").await;
    let response = browser
        .post_json("/signup/start", &json!({"given_name": " ", "family_name": "<b>", "email": "not-an-email"}))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    for field in ["given_name", "family_name", "email"] {
        assert!(body["fields"][field].is_string(), "{field}: {body}");
    }
    assert_eq!(app.state.db.count_citizens().await.unwrap(), 0);
}
