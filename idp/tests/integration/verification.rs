//! Identity verification at a counter, against the real store: what one
//! verification writes (all or nothing), one document per account, names
//! never silently overwritten, the level it gives.

use idp::citizen::identity::{Identity, Level, identity_level};
use idp::citizen::verification::*;
use idp::clients::members::Role;
use idp::testing::TestApp;

async fn citizen(app: &TestApp) -> String {
    app.citizen().await
}

pub(crate) async fn agent(app: &TestApp) -> Agent {
    let organisation = app.organisation().await;
    let citizen_id = app.member(&organisation.organisation_id, Role::Agent).await;
    Agent { citizen_id, organisation }
}

/// `record_login` declares Camille Martin.
pub(crate) fn check_of(citizen_id: &str, number: &str) -> CounterCheck {
    CounterCheck {
        citizen_id: citizen_id.into(),
        document: Document {
            kind: DocumentType::Idcard,
            number: number.into(),
            issuer: "FRA".into(),
            expires_on: "2031-06-30".into(),
        },
        identity: DocumentIdentity {
            given_name: "CAMILLE".into(),
            family_name: "MARTIN".into(),
            birthdate: "1990-05-00".into(),
            gender: "female".into(),
            birthcountry: "99100".into(),
            birthplace: Some("75056".into()),
        },
        correct_names: false,
    }
}

#[tokio::test]
async fn a_counter_verification_raises_the_identity_to_eidas2_and_is_on_record() {
    let app = TestApp::spawn().await;
    let agent = agent(&app).await;
    let who = citizen(&app).await;
    let db = &app.state.db;
    let load = || async { Identity::load(db, &who).await.unwrap().unwrap() };
    assert_eq!(identity_level(&load().await), Level::Eidas1);

    let verified =
        verify_at_counter(db, &app.state.keys, &agent, &check_of(&who, "X4RTBPFW4"), app.clock.now()).await.unwrap();
    assert_eq!(verified.attributes, ["given_name", "family_name", "birthdate", "gender", "birthcountry", "birthplace"]);
    let identity = load().await;
    assert_eq!(identity_level(&identity), Level::Eidas2);
    assert_eq!(identity.citizen.given_name, "Camille", "the declared spelling is kept when it is the same name");
    assert!(identity.attributes.iter().all(|a| a.verified_by.as_deref() == Some(verified.verification_id.as_str())));

    let records = db.verifications_of(&who).await.unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!((record.method.as_str(), record.document_type.as_str()), ("pipp", "idcard"));
    assert_eq!(
        (record.agent_id.as_str(), record.organisation_id.as_str()),
        (agent.citizen_id.as_str(), agent.organisation.organisation_id.as_str())
    );
    assert!(!record.document_hash.contains("X4RTBPFW4"), "the number is kept only as a keyed hash");
    let history = db.audit_events_of(&who).await.unwrap();
    assert!(history.iter().any(|e| e.kind == "identity.verified"), "{history:?}");
    let log = db.admin_events(Some(&agent.organisation.organisation_id), 50).await.unwrap();
    assert!(log.iter().any(|e| e.action == "identity.verify" && e.target == who), "{log:?}");
}

#[tokio::test]
async fn one_document_verifies_one_account_and_a_refusal_writes_nothing() {
    let app = TestApp::spawn().await;
    let agent = agent(&app).await;
    let (first, second) = (citizen(&app).await, citizen(&app).await);
    let db = &app.state.db;
    let keys = &app.state.keys;
    let now = app.clock.now();
    verify_at_counter(db, keys, &agent, &check_of(&first, "X4RTBPFW4"), now).await.unwrap();
    // The same document, typed with spaces and in lower case, for another account.
    let taken = verify_at_counter(db, keys, &agent, &check_of(&second, "x4rt bpfw4"), now).await;
    assert!(matches!(taken, Err(VerifyError::DocumentTaken)), "{taken:?}");
    assert!(db.verifications_of(&second).await.unwrap().is_empty());
    assert!(db.attributes_of(&second).await.unwrap().is_empty(), "nothing half-written");
    // The first account may be verified again with it (a renewal of the check).
    verify_at_counter(db, keys, &agent, &check_of(&first, "X4RTBPFW4"), now + 60).await.unwrap();
    assert_eq!(db.verifications_of(&first).await.unwrap().len(), 2);
}

#[tokio::test]
async fn different_names_are_shown_and_corrected_only_when_confirmed() {
    let app = TestApp::spawn().await;
    let agent = agent(&app).await;
    let who = citizen(&app).await;
    let db = &app.state.db;
    let mut check = check_of(&who, "18AB12345");
    check.identity.given_name = "Camille Marie".into();
    check.identity.family_name = "Martin-Durand".into();
    let refused = verify_at_counter(db, &app.state.keys, &agent, &check, app.clock.now()).await;
    match refused {
        Err(VerifyError::NamesDiffer { declared, document }) => {
            assert_eq!(declared, ("Camille".to_owned(), "Martin".to_owned()));
            assert_eq!(document, ("Camille Marie".to_owned(), "Martin-Durand".to_owned()));
        }
        other => panic!("{other:?}"),
    }
    assert!(db.verifications_of(&who).await.unwrap().is_empty());

    let client = app
        .register_client(idp::clients::NewClient {
            client_name: "Mairie".into(),
            redirect_uris: vec!["https://mairie.example.fr/cb".into()],
            ..Default::default()
        })
        .await;
    let sub_before = app.state.keys.pairwise_subject(&client.client.sector, &who);
    check.correct_names = true;
    verify_at_counter(db, &app.state.keys, &agent, &check, app.clock.now()).await.unwrap();
    let identity = Identity::load(db, &who).await.unwrap().unwrap();
    assert_eq!(
        (identity.citizen.given_name.as_str(), identity.citizen.family_name.as_str()),
        ("Camille Marie", "Martin-Durand")
    );
    assert_eq!(identity_level(&identity), Level::Eidas2);
    assert_eq!(
        app.state.keys.pairwise_subject(&client.client.sector, &who),
        sub_before,
        "a correction keeps every sub"
    );
}

#[tokio::test]
async fn an_invalid_form_writes_nothing() {
    let app = TestApp::spawn().await;
    let agent = agent(&app).await;
    let who = citizen(&app).await;
    let mut check = check_of(&who, "X4RTBPFW4");
    check.document.expires_on = "2001-01-01".into();
    check.identity.birthplace = Some("99999".into());
    let refused = verify_at_counter(&app.state.db, &app.state.keys, &agent, &check, app.clock.now()).await;
    match refused {
        Err(VerifyError::Invalid(problems)) => {
            assert_eq!(problems, [Problem::DocumentExpired, Problem::BirthplaceUnknown]);
        }
        other => panic!("{other:?}"),
    }
    assert!(app.state.db.attributes_of(&who).await.unwrap().is_empty());
}

/// After a counter verification and a sign-in with a user-verifying
/// passkey, a service asking for `acr=eidas2` (essential) and for
/// `verified_claims` gets both; one asking for plain claims gets them as before.
#[tokio::test]
async fn services_receive_eidas2_and_verified_claims_with_their_evidence() {
    use crate::oidc_support::*;
    let app = TestApp::spawn().await;
    let agent = agent(&app).await;
    let client = confidential(&app).await;
    let mut flow = Flow::for_client(&app, client).await;
    let db = &app.state.db;
    verify_at_counter(db, &app.state.keys, &agent, &check_of(&flow.citizen_id, "X4RTBPFW4"), app.clock.now())
        .await
        .unwrap();
    // Signing in again now proves eidas2 (identity verified, user-verifying passkey).
    let identity = Identity::load(db, &flow.citizen_id).await.unwrap().unwrap();
    let mut session = app.citizen_session(&flow.citizen_id);
    session.acr = idp::citizen::identity::session_acr(&identity, &session.amr).as_str().to_owned();
    assert_eq!(session.acr, "eidas2");
    flow.cookie = app.session_cookie(&session).await;

    let claims = serde_json::json!({
        "id_token": {"acr": {"essential": true, "value": "eidas2"}},
        "userinfo": {"verified_claims": {
            "verification": {"trust_framework": null},
            "claims": {"given_name": null, "family_name": null, "birthdate": null, "birthplace": null, "email": null}
        }}
    })
    .to_string();
    let tokens = flow.tokens_with(&app, &[("claims", &claims)]).await;
    let id_token = verified(&app, tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["acr"], "eidas2");
    let info = userinfo_ok(&app, tokens["access_token"].as_str().unwrap()).await;
    let vc = &info["verified_claims"];
    assert_eq!(
        vc["claims"],
        serde_json::json!({"given_name": "Camille", "family_name": "Martin", "birthdate": "1990-05-00", "birthplace": "75056"}),
        "{info}"
    );
    assert_eq!(vc["verification"]["trust_framework"], "eidas");
    let evidence = &vc["verification"]["evidence"][0];
    assert_eq!(evidence["type"], "document");
    assert_eq!(evidence["method"], "pipp");
    assert_eq!(evidence["verifier"]["organization"], agent.organisation.name.as_str());
    assert_eq!(evidence["document_details"]["type"], "idcard");
    assert_eq!(info["given_name"], "Camille", "plain profile claims as before");

    // The release is on the citizen's record, verified_claims named.
    let history = db.audit_events_of(&flow.citizen_id).await.unwrap();
    assert!(history.iter().any(|e| e.kind == "claims.released" && e.details.contains("verified_claims")));

    let discovery: serde_json::Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(discovery["verified_claims_supported"], true);
    assert_eq!(discovery["trust_frameworks_supported"], serde_json::json!(["eidas"]));
    assert_eq!(discovery["documents_methods_supported"], serde_json::json!(["pipp"]));
}

/// Two agents recording the same citizen at once: both checks are kept,
/// the identity is whole (every attribute from one of them), nothing mixed
/// half-way.
#[tokio::test]
async fn two_agents_verifying_one_citizen_at_once_leave_a_whole_identity() {
    let app = TestApp::spawn().await;
    let (first, second) = (agent(&app).await, agent(&app).await);
    let who = citizen(&app).await;
    let db = &app.state.db;
    let keys = &app.state.keys;
    let now = app.clock.now();
    let one = check_of(&who, "X4RTBPFW4");
    let mut other = check_of(&who, "X4RTBPFW4");
    other.identity.birthdate = "1990-05-17".into();
    let (a, b) = tokio::join!(
        verify_at_counter(db, keys, &first, &one, now),
        verify_at_counter(db, keys, &second, &other, now),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let identity = Identity::load(db, &who).await.unwrap().unwrap();
    assert_eq!(identity_level(&identity), Level::Eidas2);
    let by: std::collections::BTreeSet<_> = identity.attributes.iter().filter_map(|x| x.verified_by.clone()).collect();
    assert_eq!(by.len(), 1, "every attribute from the same verification: {by:?}");
    assert!(by.contains(&a.verification_id) || by.contains(&b.verification_id));
    assert_eq!(db.verifications_of(&who).await.unwrap().len(), 2);
}
