//! Organisation members: invitations through the admin API (and the
//! domain the pages and the CLI share), acceptance exactly once, removal,
//! the log, and what an organisation's token may not touch.

use idp::clients::members::{self, InvitationError, InvitationLookupError, Role};
use idp::testing::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

async fn call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.client.request(method, app.ops_url(&format!("/admin/api{path}"))).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The secret of an invitation link.
fn token_of(link: &str) -> String {
    let (_, query) = link.split_once('?').expect("the link has a query");
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "token").expect("a token").1.into_owned()
}

async fn citizen(app: &TestApp) -> String {
    app.citizen().await
}

#[tokio::test]
async fn an_invitation_makes_a_member_once_and_is_logged() {
    let app = TestApp::spawn().await;
    let org = app.organisation().await.organisation_id;
    let admin = app.admin_token(Some(&org)).await;
    let (status, issued) =
        call(&app, Method::POST, &format!("/organisations/{org}/invitations"), &admin, Some(json!({"role": "agent"})))
            .await;
    assert_eq!(status, 201, "{issued}");
    let link = issued["link"].as_str().unwrap();
    assert!(link.starts_with(&format!("{}/invitation?token=", app.issuer)), "{link}");
    assert_eq!(issued["state"], "pending");
    let token = token_of(link);

    let agent = citizen(&app).await;
    let now = app.clock.now();
    let pending = members::pending_invitation(&app.state.db, &token, now).await.unwrap();
    assert_eq!(pending.role, Role::Agent);
    let accepted = members::accept(&app.state.db, &token, &agent, now).await.unwrap();
    assert_eq!(accepted.organisation_id, org);
    let holds = |who: String, role| {
        let db = app.state.db.clone();
        let org = org.clone();
        async move { members::organisations_where(&db, &who, role).await.unwrap().iter().any(|o| o.organisation_id == org) }
    };
    assert!(holds(agent.clone(), Role::Agent).await);
    assert!(!holds(agent.clone(), Role::Admin).await);

    // Single use, whoever tries again.
    let other = citizen(&app).await;
    let again = members::accept(&app.state.db, &token, &other, now).await;
    assert!(matches!(again, Err(InvitationLookupError::Refused(InvitationError::Used))), "{again:?}");
    assert!(!holds(other.clone(), Role::Agent).await);

    let (status, listed) = call(&app, Method::GET, &format!("/organisations/{org}/members"), &admin, None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["members"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["members"][0]["citizen_id"], agent.as_str());
    assert_eq!(listed["members"][0]["roles"], json!(["agent"]));
    assert_eq!(listed["invitations"][0]["state"], "accepted");
    assert!(listed.to_string().find(&token).is_none(), "a listing never shows the link");

    let (_, events) = call(&app, Method::GET, "/events", &admin, None).await;
    let actions: Vec<&str> = events.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"member.invite") && actions.contains(&"member.join"), "{actions:?}");
}

#[tokio::test]
async fn expired_withdrawn_and_unknown_invitations_are_refused_by_name() {
    let app = TestApp::spawn().await;
    let org = app.organisation().await.organisation_id;
    let db = &app.state.db;
    let actor = idp::clients::Actor::cli();
    let someone = citizen(&app).await;
    let refused = |r: Result<members::Invitation, InvitationLookupError>| match r {
        Err(InvitationLookupError::Refused(why)) => why,
        other => panic!("not refused: {other:?}"),
    };

    let short = members::invite(db, &org, Role::Developer, 60, &app.issuer, &actor, app.clock.now()).await.unwrap();
    app.clock.advance(61);
    let now = app.clock.now();
    assert_eq!(refused(members::accept(db, &token_of(&short.link), &someone, now).await), InvitationError::Expired);

    let withdrawn = members::invite(db, &org, Role::Admin, 3_600, &app.issuer, &actor, now).await.unwrap();
    members::revoke_invitation(db, &org, &withdrawn.invitation.invitation_id, &actor, now).await.unwrap();
    assert_eq!(refused(members::accept(db, &token_of(&withdrawn.link), &someone, now).await), InvitationError::Revoked);
    assert!(
        members::revoke_invitation(db, &org, &withdrawn.invitation.invitation_id, &actor, now).await.is_err(),
        "withdrawing twice is a conflict"
    );

    assert_eq!(refused(members::accept(db, "no-such-link", &someone, now).await), InvitationError::Unknown);
    assert!(members::memberships(db, &someone).await.unwrap().is_empty(), "nothing was granted");

    // Out-of-range lifetimes and unknown roles are refused before anything is stored.
    assert!(members::invite(db, &org, Role::Agent, 31 * 86_400, &app.issuer, &actor, now).await.is_err());
    assert!(Role::parse("superuser").is_err());
    assert!(members::invitations(db, &org, now).await.unwrap().len() == 2);
}

#[tokio::test]
async fn removing_a_role_or_a_member() {
    let app = TestApp::spawn().await;
    let org = app.organisation().await.organisation_id;
    let db = &app.state.db;
    let actor = idp::clients::Actor::cli();
    let member = citizen(&app).await;
    for role in [Role::Agent, Role::Admin] {
        let issued = members::invite(db, &org, role, 3_600, &app.issuer, &actor, app.clock.now()).await.unwrap();
        members::accept(db, &token_of(&issued.link), &member, app.clock.now()).await.unwrap();
    }
    let listed = members::members(db, &org).await.unwrap();
    assert_eq!(listed[0].roles, [Role::Admin, Role::Agent]);

    let global = app.admin_token(None).await;
    let path = format!("/organisations/{org}/members/{}?role=admin", listed[0].identifier);
    assert_eq!(call(&app, Method::DELETE, &path, &global, None).await.0, 204);
    assert_eq!(members::members(db, &org).await.unwrap()[0].roles, [Role::Agent]);
    let path = format!("/organisations/{org}/members/{member}");
    assert_eq!(call(&app, Method::DELETE, &path, &global, None).await.0, 204);
    assert!(members::members(db, &org).await.unwrap().is_empty());
    let (status, body) = call(&app, Method::DELETE, &path, &global, None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn an_organisations_token_manages_only_its_own_members() {
    let app = TestApp::spawn().await;
    let mine = app.organisation().await.organisation_id;
    let theirs = app.organisation_with_code("31555").await.organisation_id;
    let token = app.admin_token(Some(&mine)).await;
    for (method, path, body) in [
        (Method::GET, format!("/organisations/{theirs}/members"), None),
        (Method::POST, format!("/organisations/{theirs}/invitations"), Some(json!({"role": "agent"}))),
        (Method::DELETE, format!("/organisations/{theirs}/members/someone"), None),
        (Method::DELETE, format!("/organisations/{theirs}/invitations/x"), None),
    ] {
        let (status, body) = call(&app, method.clone(), &path, &token, body).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("insufficient_scope")), "{method} {path}");
    }
    let (status, body) =
        call(&app, Method::POST, &format!("/organisations/{mine}/invitations"), &token, Some(json!({"role": "boss"})))
            .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_client_metadata")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("role"), "{body}");
    assert!(members::invitations(&app.state.db, &mine, app.clock.now()).await.unwrap().is_empty());
}

#[tokio::test]
async fn deleting_an_account_ends_its_memberships() {
    let app = TestApp::spawn().await;
    let org = app.organisation().await.organisation_id;
    let db = &app.state.db;
    let member = citizen(&app).await;
    let issued =
        members::invite(db, &org, Role::Agent, 3_600, &app.issuer, &idp::clients::Actor::cli(), app.clock.now())
            .await
            .unwrap();
    members::accept(db, &token_of(&issued.link), &member, app.clock.now()).await.unwrap();
    idp::endings::account_deleted(&app.state, &member).await.unwrap();
    assert!(members::members(db, &org).await.unwrap().is_empty());
    let left: Vec<_> = db.rows_of_citizen(&member).await.unwrap().into_iter().filter(|(_, n)| *n > 0).collect();
    assert!(left.is_empty(), "{left:?}");
}
