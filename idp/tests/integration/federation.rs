//! What services receive: pairwise and public subjects, scope-to-claim
//! mapping, the `claims` parameter (essential, value), and the citizen
//! identifier seen only by entitled services.

use idp::clients::NewClient;
use idp::store::AttributeRecord;
use idp::testing::TestApp;
use serde_json::Value;

use crate::oidc_support::*;

/// The same citizen (browser) as `flow`, for another client.
pub async fn same_citizen(app: &TestApp, flow: &Flow, client: idp::clients::Registered, scope: &str) -> Flow {
    app.state.db.save_consent(&flow.citizen_id, &client.client.client_id, scope, app.clock.now()).await.unwrap();
    let (verifier, challenge) = pkce();
    Flow { client, cookie: flow.cookie.clone(), citizen_id: flow.citizen_id.clone(), verifier, challenge }
}

/// Code flow to tokens with a redirect URI of the client's own.
pub async fn tokens_at(app: &TestApp, flow: &Flow, redirect: &str, extra: &[(&str, &str)]) -> Value {
    let mut params = vec![("redirect_uri", redirect)];
    params.extend_from_slice(extra);
    let (status, location) = flow.authorize_consenting(app, &params).await;
    assert_eq!(status, 303, "{location}");
    let code = query_of(&location).get("code").cloned().unwrap_or_else(|| panic!("no code: {location}"));
    let (status, body) = flow
        .token(
            app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", &flow.verifier),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub fn id_sub(app: &TestApp, tokens: &Value) -> String {
    verified(app, tokens["id_token"].as_str().unwrap())["sub"].as_str().unwrap().to_owned()
}

async fn service(
    app: &TestApp,
    name: &str,
    redirect: &str,
    scope: &str,
    public_subject: bool,
) -> idp::clients::Registered {
    app.register_client(NewClient {
        client_name: name.into(),
        redirect_uris: vec![redirect.into()],
        scope: Some(scope.into()),
        public_subject,
        ..NewClient::default()
    })
    .await
}

#[tokio::test]
async fn pairwise_subjects_per_sector_stable_and_blind_to_civil_status() {
    let app = TestApp::spawn().await;
    let mairie = Flow::new(&app).await;
    let first = id_sub(&app, &mairie.tokens(&app).await);
    let again = id_sub(&app, &mairie.tokens(&app).await);
    assert_eq!(first, again, "same client twice → same sub");

    const ECOLES: &str = "https://ecoles.example.fr/callback";
    let ecoles = service(&app, "Écoles", ECOLES, "openid profile", false).await;
    let ecoles = same_citizen(&app, &mairie, ecoles, "openid profile").await;
    let other_sector = id_sub(&app, &tokens_at(&app, &ecoles, ECOLES, &[("scope", "openid")]).await);
    assert_ne!(first, other_sector, "different sectors → different sub");

    let etat_civil = service(&app, "État civil", "https://mairie.example.fr/etat-civil", "openid profile", false).await;
    let etat_civil = same_citizen(&app, &mairie, etat_civil, "openid profile").await;
    let same_sector = id_sub(
        &app,
        &tokens_at(&app, &etat_civil, "https://mairie.example.fr/etat-civil", &[("scope", "openid")]).await,
    );
    assert_eq!(first, same_sector, "two clients in one sector → same sub");

    app.state.db.set_given_name_for_tests(&mairie.citizen_id, "Camille-Marie").await.unwrap();
    let tokens = mairie.tokens(&app).await;
    assert_eq!(id_sub(&app, &tokens), first, "a civil-status correction changes no sub");
    let info = userinfo_ok(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["given_name"], "Camille-Marie");
    assert_eq!(info["sub"], first.as_str());
}

async fn introspect(app: &TestApp, flow: &Flow, token: &str) -> Value {
    app.client
        .post(app.url("/introspect"))
        .basic_auth(flow.client_id(), Some(flow.secret()))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn only_entitled_services_see_the_citizen_identifier() {
    let app = TestApp::spawn().await;
    let scope = "openid profile email offline_access";
    let pairwise = Flow::new(&app).await;
    let identifier = app.state.db.citizen_by_id(&pairwise.citizen_id).await.unwrap().unwrap().identifier;

    const CAF: &str = "https://social.example.fr/callback";
    let entitled = service(&app, "Action sociale", CAF, &format!("{scope} citizen_identifier"), true).await;
    let entitled = same_citizen(&app, &pairwise, entitled, &format!("{scope} citizen_identifier")).await;
    let tokens =
        tokens_at(&app, &entitled, CAF, &[("scope", "openid profile citizen_identifier offline_access")]).await;
    assert_eq!(id_sub(&app, &tokens), identifier, "public subject = canonical citizen identifier");
    let access = tokens["access_token"].as_str().unwrap();
    let info = userinfo_ok(&app, access).await;
    assert_eq!(info["sub"], identifier.as_str());
    assert_eq!(info["citizen_identifier"], identifier.as_str());
    assert_eq!(introspect(&app, &entitled, access).await["sub"], identifier.as_str());
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&app, &entitled, refresh).await["sub"], identifier.as_str());

    // A pairwise service never sees it: not in the ID token, the access
    // token, UserInfo or introspection — even asking for it by name.
    let claims = r#"{"id_token":{"citizen_identifier":{"essential":true}},"userinfo":{"citizen_identifier":null}}"#;
    let tokens = pairwise
        .tokens_with(&app, &[("scope", "openid profile email citizen_identifier offline_access"), ("claims", claims)])
        .await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let seen = [
        verified(&app, tokens["id_token"].as_str().unwrap()).to_string(),
        verified(&app, access).to_string(),
        userinfo(&app, access).await.text().await.unwrap(),
        introspect(&app, &pairwise, access).await.to_string(),
        introspect(&app, &pairwise, refresh).await.to_string(),
    ];
    for text in seen {
        assert!(text.contains("\"sub\""), "{text}");
        assert!(!text.contains(&identifier), "identifier leaked: {text}");
    }

    // Registration refuses the scope to services that are not entitled.
    let refused = idp::clients::register(
        &app.state.db,
        &app.state.fetcher,
        NewClient {
            organisation_id: app.organisation().await.organisation_id,
            client_name: "Curieux".into(),
            redirect_uris: vec![REDIRECT.into()],
            scope: Some("openid citizen_identifier".into()),
            ..NewClient::default()
        },
        &idp::clients::Actor::cli(),
        None,
        app.clock.now(),
    )
    .await;
    assert!(refused.unwrap_err().to_string().contains("citizen_identifier"));
}

#[tokio::test]
async fn scopes_map_to_claims_and_the_claims_parameter_filters() {
    let app = TestApp::spawn().await;
    let all = "openid profile email phone address";
    let client = service(&app, "Mairie complète", REDIRECT, all, false).await;
    let flow = Flow::for_client(&app, client).await;
    app.state.db.save_consent(&flow.citizen_id, flow.client_id(), all, app.clock.now()).await.unwrap();
    let now = app.clock.now();
    let attribute = |name: &str, value: &str, verified: bool| AttributeRecord {
        name: name.into(),
        value: value.into(),
        verified_by: verified.then(|| "agent:mairie".to_owned()),
        verified_at: verified.then_some(now),
        updated_at: now,
    };
    let event = idp::store::NewAuditEvent {
        citizen_id: flow.citizen_id.clone(),
        event: idp::audit::AuditEvent::IdentityUpdated { verified_by: None },
        at: now,
        mail: None,
    };
    app.state
        .db
        .put_attributes(
            &flow.citizen_id,
            &[
                attribute("birthdate", "1990-05-00", true),
                attribute("gender", "female", true),
                attribute("birthplace", "75056", true),
                attribute("birthcountry", "99100", true),
                attribute("email", "camille.martin@example.fr", true),
                attribute("phone_number", "+33612345678", false),
                attribute("address", r#"{"street_address":"1 place de la Mairie","postal_code":"75001","locality":"Paris","country":"FR"}"#, false),
            ],
            &event,
        )
        .await
        .unwrap();

    let tokens = flow.tokens_with(&app, &[("scope", all)]).await;
    let info = userinfo_ok(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["birthdate"], "1990-05-00", "partial birthdate: {info}");
    assert_eq!(info["gender"], "female");
    assert_eq!(info["birthplace"], "75056");
    assert_eq!(info["birthcountry"], "99100");
    assert_eq!(info["email_verified"], true, "verified by an agent");
    assert_eq!(info["phone_number"], "+33612345678");
    assert_eq!(info["phone_number_verified"], false);
    assert_eq!(info["address"]["locality"], "Paris");

    // Only profile: no contact claims, whatever the claims parameter asks.
    let claims = r#"{"id_token":{"birthdate":{"essential":true},"gender":{"value":"male"},"family_name":{"values":["Martin","Dupont"]}},"userinfo":{"email":{"essential":true},"given_name":{"value":"Camille"}}}"#;
    let tokens = flow.tokens_with(&app, &[("scope", "openid profile"), ("claims", claims)]).await;
    let id = verified(&app, tokens["id_token"].as_str().unwrap());
    assert_eq!(id["birthdate"], "1990-05-00", "essential claim in the ID token: {id}");
    assert_eq!(id["family_name"], "Martin", "value among values");
    assert!(id.get("gender").is_none(), "value requested differs: {id}");
    assert!(id.get("given_name").is_none(), "not requested for the ID token");
    let info = userinfo_ok(&app, tokens["access_token"].as_str().unwrap()).await;
    assert!(info.get("email").is_none(), "email scope not granted: {info}");
    assert_eq!(info["given_name"], "Camille");
    assert_eq!(info["gender"], "female", "scope claims still at UserInfo");

    // Every release is audited: what, to whom, at which level.
    let events = app.state.db.audit_events_of(&flow.citizen_id).await.unwrap();
    let releases: Vec<Value> = events
        .iter()
        .filter(|e| e.kind == "claims.released")
        .map(|e| serde_json::from_str(&e.details).unwrap())
        .collect();
    assert_eq!(releases.len(), 4, "two code redemptions, two UserInfo calls");
    assert!(releases.iter().all(|r| r["client_name"] == "Mairie complète" && r["acr"] == "eidas1"));
    assert!(releases[0]["claims"].as_array().unwrap().contains(&Value::from("phone_number")));

    // A claims parameter of the wrong shape is refused.
    let (status, location) = flow.authorize(&app, &[("claims", r#"{"userinfo":["email"]}"#)]).await;
    assert_eq!(status, 303);
    assert_eq!(query_of(&location)["error"], "invalid_request");
}
