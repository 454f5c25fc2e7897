//! The consent step through the real pages: refused, granted, remembered,
//! audited, CSRF-protected.

use idp::citizen::CitizenIdentifier;
use idp::testing::TestApp;
use idp::testing::browser::Browser;

use crate::oidc_support::*;

#[tokio::test]
async fn consent_is_asked_refused_granted_and_remembered() {
    let app = TestApp::spawn().await;
    let client = confidential(&app).await;
    let mut browser = Browser::new(&app);
    let signed_up = browser.sign_up("Camille", "Martin", None).await;
    let (verifier, challenge) = pkce();
    let flow = Flow { client, cookie: String::new(), citizen_id: String::new(), verifier, challenge };
    let query = |extra: &[(&str, &str)]| {
        format!(
            "/authorize?{}",
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(extra)).finish()
        )
    };

    let consent = browser.get_location(&query(&[])).await.unwrap();
    assert!(consent.starts_with("/authorize/consent/"), "{consent}");
    let (status, page) = browser.get(&consent).await;
    assert_eq!(status, 200);
    assert!(page.contains("Mairie de Test") && page.contains("lang=\"fr\""), "{page}");
    assert!(page.contains("vos nom, prénoms"), "profile explained in plain words");

    // A forged form (no CSRF token) changes nothing.
    let forged = browser.client.post(browser.url(&consent)).form(&[("decision", "allow")]).send().await.unwrap();
    assert_eq!(forged.status(), 403);

    let refused = browser.post_form(&consent, &[("decision", "deny")]).await;
    assert_eq!(refused.status(), 200, "a page that navigates to the service, not a redirect");
    let location = idp::testing::browser::refresh_target(&refused.text().await.unwrap()).unwrap();
    let answer = query_of(&location);
    assert!(location.starts_with(REDIRECT));
    assert_eq!(answer["error"], "access_denied");
    assert_eq!(answer["state"], "st-123");
    assert_eq!(answer["iss"], app.issuer);

    // Refusal is not remembered; allowing is.
    let offline_scope = [("scope", "openid profile offline_access")];
    let consent = browser.get_location(&query(&offline_scope)).await.unwrap();
    assert!(consent.starts_with("/authorize/consent/"));
    browser.get(&consent).await;
    let allowed = browser.post_form(&consent, &[("decision", "allow")]).await;
    let resume = allowed.headers()["location"].to_str().unwrap().to_owned();
    let callback = browser.get_location(&resume).await.unwrap();
    assert!(query_of(&callback).contains_key("code"), "{callback}");
    let again = browser.get_location(&query(&[("scope", "openid profile")])).await.unwrap();
    assert!(query_of(&again).contains_key("code"), "remembered: {again}");
    // Offline access is consented to each time it is asked for (OIDC Core §11).
    let offline = browser.get_location(&query(&offline_scope)).await.unwrap();
    assert!(offline.starts_with("/authorize/consent/"), "offline_access asks again: {offline}");
    let silent = browser.get_location(&query(&[offline_scope[0], ("prompt", "none")])).await.unwrap();
    assert_eq!(query_of(&silent)["error"], "consent_required", "{silent}");
    // Asking for more asks again.
    let more = browser.get_location(&query(&[("scope", "openid profile email")])).await.unwrap();
    assert!(more.starts_with("/authorize/consent/"), "{more}");

    let identifier = CitizenIdentifier::parse(&signed_up.identifier).unwrap();
    let citizen = app.state.db.citizen_by_identifier(identifier.as_str()).await.unwrap().unwrap();
    let events = app.state.db.audit_events_of(&citizen.id).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "consent.granted").count(), 1, "{events:?}");
}

/// The consent page names the service as registered, in the citizen's
/// language, with its organisation, logo and policy links; the logo's origin
/// is the only image source the page's policy adds.
#[tokio::test]
async fn the_consent_page_presents_the_service_as_registered() {
    let app = TestApp::spawn().await;
    let mut new = idp::clients::NewClient {
        client_name: "Portail famille".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid profile".into()),
        ..idp::clients::NewClient::default()
    };
    new.extra.client_name_en = Some("Family portal".into());
    new.extra.logo_uri = Some("https://static.mairie.example.fr/logo.png".into());
    new.extra.policy_uri = Some("https://mairie.example.fr/donnees-personnelles".into());
    new.extra.tos_uri = Some("https://mairie.example.fr/cgu".into());
    let client = app.register_client(new).await;
    let organisation = app.organisation().await;
    let (verifier, challenge) = pkce();
    let flow = Flow { client, cookie: String::new(), citizen_id: String::new(), verifier, challenge };
    let mut browser = Browser::new(&app);
    browser.sign_up("Camille", "Martin", None).await;
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(&[])).finish();
    let consent = browser.get_location(&format!("/authorize?{query}")).await.unwrap();

    let response = browser.client.get(browser.url(&consent)).header("accept-language", "fr").send().await.unwrap();
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let page = response.text().await.unwrap();
    assert!(page.contains("<strong>Portail famille</strong>"), "{page}");
    assert!(page.contains(&format!("Service proposé par : {}", organisation.name)), "{page}");
    assert!(page.contains(r#"src="https://static.mairie.example.fr/logo.png" alt="" referrerpolicy="no-referrer""#));
    assert!(page.contains(r#"href="https://mairie.example.fr/donnees-personnelles""#));
    assert!(page.contains(r#"href="https://mairie.example.fr/cgu""#));
    assert!(csp.contains("img-src 'self' data: https://static.mairie.example.fr;"), "{csp}");
    assert!(csp.contains("form-action 'self';"), "the form posts here only; a page leads on: {csp}");

    browser.accept_language = "en".into();
    let (_, page) = browser.get(&consent).await;
    assert!(page.contains("<strong>Family portal</strong>"), "the English name: {page}");

    // The account's connected services use the same names.
    browser.post_form(&consent, &[("decision", "allow")]).await;
    let page = browser.account().await;
    assert!(page.contains("<h3>Family portal</h3>"), "{page}");
    browser.accept_language = "fr-FR,fr;q=0.9".into();
    let page = browser.account().await;
    assert!(page.contains("<h3>Portail famille</h3>"), "{page}");
}
