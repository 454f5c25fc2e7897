//! Recovery codes: a lost passkey replaced with the citizen identifier and
//! one code, each code usable once.

use idp::citizen::CitizenIdentifier;
use idp::testing::TestApp;
use idp::testing::browser::Browser;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_recovery_code_replaces_lost_passkeys_once() {
    let app = TestApp::spawn().await;
    let mut old_device = Browser::new(&app);
    let signed_up = old_device.sign_up("Marc", "Lefèvre", None).await;
    let citizen = app
        .state
        .db
        .citizen_by_identifier(CitizenIdentifier::parse(&signed_up.identifier).unwrap().as_str())
        .await
        .unwrap()
        .unwrap();

    // New device, new authenticator; the identifier typed in lowercase without dashes.
    let mut new_device = Browser::new(&app);
    new_device.get("/recover").await;
    let typed = signed_up.identifier.replace('-', "").to_lowercase();
    let options =
        new_device.start("/recover/start", &json!({"identifier": typed, "code": signed_up.recovery_codes[0]})).await;
    assert_eq!(options["publicKey"]["authenticatorSelection"]["residentKey"], "required");
    let credential = new_device.create(&options);
    let response = new_device.post_json("/recover/finish", &json!({"credential": credential})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["redirect"], "/account?notice=recovered");
    let page = new_device.account().await;
    assert!(page.contains("Marc") && page.contains("Il vous reste 7 code(s)"));
    assert_eq!(app.state.db.passkeys_of(&citizen.id).await.unwrap().len(), 1);

    // The lost passkey is revoked, and its browser signed out.
    assert_eq!(old_device.get_location("/account").await.as_deref(), Some("/signin?next=%2Faccount"));
    let response = old_device.try_sign_in(None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(new_device.sign_in().await, "/account");

    // The same code a second time: refused, nothing changes.
    let mut thief = Browser::new(&app);
    thief.get("/recover").await;
    let response = thief
        .post_json("/recover/start", &json!({"identifier": signed_up.identifier, "code": signed_up.recovery_codes[0]}))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "recovery_refused");

    let kinds: Vec<String> =
        app.state.db.audit_events_of(&citizen.id).await.unwrap().into_iter().map(|e| e.kind).collect();
    for kind in ["recovery.used", "passkey.revoked_all", "recovery.refused"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn a_code_cannot_be_used_twice_even_when_both_ceremonies_started() {
    let app = TestApp::spawn().await;
    let mut owner = Browser::new(&app);
    let signed_up = owner.sign_up("Zoé", "Garnier", None).await;
    let body = json!({"identifier": signed_up.identifier, "code": signed_up.recovery_codes[3]});
    let mut a = Browser::new(&app);
    let mut b = Browser::new(&app);
    let options_a = a.start("/recover/start", &body).await;
    let options_b = b.start("/recover/start", &body).await;
    let credential_a = a.create(&options_a);
    let credential_b = b.create(&options_b);
    assert_eq!(a.post_json("/recover/finish", &json!({"credential": credential_a})).await.status(), StatusCode::OK);
    let response = b.post_json("/recover/finish", &json!({"credential": credential_b})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let refusal: serde_json::Value = response.json().await.unwrap();
    assert_eq!(refusal["error"], "recovery_refused", "{refusal}");
    // The second browser got neither a session nor a passkey.
    assert!(b.get_location("/account").await.unwrap().starts_with("/signin"));
    let identifier = idp::citizen::CitizenIdentifier::parse(&signed_up.identifier).unwrap();
    let citizen = app.state.db.citizen_by_identifier(identifier.as_str()).await.unwrap().unwrap();
    assert_eq!(app.state.db.passkeys_of(&citizen.id).await.unwrap().len(), 1, "only the first recovery's passkey");
}

#[tokio::test]
async fn mistyped_identifier_or_code_is_explained_on_the_field() {
    let app = TestApp::spawn().await;
    let mut owner = Browser::new(&app);
    let signed_up = owner.sign_up("Hugo", "Faure", None).await;
    let mut browser = Browser::new(&app);
    browser.get("/recover").await;

    // Two neighbours swapped: the check character catches it.
    let canonical = CitizenIdentifier::parse(&signed_up.identifier).unwrap().as_str().to_owned();
    let mut chars: Vec<char> = canonical.chars().collect();
    let i = (0..chars.len() - 1).find(|&i| chars[i] != chars[i + 1]).unwrap();
    chars.swap(i, i + 1);
    let swapped: String = chars.into_iter().collect();
    let response =
        browser.post_json("/recover/start", &json!({"identifier": swapped, "code": signed_up.recovery_codes[0]})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(body["fields"]["identifier"].as_str().unwrap().contains("inversés"), "{body}");

    let response =
        browser.post_json("/recover/start", &json!({"identifier": signed_up.identifier, "code": "ABC"})).await;
    let body: Value = response.json().await.unwrap();
    assert!(body["fields"]["code"].is_string(), "{body}");

    // A well-formed but wrong code.
    let response = browser
        .post_json("/recover/start", &json!({"identifier": signed_up.identifier, "code": "0000-0000-0000"}))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// A login opened by a recovery code is `eidas1` without `mfa`, even for a
/// verified identity: a service asking for an essential `eidas2` sends the
/// citizen to sign in again, and the page after the recovery says so.
#[tokio::test]
async fn a_recovery_login_is_capped_until_the_next_ordinary_sign_in() {
    use crate::oidc_support::{Flow, confidential, pkce, query_of, verified};
    let app = TestApp::spawn().await;
    let mut owner = Browser::new(&app);
    let signed_up = owner.sign_up("Camille", "Martin", None).await;
    let identifier = CitizenIdentifier::parse(&signed_up.identifier).unwrap();
    let citizen_id = app.state.db.citizen_by_identifier(identifier.as_str()).await.unwrap().unwrap().id;
    let agent = crate::verification::agent(&app).await;
    let check = crate::verification::check_of(&citizen_id, "X4RTBPFW4");
    idp::citizen::verification::verify_at_counter(&app.state.db, &app.state.keys, &agent, &check, app.clock.now())
        .await
        .unwrap();
    let client = confidential(&app).await;
    app.state.db.save_consent(&citizen_id, &client.client.client_id, "openid profile", app.clock.now()).await.unwrap();
    let (verifier, challenge) = pkce();
    let flow = Flow { client, cookie: String::new(), citizen_id, verifier, challenge };
    let essential = r#"{"id_token":{"acr":{"essential":true,"value":"eidas2"}}}"#;
    let authorize = |extra: &[(&str, &str)]| {
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(extra)).finish();
        format!("/authorize?{query}")
    };

    app.clock.advance(60);
    let mut device = Browser::new(&app);
    device.get("/recover").await;
    let options = device
        .start("/recover/start", &json!({"identifier": signed_up.identifier, "code": signed_up.recovery_codes[0]}))
        .await;
    let credential = device.create(&options);
    assert_eq!(device.post_json("/recover/finish", &json!({"credential": credential})).await.status(), StatusCode::OK);
    let (_, page) = device.get("/account?notice=recovered").await;
    assert!(page.contains("vous demanderont de vous reconnecter"), "the page says so: {page}");

    // Right after the recovery: eidas2 essential is not satisfied (step-up).
    let location = device.get_location(&authorize(&[("claims", essential)])).await.unwrap();
    assert!(location.starts_with("/signin?"), "sent to sign in again, no code: {location}");
    // A voluntary request gets a code stating what was proven.
    let location = device.get_location(&authorize(&[])).await.unwrap();
    let code = query_of(&location).remove("code").unwrap_or_else(|| panic!("no code: {location}"));
    let (status, tokens) = flow.redeem(&app, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = verified(&app, tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "eidas1", "{claims}");
    assert!(!claims["amr"].as_array().unwrap().iter().any(|m| m == "mfa"), "{claims}");

    // The next ordinary sign-in proves eidas2 again.
    app.clock.advance(60);
    assert_eq!(device.sign_in().await, "/account");
    let location = device.get_location(&authorize(&[("claims", essential)])).await.unwrap();
    assert!(query_of(&location).contains_key("code"), "{location}");
}
