//! A real browser: headless Chromium (playwright-core, CDP virtual
//! authenticator) signs up, signs out and signs back in through the pages;
//! every page passes the axe-core audit in French and in English.
//! Skipped, saying why, when Chromium or the npm packages are missing —
//! unless SESAME_REQUIRE_BROWSER=1 (set by .ci/run), where that fails.

use idp::testing::TestApp;
use idp::testing::browser::{chromium_or_skip, run_script, run_script_answering};

/// Every page a citizen or a developer meets, in French and in English,
/// through the axe-core audit (`tests/browser/pages.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_in_both_languages_passes_the_accessibility_audit() {
    use idp::clients::{ExtraMetadata, NewClient};
    let Some(chromium) = chromium_or_skip() else { return };
    let app = TestApp::spawn().await;
    let redirect = "https://mairie.example.fr/callback";
    let client = app
        .register_client(NewClient {
            client_name: "Mairie de Test".into(),
            redirect_uris: vec![redirect.into()],
            scope: Some("openid profile email".into()),
            extra: ExtraMetadata {
                client_name_en: Some("Test Town Hall".into()),
                policy_uri: Some("https://mairie.example.fr/donnees".into()),
                tos_uri: Some("https://mairie.example.fr/conditions".into()),
                ..ExtraMetadata::default()
            },
            ..NewClient::default()
        })
        .await;
    let out = run_script(&chromium, "pages.mjs", &[&app.issuer, &client.client.client_id, redirect]).await;
    let report: serde_json::Value = serde_json::from_str(out.lines().last().unwrap_or_default()).unwrap();
    let audited: Vec<&str> = report["audited"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    for page in [
        "sign-up",
        "sign-in",
        "recovery",
        "developers",
        "not found",
        "authorization refused",
        "identifier",
        "account",
        "consent",
        "logout confirmation",
        "page expired",
        "signed out",
    ] {
        for lang in ["fr", "en"] {
            let name = format!("{page} ({lang})");
            assert!(audited.contains(&name.as_str()), "{name} was not audited: {audited:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_sign_out_sign_in_in_headless_chromium() {
    let Some(chromium) = chromium_or_skip() else { return };
    let app = TestApp::spawn().await;
    run_script(&chromium, "signup-signin.mjs", &[&app.issuer]).await;
    assert_eq!(app.state.db.count_citizens().await.unwrap(), 1);
}

/// The counter in headless Chromium: an invited agent verifies a citizen
/// from the zone of their card, then hands over an assisted recovery link
/// the citizen enrols with; every page audited (axe-core, fr and en).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counter_in_headless_chromium() {
    use idp::citizen::identity::{Identity, Level, identity_level};
    use idp::citizen::mrz::check_digit;
    use idp::clients::members::Role;
    let Some(chromium) = chromium_or_skip() else { return };
    let app = TestApp::spawn().await;
    let organisation = app.organisation().await.organisation_id;
    let invitation = app.invitation(&organisation, Role::Agent).await;
    // A French identity card's zone for Élodie Dupont-Léger, born 1990-05-17.
    let pad = |s: &str, n: usize| format!("{s:<<n$}");
    let line1 = format!("IDFRAX4RTBPFW4{}{}", check_digit("X4RTBPFW4"), pad("", 15));
    let mut line2 = format!("900517{}F310630{}FRA{}", check_digit("900517"), check_digit("310630"), pad("", 11));
    let composite = [&line1[5..30], &line2[0..7], &line2[8..15], &line2[18..29]].concat();
    line2.push_str(&check_digit(&composite).to_string());
    let zone = format!("{line1}\n{line2}\n{}", pad("DUPONT<LEGER<<ELODIE", 30));
    let out = run_script(&chromium, "counter.mjs", &[&app.issuer, &invitation.link, &zone, "75056"]).await;
    assert!(out.contains(r#""ok":true"#));
    let recorded = app.state.db.all_verifications().await.unwrap();
    let mut kinds: Vec<&str> = recorded.iter().map(|v| v.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["recovery", "verification"], "a verification and an assisted recovery (same test instant)");
    let verified = &recorded;
    let identity = Identity::load(&app.state.db, &verified[0].citizen_id).await.unwrap().unwrap();
    assert_eq!(identity_level(&identity), Level::Eidas2);
}

/// The account pages in headless Chromium, French and English, each audited
/// (axe-core): the declared identity with its commune list, the email
/// address and its code, and the passkey confirmation asked once the
/// session is older than five minutes, after which the change goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_pages_in_headless_chromium() {
    let Some(chromium) = chromium_or_skip() else { return };
    let app = TestApp::spawn().await;
    let clock = app.clock.clone();
    run_script_answering(&chromium, "account.mjs", &[&app.issuer], "waiting for the clock", || clock.advance(6 * 60))
        .await;
    assert_eq!(app.state.db.count_citizens().await.unwrap(), 2);
}

/// A service laid out as an SSO portal (its callback and post-logout page on
/// one loopback port redirect to the application on another: two origins),
/// in headless Chromium: consent, account choice and logout confirmation
/// end at the application; the application's POSTs to /authorize and
/// /logout from its own origin reach the citizen's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sso_portal_on_two_origins_in_headless_chromium() {
    use std::sync::{Arc, Mutex};

    use axum::extract::Query;
    use axum::response::{Html, Redirect};
    use axum::routing::get;

    let Some(chromium) = chromium_or_skip() else { return };
    let app = TestApp::spawn().await;
    let portal_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let application_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let portal = format!("http://127.0.0.1:{}", portal_listener.local_addr().unwrap().port());
    let application = format!("http://127.0.0.1:{}", application_listener.local_addr().unwrap().port());
    let registered = app
        .register_client(idp::clients::NewClient {
            client_name: "Portail".into(),
            redirect_uris: vec![format!("{portal}/callback")],
            post_logout_redirect_uris: vec![format!("{portal}/logged-out")],
            ..Default::default()
        })
        .await;
    let client_id = registered.client.client_id.clone();
    let (_, challenge) = crate::oidc_support::pkce();
    let params = |extra: &[(&str, &str)]| {
        let mut params = vec![
            ("response_type".to_owned(), "code".to_owned()),
            ("client_id".to_owned(), client_id.clone()),
            ("redirect_uri".to_owned(), format!("{portal}/callback")),
            ("scope".to_owned(), "openid profile".to_owned()),
            ("state".to_owned(), "portal-state".to_owned()),
            ("code_challenge".to_owned(), challenge.clone()),
            ("code_challenge_method".to_owned(), "S256".to_owned()),
        ];
        params.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        params
    };
    let form = |action: String, fields: Vec<(String, String)>| {
        let hidden: String = fields
            .iter()
            .map(|(k, v)| format!(r#"<input type="hidden" name="{k}" value="{}">"#, v.replace('"', "&quot;")))
            .collect();
        format!(
            r#"<!doctype html><html lang="fr"><head><title>Application</title></head><body><main><h1>Application</h1><form method="post" action="{action}">{hidden}<button type="submit">Sésame</button></form></main></body></html>"#
        )
    };

    // The portal: records the codes it receives, then sends the browser to the application.
    let codes = Arc::new(Mutex::new(Vec::<String>::new()));
    let portal_router = axum::Router::new()
        .route(
            "/callback",
            get({
                let (codes, to) = (codes.clone(), application.clone());
                move |Query(query): Query<std::collections::HashMap<String, String>>| {
                    codes.lock().unwrap().extend(query.get("code").cloned());
                    let to = format!("{to}/app");
                    async move { Redirect::to(&to) }
                }
            })
            .post({
                let (codes, to) = (codes.clone(), application.clone());
                move |axum::Form(form): axum::Form<std::collections::HashMap<String, String>>| {
                    codes.lock().unwrap().extend(form.get("code").cloned());
                    let to = format!("{to}/app");
                    async move { Redirect::to(&to) }
                }
            }),
        )
        .route(
            "/logged-out",
            get({
                let to = format!("{application}/bye");
                move || async move { Redirect::to(&to) }
            }),
        );
    let page = |title: &'static str| {
        Html(format!(
            r#"<!doctype html><html lang="fr"><head><title>{title}</title></head><body><main><h1>{title}</h1></main></body></html>"#
        ))
    };
    let sign_in = form(format!("{}/authorize", app.issuer), params(&[("prompt", "select_account")]));
    let sign_out = form(
        format!("{}/logout", app.issuer),
        vec![
            ("client_id".into(), client_id.clone()),
            ("post_logout_redirect_uri".into(), format!("{portal}/logged-out")),
            ("ui_locales".into(), "fr".into()),
        ],
    );
    let application_router = axum::Router::new()
        .route("/app", get(move || async move { page("Application ouverte") }))
        .route("/bye", get(move || async move { page("Au revoir") }))
        .route(
            "/sign-in",
            get(move |Query(q): Query<std::collections::HashMap<String, String>>| {
                let lang = q.get("ui_locales").cloned().unwrap_or_default();
                let html = sign_in
                    .replace("</form>", &format!(r#"<input type="hidden" name="ui_locales" value="{lang}"></form>"#));
                async move { Html(html) }
            }),
        )
        .route("/sign-out", get(move || async move { Html(sign_out) }));
    tokio::spawn(async move { axum::serve(portal_listener, portal_router).await });
    tokio::spawn(async move { axum::serve(application_listener, application_router).await });

    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params(&[])).finish();
    let authorize = format!("{}/authorize?{query}", app.issuer);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params(&[("response_mode", "form_post")]))
        .finish();
    let form_post = format!("{}/authorize?{query}", app.issuer);
    run_script(&chromium, "portal.mjs", &[&app.issuer, &authorize, &application, &form_post]).await;
    assert_eq!(codes.lock().unwrap().len(), 4, "a code after consent, after each account choice, by form_post");
}
