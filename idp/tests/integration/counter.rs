//! The counter end to end through the real pages, with software passkeys:
//! an invited agent, a citizen's code for the counter, a verification read
//! from a machine-readable zone, and the citizen's next login at a service
//! carrying `eidas2`, the pivot claims and `verified_claims`. Then every
//! refusal the pages answer.

use idp::citizen::mrz::check_digit;
use idp::clients::members::{self, Role};
use idp::testing::TestApp;
use idp::testing::browser::{Browser, element_text};
use reqwest::StatusCode;

use crate::oidc_support::*;

/// A French identity card's zone (TD1) for these names and dates, with
/// correct check digits.
fn td1(number: &str, family: &str, given: &str, birth: &str, sex: char, expiry: &str) -> String {
    let pad = |s: &str, n: usize| format!("{s:<<n$}");
    let number = pad(number, 9);
    let line1 = format!("IDFRA{number}{}{}", check_digit(&number), pad("", 15));
    let mut line2 = format!("{birth}{}{sex}{expiry}{}FRA{}", check_digit(birth), check_digit(expiry), pad("", 11));
    let composite = [&line1[5..30], &line2[0..7], &line2[8..15], &line2[18..29]].concat();
    line2.push_str(&check_digit(&composite).to_string());
    let line3 = pad(&format!("{family}<<{given}"), 30);
    format!("{line1}\n{line2}\n{line3}")
}

/// An agent of the test organisation, signed in through the invitation link.
async fn agent_browser(app: &TestApp) -> Browser {
    let organisation = app.organisation().await.organisation_id;
    let issued = app.invitation(&organisation, Role::Agent).await;
    let path = issued.link.strip_prefix(&app.issuer).unwrap().to_owned();
    let mut agent = Browser::new(app);
    // Signed out, the link sends to sign-in and back.
    let location = agent.get_location(&path).await.unwrap();
    assert!(location.starts_with("/signin?next=%2Finvitation%3Ftoken%3D"), "{location}");
    agent.sign_up("Agnès", "Guichet", None).await;
    let (status, page) = agent.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&app.organisation().await.name), "{page}");
    let token = issued.link.split("token=").nth(1).unwrap();
    let joined = agent.post_form("/invitation", &[("token", token)]).await;
    assert_eq!(joined.status(), StatusCode::SEE_OTHER);
    assert_eq!(joined.headers()["location"], "/guichet");
    // The link works once.
    let (status, page) = agent.get(&path).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("déjà été utilisée"), "{page}");
    agent
}

/// The citizen's code, from their account page.
async fn counter_code(citizen: &mut Browser) -> String {
    assert!(citizen.account().await.contains("Présenter mon compte au guichet"));
    let response = citizen.post_form("/account/counter-code", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("<svg"), "a QR code: {page}");
    element_text(&page, r#"id="counter-code""#).expect("the code is shown")
}

async fn open_case(agent: &mut Browser, app: &TestApp, code: &str) -> reqwest::Response {
    let (status, desk) = agent.get("/guichet").await;
    assert_eq!(status, StatusCode::OK, "{desk}");
    let organisation = app.organisation().await.organisation_id;
    agent.post_form("/guichet/open", &[("organisation", &organisation), ("code", code)]).await
}

#[tokio::test]
async fn an_agent_verifies_a_citizen_who_then_signs_in_to_a_service_at_eidas2() {
    let app = TestApp::spawn().await;
    let mut agent = agent_browser(&app).await;
    let mut citizen = Browser::new(&app);
    let shown = citizen.sign_up("Élodie", "Dupont-Léger", None).await;
    let code = counter_code(&mut citizen).await;

    let opened = open_case(&mut agent, &app, &code.to_lowercase()).await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    assert_eq!(opened.headers()["location"], "/guichet/case");
    let (status, case) = agent.get("/guichet/case").await;
    assert_eq!(status, StatusCode::OK);
    assert!(case.contains(&shown.identifier) && case.contains("Dupont-Léger"), "{case}");

    let zone = td1("X4RTBPFW4", "DUPONT<LEGER", "ELODIE<MARIE", "900517", 'F', "310630");
    let first = agent
        .post_form(
            "/guichet/case/verify",
            &[("mrz", &zone), ("birthcountry", "99100"), ("birthplace", "75056"), ("document_issuer", "FRA")],
        )
        .await;
    let status = first.status();
    let page = first.text().await.unwrap();
    // Names: "Élodie" declared, "ELODIE MARIE" on the card: shown, not overwritten.
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("ELODIE MARIE") && page.contains("correct_names"), "{page}");
    let confirmed = agent
        .post_form(
            "/guichet/case/verify",
            &[
                ("mrz", &zone),
                ("birthcountry", "99100"),
                ("birthplace", "75056"),
                ("document_issuer", "FRA"),
                ("correct_names", "yes"),
            ],
        )
        .await;
    let status = confirmed.status();
    let page = confirmed.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Identité vérifiée"), "{page}");
    assert_eq!(agent.get("/guichet/case").await.0, StatusCode::BAD_REQUEST, "the record closed");

    // The citizen signs in again: eidas2 now, and the account shows it.
    app.clock.advance(60);
    citizen.sign_out().await;
    citizen.sign_in().await;
    let account = citizen.account().await;
    assert!(account.contains("substantiel (identité vérifiée)"), "the level, not just the word: {account}");
    assert!(account.contains("ELODIE MARIE"), "the corrected names: {account}");
    let organisation = app.organisation().await.name;
    let checks = account.split(r#"id="verifications-title""#).nth(1).expect("the checks are listed");
    assert!(checks.contains(&organisation) && checks.contains("Carte nationale d’identité"), "{checks}");
    assert!(
        account.contains(&format!("vérifié par {organisation}")),
        "each attribute names who verified it: {account}"
    );

    // A service asking for eidas2 (essential) and verified_claims.
    let client = confidential(&app).await;
    let citizen_id = app.state.db.citizen_by_identifier(&shown.identifier.replace('-', "")).await.unwrap().unwrap().id;
    app.state.db.save_consent(&citizen_id, &client.client.client_id, "openid profile", app.clock.now()).await.unwrap();
    let (verifier, challenge) = pkce();
    let flow = Flow { client, cookie: String::new(), citizen_id, verifier, challenge };
    let claims = serde_json::json!({
        "id_token": {"acr": {"essential": true, "value": "eidas2"}},
        "userinfo": {"verified_claims": {"verification": {"trust_framework": null},
            "claims": {"given_name": null, "family_name": null, "birthdate": null, "gender": null, "birthplace": null}}}
    })
    .to_string();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(flow.params(&[("claims", &claims), ("scope", "openid profile")]))
        .finish();
    let location = citizen.get_location(&format!("/authorize?{query}")).await.unwrap();
    let code = query_of(&location).remove("code").unwrap_or_else(|| panic!("no code: {location}"));
    let (status, tokens) = flow.redeem(&app, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(verified(&app, tokens["id_token"].as_str().unwrap())["acr"], "eidas2");
    let info = userinfo_ok(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["birthdate"], "1990-05-17");
    assert_eq!(info["birthplace"], "75056");
    let vc = &info["verified_claims"];
    assert_eq!(vc["claims"]["family_name"], "DUPONT LEGER", "{info}");
    assert_eq!(vc["claims"]["gender"], "female");
    assert_eq!(vc["verification"]["evidence"][0]["method"], "pipp");
    assert_eq!(vc["verification"]["evidence"][0]["verifier"]["organization"], app.organisation().await.name.as_str());
}

#[tokio::test]
async fn the_counter_refuses_what_it_must_with_a_page_and_writes_nothing() {
    let app = TestApp::spawn().await;
    // Not an agent.
    let mut someone = Browser::new(&app);
    someone.sign_up("Paul", "Personne", None).await;
    let (status, page) = someone.get("/guichet").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("réservée aux agents"), "{page}");

    let mut agent = agent_browser(&app).await;
    let mut citizen = Browser::new(&app);
    citizen.sign_up("Jean", "Martin", None).await;
    // A wrong code, then a real one used twice.
    let response = open_case(&mut agent, &app, "K7QX-2M9P").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("inconnu, déjà utilisé ou expiré"));
    let code = counter_code(&mut citizen).await;
    assert_eq!(open_case(&mut agent, &app, &code).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(open_case(&mut agent, &app, &code).await.status(), StatusCode::BAD_REQUEST, "single use");
    // An expired code.
    let late = counter_code(&mut citizen).await;
    app.clock.advance(601);
    assert_eq!(open_case(&mut agent, &app, &late).await.status(), StatusCode::BAD_REQUEST, "ten minutes");

    // Another organisation than the agent's.
    let other = app.organisation_with_code("31555").await.organisation_id;
    let fresh = counter_code(&mut citizen).await;
    let response = agent.post_form("/guichet/open", &[("organisation", &other), ("code", &fresh)]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(open_case(&mut agent, &app, &fresh).await.status(), StatusCode::SEE_OTHER, "the code was not spent");

    // A wrong check digit, an expired card, a birth in the future, an unknown commune.
    let mut zone = td1("X4RTBPFW4", "MARTIN", "JEAN", "850101", 'M', "310630");
    zone.replace_range(14..15, if &zone[14..15] == "0" { "1" } else { "0" });
    let response = agent.post_form("/guichet/case/verify", &[("mrz", &zone), ("birthplace", "75056")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("chiffre de contrôle"));
    let fields = [
        ("document_type", "passport"),
        ("document_number", "18AB12345"),
        ("document_issuer", "FRA"),
        ("document_expires", "2020-01-01"),
        ("given_name", "Jean"),
        ("family_name", "Martin"),
        ("birthdate", "2090-01-01"),
        ("gender", "male"),
        ("birthcountry", "99100"),
        ("birthplace", "99999"),
    ];
    let response = agent.post_form("/guichet/case/verify", &fields).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.unwrap();
    for message in ["La pièce est expirée", "dans le futur", "code officiel géographique"] {
        assert!(page.contains(message), "{message}: {page}");
    }
    assert!(page.contains(r#"aria-invalid="true""#));
    let citizen_id = app
        .state
        .db
        .citizen_by_identifier(
            &element_text(&citizen.account().await, r#"id="citizen-identifier""#).unwrap().replace('-', ""),
        )
        .await
        .unwrap()
        .unwrap()
        .id;
    assert!(app.state.db.verifications_of(&citizen_id).await.unwrap().is_empty(), "nothing written");
    // Forms need their CSRF token.
    let forged = agent.client.post(agent.url("/guichet/case/verify")).form(&fields).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // In English too.
    agent.accept_language = "en".into();
    let (_, page) = agent.get("/guichet/case").await;
    assert!(page.contains("Record the verified identity"), "{page}");
}

/// Joins an organisation through an invitation link, signed in.
async fn join(browser: &mut Browser, app: &TestApp, link: &str) -> reqwest::Response {
    let path = link.strip_prefix(&app.issuer).unwrap();
    let (status, page) = browser.get(path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let token = link.split("token=").nth(1).unwrap();
    browser.post_form("/invitation", &[("token", token)]).await
}

#[tokio::test]
async fn an_organisation_admin_invites_an_agent_and_takes_the_role_back_in_the_console() {
    let app = TestApp::spawn().await;
    let org = app.organisation().await.organisation_id;
    let issued = app.invitation(&org, Role::Admin).await;
    let mut admin = Browser::new(&app);
    admin.sign_up("Alice", "Admin", None).await;
    let joined = join(&mut admin, &app, &issued.link).await;
    assert_eq!(joined.headers()["location"], "/account?notice=joined");

    let (status, page) = admin.get("/console/members").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Alice Admin"), "{page}");
    let response = admin.post_form("/console/members/invite", &[("org", &org), ("role", "agent")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let link = element_text(&response.text().await.unwrap(), r#"id="invitation-link""#).expect("the link, once");

    let mut agent = Browser::new(&app);
    agent.sign_up("Agnès", "Guichet", None).await;
    assert_eq!(join(&mut agent, &app, &link).await.headers()["location"], "/guichet");
    assert_eq!(agent.get("/guichet").await.0, StatusCode::OK);
    let (_, page) = admin.get("/console/members").await;
    assert!(page.contains("Agnès Guichet") && page.contains("acceptée"), "{page}");

    // The admin takes the role back: the agent's next page refuses them.
    let agent_id = members::members(&app.state.db, &org)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.given_name == "Agnès")
        .unwrap()
        .citizen_id;
    let removed =
        admin.post_form("/console/members/remove", &[("org", &org), ("member", &agent_id), ("role", "agent")]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert_eq!(agent.get("/guichet").await.0, StatusCode::FORBIDDEN);
    let log = app.state.db.admin_events(Some(&org), 50).await.unwrap();
    assert!(
        log.iter().any(|e| e.action == "member.remove" && e.actor.starts_with("member:")),
        "logged under the admin's name: {log:?}"
    );

    // Another organisation's members answer 404; a non-admin gets 403.
    let other = app.organisation_with_code("31555").await.organisation_id;
    let response = admin.post_form("/console/members/invite", &[("org", &other), ("role", "agent")]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(admin.get(&format!("/console/members?org={other}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(agent.get("/console/members").await.0, StatusCode::FORBIDDEN);
    // English.
    admin.accept_language = "en".into();
    let (_, page) = admin.get("/console/members").await;
    assert!(page.contains("Organisation members") && page.contains("Invite someone"), "{page}");
}

#[tokio::test]
async fn the_agent_hands_over_an_enrolment_link_for_an_assisted_recovery() {
    use idp::citizen::verification::*;
    let app = TestApp::spawn().await;
    let mut agent = agent_browser(&app).await;
    let mut citizen = Browser::new(&app);
    let shown = citizen.sign_up("Jean", "Martin", None).await;
    let organisation = app.organisation().await;
    let fields = |identifier: &str| -> Vec<(&'static str, String)> {
        vec![
            ("organisation", organisation.organisation_id.clone()),
            ("identifier", identifier.to_owned()),
            ("document_type", "passport".into()),
            ("document_number", "18AB12345".into()),
            ("document_issuer", "FRA".into()),
            ("document_expires", "2031-06-30".into()),
            ("given_name", "JEAN".into()),
            ("family_name", "MARTIN".into()),
            ("birthdate", "1985-01-01".into()),
            ("gender", "male".into()),
            ("birthcountry", "99100".into()),
            ("birthplace", "31555".into()),
        ]
    };
    let (status, page) = agent.get("/guichet/recovery").await;
    assert_eq!(status, StatusCode::OK, "{page}");

    // Never verified: refused, by name.
    let form = fields(&shown.identifier);
    let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = agent.post_form("/guichet/recovery", &refs).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("jamais été vérifiée"));

    // Verified at a counter, then recovered with the same document.
    let citizen_id = app.state.db.citizen_by_identifier(&shown.identifier.replace('-', "")).await.unwrap().unwrap().id;
    let check = CounterCheck {
        citizen_id: citizen_id.clone(),
        document: Document {
            kind: DocumentType::Passport,
            number: "18AB12345".into(),
            issuer: "FRA".into(),
            expires_on: "2031-06-30".into(),
        },
        identity: DocumentIdentity {
            given_name: "JEAN".into(),
            family_name: "MARTIN".into(),
            birthdate: "1985-01-01".into(),
            gender: "male".into(),
            birthcountry: "99100".into(),
            birthplace: Some("31555".into()),
        },
        correct_names: false,
    };
    let agent_id = members::members(&app.state.db, &organisation.organisation_id).await.unwrap()[0].citizen_id.clone();
    let who = Agent { citizen_id: agent_id, organisation: organisation.clone() };
    verify_at_counter(&app.state.db, &app.state.keys, &who, &check, app.clock.now()).await.unwrap();
    let response = agent.post_form("/guichet/recovery", &refs).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("<svg"), "a QR code: {page}");
    let link = element_text(&page, r#"id="enrolment-link""#).expect("the link");
    assert!(link.starts_with(&format!("{}/recover/assisted?token=", app.issuer)), "{link}");
    let mut lost = Browser::new(&app);
    let (status, _) = lost.get(link.strip_prefix(&app.issuer).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "the citizen's page opens");

    // A mismatch and an unknown identifier are named too.
    let mut other = fields(&shown.identifier);
    other[8] = ("birthdate", "1985-01-02".into());
    other[3] = ("document_number", "18AB99999".into());
    let refs: Vec<(&str, &str)> = other.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = agent.post_form("/guichet/recovery", &refs).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("ne correspond pas"));
    let unknown = fields("0000-0000-0000-0000-0");
    let refs: Vec<(&str, &str)> = unknown.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = agent.post_form("/guichet/recovery", &refs).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_agent_guessing_codes_is_slowed_down() {
    let app = TestApp::spawn().await;
    let mut agent = agent_browser(&app).await;
    let mut statuses = Vec::new();
    for _ in 0..21 {
        statuses.push(open_case(&mut agent, &app, "0000-0000").await.status());
    }
    assert!(statuses[..20].iter().all(|s| *s == StatusCode::BAD_REQUEST), "{statuses:?}");
    assert_eq!(statuses[20], StatusCode::TOO_MANY_REQUESTS);
    let response = open_case(&mut agent, &app, "0000-0000").await;
    assert!(response.text().await.unwrap().contains("Trop de codes essayés"));
}
