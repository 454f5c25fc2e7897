//! The citizen's side, through the real pages: connected services and
//! revoking consent, activity history, export of everything stored,
//! account deletion (nothing left, identifier never reissued), and the
//! assurance level a verified identity reaches.

use idp::citizen::CitizenIdentifier;
use idp::store::{AttributeRecord, NewAuditEvent};
use idp::testing::TestApp;
use idp::testing::browser::Browser;
use serde_json::Value;

use crate::oidc_support::*;

/// A browser-driven authorization: consents if asked, returns the code.
async fn browser_code(browser: &mut Browser, flow: &Flow, extra: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(extra)).finish();
    let mut location = browser.get_location(&format!("/authorize?{query}")).await.unwrap();
    if location.starts_with("/authorize/consent/") {
        browser.get(&location).await;
        let allowed = browser.post_form(&location, &[("decision", "allow")]).await;
        let resume = allowed.headers()["location"].to_str().unwrap().to_owned();
        location = browser.get_location(&resume).await.unwrap();
    }
    query_of(&location).get("code").cloned().unwrap_or_else(|| panic!("no code: {location}"))
}

async fn citizen_id(app: &TestApp, shown: &str) -> String {
    let identifier = CitizenIdentifier::parse(shown).unwrap();
    app.state.db.citizen_by_identifier(identifier.as_str()).await.unwrap().unwrap().id
}

fn canonical_of(shown: &str) -> String {
    CitizenIdentifier::parse(shown).unwrap().as_str().to_owned()
}

fn flow_for(client: idp::clients::Registered) -> Flow {
    let (verifier, challenge) = pkce();
    Flow { client, cookie: String::new(), citizen_id: String::new(), verifier, challenge }
}

async fn seed_verified_identity(app: &TestApp, citizen_id: &str) {
    let now = app.clock.now();
    let verified = |name: &str, value: &str| AttributeRecord {
        name: name.into(),
        value: value.into(),
        verified_by: Some("agent:mairie-de-test".into()),
        verified_at: Some(now),
        updated_at: now,
    };
    let event = NewAuditEvent {
        citizen_id: citizen_id.into(),
        event: idp::audit::AuditEvent::IdentityUpdated { verified_by: Some("agent:mairie-de-test".into()) },
        at: now,
        mail: None,
    };
    let attributes = [
        verified("given_name", "Camille"),
        verified("family_name", "Martin"),
        verified("birthdate", "1990-05-17"),
        verified("gender", "female"),
        verified("birthcountry", "99134"),
        verified("phone_number", "+34600000000"),
    ];
    app.state.db.put_attributes(citizen_id, &attributes, &event).await.unwrap();
}

/// The citizen is also an agent of the test organisation, and was verified
/// at a counter (by themselves: enough for what the export must hold).
async fn seed_counter_verification_and_membership(app: &TestApp, citizen_id: &str) {
    use idp::citizen::verification::*;
    let db = &app.state.db;
    let organisation = app.organisation().await;
    let link = app.invitation(&organisation.organisation_id, idp::clients::members::Role::Agent).await.link;
    idp::clients::members::accept(db, link.split("token=").nth(1).unwrap(), citizen_id, app.clock.now()).await.unwrap();
    let check = CounterCheck {
        citizen_id: citizen_id.into(),
        document: Document {
            kind: DocumentType::Passport,
            number: "18AB12345".into(),
            issuer: "ESP".into(),
            expires_on: "2035-01-01".into(),
        },
        identity: DocumentIdentity {
            given_name: "CAMILLE".into(),
            family_name: "MARTIN".into(),
            birthdate: "1990-05-17".into(),
            gender: "female".into(),
            birthcountry: "99134".into(),
            birthplace: None,
        },
        correct_names: false,
    };
    let agent = Agent { citizen_id: citizen_id.into(), organisation };
    verify_at_counter(db, &app.state.keys, &agent, &check, app.clock.now()).await.unwrap();
}

#[tokio::test]
async fn revoking_consent_ends_the_services_access_at_once() {
    let app = TestApp::spawn().await;
    let flow = flow_for(confidential(&app).await);
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", Some("camille@example.fr")).await;
    let citizen = citizen_id(&app, &shown.identifier).await;

    let code = browser_code(&mut browser, &flow, &[]).await;
    let (status, tokens) = flow.redeem(&app, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &access).await.status(), 200);
    // Remembered: no consent page the second time.
    let second = browser_code(&mut browser, &flow, &[]).await;
    assert!(!second.is_empty());

    let page = browser.account().await;
    assert!(page.contains("Services connectés") && page.contains("Mairie de Test"), "{page}");
    assert!(page.contains("Données transmises"), "releases in the history");
    assert!(page.contains("Connexion") && page.contains(r#"action="/account/services/revoke""#));

    // A forged revocation (no CSRF token) changes nothing.
    let forged = browser
        .client
        .post(browser.url("/account/services/revoke"))
        .form(&[("client_id", flow.client_id())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(userinfo(&app, &access).await.status(), 200);

    let revoked = browser.post_form("/account/services/revoke", &[("client_id", flow.client_id())]).await;
    assert_eq!(revoked.headers()["location"], "/account?notice=consent_revoked");
    assert_eq!(userinfo(&app, &access).await.status(), 401, "access token dead at once");
    let (status, body) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "refresh token dead: {body}");
    let page = browser.account().await;
    assert!(page.contains("Aucun service n’a accès") && page.contains("Autorisation retirée"), "{page}");

    // Asked again next time.
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(&[])).finish();
    let again = browser.get_location(&format!("/authorize?{query}")).await.unwrap();
    assert!(again.starts_with("/authorize/consent/"), "{again}");
    let events = app.state.db.audit_events_of(&citizen).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "consent.revoked").count(), 1);
    let again = browser.post_form("/account/services/revoke", &[("client_id", flow.client_id())]).await;
    assert_eq!(again.headers()["location"], "/account?notice=consent_not_found");
}

/// Table → member of the export holding its rows.
fn export_member(table: &str) -> &str {
    match table {
        "citizen_attributes" => "attributes",
        "identity_verifications" => "verifications",
        "organisation_members" => "memberships",
        other => other,
    }
}

#[tokio::test]
async fn export_holds_everything_and_deletion_leaves_nothing() {
    let app = TestApp::spawn().await;
    let flow = flow_for(confidential(&app).await);
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", Some("camille@example.fr")).await;
    let citizen = citizen_id(&app, &shown.identifier).await;
    seed_verified_identity(&app, &citizen).await;
    seed_counter_verification_and_membership(&app, &citizen).await;
    // A code mailed (the outbox and the challenge hold something of the citizen).
    let sent = browser.post_form("/account/email", &[("email", "camille@example.fr")]).await;
    assert_eq!(sent.status(), 303);
    let code = browser_code(&mut browser, &flow, &[]).await;
    let (_, tokens) = flow.redeem(&app, &code).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let forged = browser.client.post(browser.url("/account/export")).send().await.unwrap();
    assert_eq!(forged.status(), 403);
    let response = browser.post_form("/account/export", &[]).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let export: Value = response.json().await.unwrap();
    assert_eq!(export["citizen"]["identifier"], shown.identifier.as_str());
    assert_eq!(export["citizen"]["given_name"], "Camille");
    let rows = app.state.db.rows_of_citizen(&citizen).await.unwrap();
    assert!(rows.len() >= 9, "{rows:?}");
    for (table, count) in &rows {
        assert!(*count > 0, "the flow stored something in {table}: {rows:?}");
        let held = match table.as_str() {
            "citizens" => 1,
            table => export[export_member(table)].as_array().map_or(0, Vec::len) as i64,
        };
        assert_eq!(held, *count, "export of {table}");
    }
    assert!(!export.to_string().contains("token_hash") && !export.to_string().contains(&refresh));

    // Deletion: confirmation required, CSRF required.
    let unconfirmed = browser.post_form("/account/delete", &[]).await;
    assert_eq!(unconfirmed.headers()["location"], "/account?notice=delete_unconfirmed");
    let forged = browser.client.post(browser.url("/account/delete")).form(&[("confirm", "yes")]).send().await.unwrap();
    assert_eq!(forged.status(), 403);
    assert!(app.state.db.citizen_by_id(&citizen).await.unwrap().is_some());

    let deleted = browser.post_form("/account/delete", &[("confirm", "yes")]).await;
    assert_eq!(deleted.status(), 200);
    assert!(deleted.text().await.unwrap().contains("Votre compte est supprimé"));
    for (table, count) in app.state.db.rows_of_citizen(&citizen).await.unwrap() {
        assert_eq!(count, 0, "{table} still holds the citizen");
    }
    let canonical = CitizenIdentifier::parse(&shown.identifier).unwrap();
    assert!(app.state.db.identifier_taken(canonical.as_str()).await.unwrap(), "tombstoned, never reissued");
    assert!(app.state.db.citizen_by_identifier(canonical.as_str()).await.unwrap().is_none());

    assert_eq!(userinfo(&app, &access).await.status(), 401);
    let (status, _) = flow.token(&app, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
    assert_eq!(status, 400);
    assert_eq!(browser.get_location("/account").await.as_deref(), Some("/signin?next=%2Faccount"));
    browser.forget_csrf();
    let response = browser.try_sign_in(None).await;
    assert_eq!(response.status(), 401, "the passkey is gone");
    // What the service may have to prove stays, detached from the person,
    // for the release records' period counted from each release.
    let records = app.state.db.release_records().await.unwrap();
    assert!(!records.is_empty() && records.iter().all(|r| r.client_id == flow.client_id()), "{records:?}");
    assert!(records.iter().any(|r| r.target == "id_token" && r.claims.contains(&"given_name".to_owned())));
    let kept = format!("{records:?}");
    for personal in [citizen.as_str(), shown.identifier.as_str(), canonical_of(&shown.identifier).as_str(), "Camille"] {
        assert!(!kept.contains(personal), "{personal} in {kept}");
    }
    let released_at = records[0].at;
    app.clock.set(released_at + 365 * 86_400 - 1);
    assert_eq!(idp::retention::purge(&app.state).await.unwrap().release_records, 0);
    app.clock.advance(1);
    assert_eq!(idp::retention::purge(&app.state).await.unwrap().release_records, records.len() as u64);
}

#[tokio::test]
async fn a_verified_identity_with_a_user_verified_passkey_is_eidas2() {
    let app = TestApp::spawn().await;
    let flow = flow_for(confidential(&app).await);
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", None).await;
    let citizen = citizen_id(&app, &shown.identifier).await;
    let essential = r#"{"id_token":{"acr":{"essential":true,"values":["eidas2"]}}}"#;

    // Self-declared: eidas1, and an essential eidas2 request is unmet.
    let code = browser_code(&mut browser, &flow, &[]).await;
    let (_, tokens) = flow.redeem(&app, &code).await;
    let claims = verified(&app, tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "eidas1");
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(flow.params(&[("claims", essential)]))
        .finish();
    let refused = browser.get_location(&format!("/authorize?{query}")).await.unwrap();
    assert_eq!(query_of(&refused)["error"], "unmet_authentication_requirements", "{refused}");

    // Verified at a counter, then a new sign-in: eidas2.
    seed_verified_identity(&app, &citizen).await;
    browser.sign_out().await;
    browser.sign_in().await;
    let page = browser.account().await;
    assert!(page.contains("substantiel (identité vérifiée)"), "{page}");
    assert!(page.contains("pays de naissance</dt><dd>99134") && page.contains("vérifié par agent:mairie-de-test"));
    let code = browser_code(&mut browser, &flow, &[("claims", essential)]).await;
    let (_, tokens) = flow.redeem(&app, &code).await;
    let claims = verified(&app, tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "eidas2");
    assert_eq!(claims["amr"], serde_json::json!(["hwk", "user", "mfa"]));

    // A correction of the name is unverified until checked again: eidas1.
    app.state.db.set_given_name_for_tests(&citizen, "Camille-Marie").await.unwrap();
    browser.sign_out().await;
    browser.sign_in().await;
    let code = browser_code(&mut browser, &flow, &[]).await;
    let (_, tokens) = flow.redeem(&app, &code).await;
    assert_eq!(verified(&app, tokens["id_token"].as_str().unwrap())["acr"], "eidas1");
}

/// Voluntary `acr_values` (and a client's `default_acr_values`) never fail a
/// request: a sign-in that can reach the level is asked for (step-up), and
/// otherwise the ID token states the level really proven.
#[tokio::test]
async fn voluntary_acr_values_step_up_when_it_helps_and_never_overstate() {
    let app = TestApp::spawn().await;
    let flow = flow_for(confidential(&app).await);
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", None).await;
    let citizen = citizen_id(&app, &shown.identifier).await;
    let acr_of = |tokens: &Value| verified(&app, tokens["id_token"].as_str().unwrap())["acr"].clone();
    let authorize = |extra: &[(&str, &str)]| {
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(extra)).finish();
        format!("/authorize?{query}")
    };

    // A self-declared identity cannot reach eidas2: the request goes through, saying eidas1.
    let code = browser_code(&mut browser, &flow, &[("acr_values", "eidas2 eidas3")]).await;
    let (_, tokens) = flow.redeem(&app, &code).await;
    assert_eq!(acr_of(&tokens), "eidas1");

    // Verified at a counter after this sign-in: signing in again reaches eidas2, so it is asked for.
    seed_verified_identity(&app, &citizen).await;
    let step_up = browser.get_location(&authorize(&[("acr_values", "eidas2")])).await.unwrap();
    assert!(step_up.starts_with("/signin?next=%2Fauthorize%2Fcontinue%2F"), "{step_up}");
    // Without a page to show, a voluntary level is not an error; an essential one is.
    let silent = browser.get_location(&authorize(&[("acr_values", "eidas2"), ("prompt", "none")])).await.unwrap();
    assert!(query_of(&silent).contains_key("code"), "{silent}");
    let essential = r#"{"id_token":{"acr":{"essential":true,"values":["eidas2"]}}}"#;
    let silent = browser.get_location(&authorize(&[("claims", essential), ("prompt", "none")])).await.unwrap();
    assert_eq!(query_of(&silent)["error"], "login_required", "{silent}");
    // An essential level no sign-in can reach is refused at once.
    let eidas3 = r#"{"id_token":{"acr":{"essential":true,"value":"eidas3"}}}"#;
    let refused = browser.get_location(&authorize(&[("claims", eidas3)])).await.unwrap();
    assert_eq!(query_of(&refused)["error"], "unmet_authentication_requirements", "{refused}");

    // The step-up sign-in resumes the request, now at eidas2.
    let next = step_up.split_once("next=").unwrap().1;
    let next = url::form_urlencoded::parse(format!("n={next}").as_bytes()).next().unwrap().1.into_owned();
    let resume = browser.sign_in_to(Some(&next)).await;
    let callback = browser.get_location(&resume).await.unwrap();
    let code = query_of(&callback).get("code").cloned().unwrap_or_else(|| panic!("no code: {callback}"));
    let (_, tokens) = flow.redeem(&app, &code).await;
    assert_eq!(acr_of(&tokens), "eidas2");
    // Asking for less than proven returns what was proven.
    let code = browser_code(&mut browser, &flow, &[("acr_values", "eidas1")]).await;
    let (_, tokens) = flow.redeem(&app, &code).await;
    assert_eq!(acr_of(&tokens), "eidas2");
}

/// `default_acr_values` stands in for a request's missing `acr_values`; a
/// request naming its own wins.
#[tokio::test]
async fn default_acr_values_apply_when_the_request_names_none() {
    let app = TestApp::spawn().await;
    let mut new = idp::clients::NewClient {
        client_name: "Mairie exigeante".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid profile".into()),
        ..idp::clients::NewClient::default()
    };
    new.extra.default_acr_values = vec!["eidas2".into()];
    let flow = flow_for(app.register_client(new).await);
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", None).await;
    let citizen = citizen_id(&app, &shown.identifier).await;
    seed_verified_identity(&app, &citizen).await;
    let authorize = |extra: &[(&str, &str)]| {
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(extra)).finish();
        format!("/authorize?{query}")
    };

    let step_up = browser.get_location(&authorize(&[("scope", "openid profile")])).await.unwrap();
    assert!(step_up.starts_with("/signin?"), "the client's default eidas2 asks for a new sign-in: {step_up}");
    let own = browser.get_location(&authorize(&[("scope", "openid profile"), ("acr_values", "eidas1")])).await;
    let own = own.unwrap();
    assert!(own.starts_with("/authorize/consent/"), "the request's own acr_values win: {own}");
}
