//! The declared identity through `/account/identity`: saved in one piece
//! or not at all, errors next to their field in both languages, a verified
//! value corrected becomes unverified, services receive what was declared
//! (phone unverified) under the same `sub`.

use idp::testing::TestApp;
use idp::testing::browser::Browser;
use reqwest::StatusCode;

use idp::clients::NewClient;

use crate::oidc_support::{Flow, REDIRECT, pkce, query_of, userinfo_ok, verified};

const DECLARED: &[(&str, &str)] = &[
    ("given_name", "Camille"),
    ("family_name", "Martin"),
    ("birth_day", ""),
    ("birth_month", "05"),
    ("birth_year", "1990"),
    ("gender", "female"),
    ("birthcountry", "france"),
    ("birthplace", "Lyon"),
    ("street_address", "1 place de la Mairie"),
    ("postal_code", "69001"),
    ("locality", "Lyon"),
    ("country", "France"),
    ("phone_number", "06 12 34 56 78"),
];

fn with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    DECLARED.iter().map(|(k, v)| (*k, changes.iter().find(|(c, _)| c == k).map_or(*v, |(_, n)| *n))).collect()
}

async fn tokens_for(app: &TestApp, browser: &mut Browser, citizen_id: &str, scope: &str) -> serde_json::Value {
    let client = app
        .register_client(NewClient {
            client_name: "Mairie de Test".into(),
            redirect_uris: vec![REDIRECT.into()],
            scope: Some("openid profile email address phone".into()),
            ..NewClient::default()
        })
        .await;
    app.state.db.save_consent(citizen_id, &client.client.client_id, scope, app.clock.now()).await.unwrap();
    let (verifier, challenge) = pkce();
    let flow = Flow { client, cookie: String::new(), citizen_id: citizen_id.to_owned(), verifier, challenge };
    let query =
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(flow.params(&[("scope", scope)])).finish();
    let location = browser.get_location(&format!("/authorize?{query}")).await.unwrap();
    let code = query_of(&location).remove("code").unwrap_or_else(|| panic!("no code: {location}"));
    let (status, tokens) = flow.redeem(app, &code).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[tokio::test]
async fn a_declared_birth_date_and_address_reach_a_service_as_declared() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", None).await;
    let citizen_id = app.state.db.citizen_by_identifier(&shown.identifier.replace('-', "")).await.unwrap().unwrap().id;
    let (status, page) = browser.get("/account/identity").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"list="countries""#) && page.contains("<option value=\"FRANCE\">"), "{page}");

    let saved = browser.post_form("/account/identity", &with(&[])).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER, "{}", saved.text().await.unwrap());
    let account = browser.account().await;
    assert!(account.contains("1990-05-00") && account.contains("déclaré par vous"), "{account}");
    let (_, page) = browser.get("/account/identity").await;
    assert!(page.contains("Lyon (69)"), "the commune shown by name: {page}");

    let tokens = tokens_for(&app, &mut browser, &citizen_id, "openid profile address phone").await;
    let sub = verified(&app, tokens["id_token"].as_str().unwrap())["sub"].clone();
    let info = userinfo_ok(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["birthdate"], "1990-05-00", "{info}");
    assert_eq!(info["address"]["street_address"], "1 place de la Mairie", "{info}");
    assert_eq!(info["address"]["postal_code"], "69001");
    assert_eq!(info["phone_number"], "+33612345678");
    assert_eq!(info["phone_number_verified"], false);
    assert_eq!(info["sub"], sub);

    // Corrected names: the service's subject stays.
    let corrected = browser.post_form("/account/identity", &with(&[("family_name", "Martin-Durand")])).await;
    assert_eq!(corrected.status(), StatusCode::SEE_OTHER);
    let tokens = tokens_for(&app, &mut browser, &citizen_id, "openid profile").await;
    let claims = verified(&app, tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], sub);
}

#[tokio::test]
async fn bad_fields_are_named_in_both_languages_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", None).await;
    let citizen_id = app.state.db.citizen_by_identifier(&shown.identifier.replace('-', "")).await.unwrap().unwrap().id;
    let bad = with(&[
        ("birth_year", "2090"),
        ("birthplace", "Saint-Denis"),
        ("phone_number", "12"),
        ("family_name", "Dupont"),
    ]);
    let refused = browser.post_form("/account/identity", &bad).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    for message in ["ne peut pas être dans le futur", "Plusieurs communes portent ce nom", "avec son indicatif"] {
        assert!(page.contains(message), "{message}: {page}");
    }
    assert!(page.contains(r#"id="phone_number-error">"#) && page.contains(r#"value="Saint-Denis""#), "{page}");
    assert!(app.state.db.attributes_of(&citizen_id).await.unwrap().is_empty(), "nothing half-written");
    assert_eq!(app.state.db.citizen_by_id(&citizen_id).await.unwrap().unwrap().family_name, "Martin");

    let english = browser
        .client
        .post(browser.url("/account/identity?ui_locales=en"))
        .header("accept-language", "en")
        .form(&{
            let mut fields = with(&[("birthcountry", "Atlantis")]);
            let token = browser.csrf().await;
            fields.push(("csrf", Box::leak(token.into_boxed_str())));
            fields
        })
        .send()
        .await
        .unwrap();
    assert_eq!(english.status(), StatusCode::BAD_REQUEST);
    assert!(english.text().await.unwrap().contains("Unknown country"));
}

#[tokio::test]
async fn changing_a_verified_value_warns_then_makes_it_unverified() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let shown = browser.sign_up("Camille", "Martin", None).await;
    let citizen_id = app.state.db.citizen_by_identifier(&shown.identifier.replace('-', "")).await.unwrap().unwrap().id;
    browser.post_form("/account/identity", &with(&[])).await;
    let now = app.clock.now();
    let record = idp::store::AttributeRecord {
        name: "birthdate".into(),
        value: "1990-05-00".into(),
        verified_by: Some("agent:mairie".into()),
        verified_at: Some(now),
        updated_at: now,
    };
    let event =
        idp::store::NewAuditEvent::new(&citizen_id, idp::audit::AuditEvent::IdentityUpdated { verified_by: None }, now);
    app.state.db.put_attributes(&citizen_id, &[record], &event).await.unwrap();
    let (_, page) = browser.get("/account/identity").await;
    assert!(page.contains("le modifier le rend non vérifié"), "{page}");

    // Saved unchanged: still verified. Changed: unverified.
    browser.post_form("/account/identity", &with(&[])).await;
    let verified_by = |attributes: Vec<idp::store::AttributeRecord>| {
        attributes.into_iter().find(|a| a.name == "birthdate").unwrap().verified_by
    };
    assert!(verified_by(app.state.db.attributes_of(&citizen_id).await.unwrap()).is_some());
    browser.post_form("/account/identity", &with(&[("birth_day", "17")])).await;
    assert_eq!(verified_by(app.state.db.attributes_of(&citizen_id).await.unwrap()), None);
}
