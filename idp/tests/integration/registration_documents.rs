//! Documents a client registers by reference, fetched over real HTTP from a
//! loopback server inside the test: the sector identifier document (OIDC
//! Registration §5, pairwise subjects per sector) and the JWK Set at
//! `jwks_uri` (RFC 7591 §2) used for `private_key_jwt` at /token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use idp::clients::{self, NewClient, Registered};
use idp::keys::{Alg, SigningKey, generate_pkcs8};
use idp::testing::TestApp;
use serde_json::{Value, json};

use crate::binary::{environment, json_of, run};
use crate::federation::{id_sub, same_citizen, tokens_at};
use crate::oidc_support::*;
use crate::registration::{client_count, iat, manage, post_register};

/// A loopback HTTP server publishing documents; answers can change between
/// requests, and requests are counted per path.
struct DocumentServer {
    base: String,
    answers: Arc<Mutex<HashMap<String, (u16, String)>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl DocumentServer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let answers: Arc<Mutex<HashMap<String, (u16, String)>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (read, count) = (answers.clone(), hits.clone());
        let router = axum::Router::new().fallback(move |uri: Uri| {
            let (read, count) = (read.clone(), count.clone());
            async move {
                *count.lock().unwrap().entry(uri.path().to_owned()).or_default() += 1;
                let answer = read.lock().unwrap().get(uri.path()).cloned();
                let (status, body) = answer.unwrap_or((404, "no such document".into()));
                let mut response: Response =
                    (StatusCode::from_u16(status).unwrap(), [(header::CONTENT_TYPE, "application/json")], body)
                        .into_response();
                if status == 302 {
                    response.headers_mut().insert(header::LOCATION, "/elsewhere".parse().unwrap());
                }
                response
            }
        });
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { base, answers, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn publish(&self, path: &str, status: u16, body: impl ToString) {
        self.answers.lock().unwrap().insert(path.to_owned(), (status, body.to_string()));
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// An http URL on loopback where nothing listens.
fn closed_port_url(path: &str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}{path}")
}

const A: &str = "https://a.example.fr/callback";
const B: &str = "https://b.example.fr/callback";
const C: &str = "https://c.example.fr/callback";

fn registration(redirect_uris: &[&str], sector_identifier_uri: &str) -> Value {
    json!({
        "client_name": "Portail des démarches",
        "redirect_uris": redirect_uris,
        "sector_identifier_uri": sector_identifier_uri,
        "scope": "openid profile",
    })
}

/// The client a DCR answer describes, with its secret, for the code flow.
async fn registered(app: &TestApp, body: &Value) -> Registered {
    let client_id = body["client_id"].as_str().unwrap();
    let client = clients::find(&app.state.db, client_id).await.unwrap().unwrap();
    Registered::new(client, body["client_secret"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn a_sector_document_groups_hosts_and_clients_into_one_sector() {
    let app = TestApp::spawn().await;
    let server = DocumentServer::start().await;
    server.publish("/portail.json", 200, json!([A, B]));
    server.publish("/ecoles.json", 200, json!([C, "https://unrelated.example.fr/cb"]));
    let token = iat(&app).await;

    // Redirect URIs on two hosts, grouped by a sector document (DCR).
    let (status, body) = post_register(&app, Some(&token), &registration(&[A, B], &server.url("/portail.json"))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["sector_identifier_uri"], server.url("/portail.json"));
    assert_eq!(server.hits("/portail.json"), 1, "fetched once, at registration");
    let portail = registered(&app, &body).await;
    assert_eq!(portail.client.sector, "127.0.0.1", "the sector is the document's host");
    // Another service of the same sector (administrator path, same validation).
    let mut new = NewClient {
        client_name: "Écoles".into(),
        redirect_uris: vec![C.into()],
        scope: Some("openid profile".into()),
        ..NewClient::default()
    };
    new.extra.sector_identifier_uri = Some(server.url("/ecoles.json"));
    let ecoles = app.register_client(new).await;
    assert_eq!(ecoles.client.sector, "127.0.0.1");

    // One citizen, four logins: three in the sector, one outside it.
    let mairie = Flow::new(&app).await;
    let outside = id_sub(&app, &mairie.tokens(&app).await);
    let portail = same_citizen(&app, &mairie, portail, "openid profile").await;
    let via_a = id_sub(&app, &tokens_at(&app, &portail, A, &[("scope", "openid")]).await);
    let via_b = id_sub(&app, &tokens_at(&app, &portail, B, &[("scope", "openid")]).await);
    let ecoles = same_citizen(&app, &mairie, ecoles, "openid profile").await;
    let via_ecoles = id_sub(&app, &tokens_at(&app, &ecoles, C, &[("scope", "openid")]).await);
    assert_eq!(via_a, via_b, "one client, two hosts, one sub");
    assert_eq!(via_a, via_ecoles, "two clients in one sector → same sub");
    assert_ne!(via_a, outside, "another sector → another sub");
    assert_eq!(server.hits("/portail.json"), 1, "logins never fetch the document");
}

#[tokio::test]
async fn every_refusal_names_the_document_and_the_reason() {
    let app = TestApp::spawn().await;
    let server = DocumentServer::start().await;
    let token = iat(&app).await;
    server.publish("/missing-b.json", 200, json!([A, "https://a.example.fr/other"]));
    server.publish("/html.json", 200, "<html>page privée de la mairie</html>");
    server.publish("/object.json", 200, json!({"redirect_uris": [A, B]}));
    server.publish("/numbers.json", 200, json!([A, B, 3]));
    server.publish("/moved.json", 302, "");
    server.publish("/huge.json", 200, json!(vec![A; 3_000]));
    server.publish("/broken.json", 500, "stack trace with secrets");
    let key = SigningKey::from_pkcs8(Alg::ES256, &generate_pkcs8(Alg::ES256).unwrap()).unwrap();
    let mut private = key.public_jwk();
    private["d"] = json!("c2VjcmV0LXNjYWxhcg");
    server.publish("/private-jwks.json", 200, json!({"keys": [private]}));
    server.publish("/empty-jwks.json", 200, json!({"keys": []}));
    server.publish("/jwks.json", 200, json!({"keys": [key.public_jwk()]}));

    let unreachable = closed_port_url("/sector.json");
    let sector = |path: &str| registration(&[A, B], &server.url(path));
    let private_key_jwt = |extra: Value| {
        let mut body = json!({
            "client_name": "Service JWT",
            "redirect_uris": [A],
            "token_endpoint_auth_method": "private_key_jwt",
        });
        for (name, value) in extra.as_object().unwrap() {
            body[name] = value.clone();
        }
        body
    };
    let cases: Vec<(Value, String)> = vec![
        (
            registration(&[A, B], &unreachable),
            format!("sector_identifier_uri {unreachable:?} is unreachable (connection refused)"),
        ),
        (sector("/absent.json"), format!("sector_identifier_uri {:?} answered HTTP 404", server.url("/absent.json"))),
        (sector("/broken.json"), "answered HTTP 500".into()),
        (sector("/moved.json"), "answered HTTP 302".into()),
        (sector("/html.json"), format!("sector_identifier_uri {:?} is not JSON", server.url("/html.json"))),
        (sector("/object.json"), "is not a JSON array of strings".into()),
        (sector("/numbers.json"), "is not a JSON array of strings".into()),
        (sector("/missing-b.json"), format!("does not list the redirect URI {B:?}")),
        (sector("/huge.json"), "is larger than 64 KiB".into()),
        (
            registration(&[A, B], "http://mairie.example.fr/sector.json"),
            "sector_identifier_uri \"http://mairie.example.fr/sector.json\" must use https".into(),
        ),
        (
            private_key_jwt(json!({"jwks": {"keys": [key.public_jwk()]}, "jwks_uri": server.url("/jwks.json")})),
            "jwks and jwks_uri must not both be present".into(),
        ),
        (
            private_key_jwt(json!({"jwks_uri": server.url("/private-jwks.json")})),
            format!("jwks_uri {:?} must hold public keys only", server.url("/private-jwks.json")),
        ),
        (private_key_jwt(json!({"jwks_uri": server.url("/empty-jwks.json")})), "holds no key".into()),
        (private_key_jwt(json!({"jwks_uri": server.url("/sector-not-jwks.json")})), "answered HTTP 404".into()),
        (private_key_jwt(json!({"jwks_uri": closed_port_url("/jwks.json")})), "connection refused".into()),
        (
            private_key_jwt(json!({"jwks_uri": "http://keys.example.fr/jwks.json"})),
            "jwks_uri \"http://keys.example.fr/jwks.json\" must use https".into(),
        ),
        (
            json!({"client_name": "S", "redirect_uris": [A], "jwks_uri": server.url("/jwks.json")}),
            "jwks_uri is only used with token_endpoint_auth_method private_key_jwt".into(),
        ),
    ];
    for (body, words) in cases {
        let (status, answer) = post_register(&app, Some(&token), &body).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_client_metadata")), "{body}: {answer}");
        let description = answer["error_description"].as_str().unwrap();
        assert!(description.contains(&words), "{description:?} lacks {words:?}");
        for leaked in ["page privée", "stack trace", "c2VjcmV0"] {
            assert!(!description.contains(leaked), "the fetched body is echoed: {description}");
        }
    }
    assert_eq!(client_count(&app).await, 0, "nothing was written");

    // The admin API shares the validation, fetch included.
    let admin = app.admin_token(None).await;
    let mut body = sector("/missing-b.json");
    body["organisation_id"] = json!(app.organisation().await.organisation_id);
    let response = app.client.post(app.url("/admin/api/clients")).bearer_auth(&admin).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert!(answer["error_description"].as_str().unwrap().contains("does not list the redirect URI"), "{answer}");
    assert_eq!(client_count(&app).await, 0);
}

#[tokio::test]
async fn updates_recheck_the_document_and_never_move_the_sector() {
    let app = TestApp::spawn().await;
    let server = DocumentServer::start().await;
    server.publish("/sector.json", 200, json!([A, B]));
    let token = iat(&app).await;
    let (status, body) = post_register(&app, Some(&token), &registration(&[A, B], &server.url("/sector.json"))).await;
    assert_eq!(status, 201, "{body}");
    let client_id = body["client_id"].as_str().unwrap().to_owned();
    let uri = body["registration_client_uri"].as_str().unwrap().to_owned();
    let rat = body["registration_access_token"].as_str().unwrap().to_owned();
    let put = |redirect_uris: &[&str], sector: Option<&str>, name: &str| {
        let mut body = json!({"client_id": client_id, "client_name": name, "redirect_uris": redirect_uris, "scope": "openid profile"});
        if let Some(sector) = sector {
            body["sector_identifier_uri"] = json!(sector);
        }
        body
    };
    let sector_url = server.url("/sector.json");

    // A new redirect URI the document does not list yet: refused, then accepted once listed.
    let (status, answer) =
        manage(&app, reqwest::Method::PUT, &uri, &rat, Some(&put(&[A, B, C], Some(&sector_url), "P"))).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error_description"].as_str().unwrap().contains(&format!("does not list the redirect URI {C:?}")));
    server.publish("/sector.json", 200, json!([A, B, C]));
    let (status, answer) =
        manage(&app, reqwest::Method::PUT, &uri, &rat, Some(&put(&[A, B, C], Some(&sector_url), "P"))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["redirect_uris"], json!([A, B, C]));
    assert_eq!(server.hits("/sector.json"), 3);

    // A change that touches neither the document nor the redirect URIs does not fetch it.
    server.publish("/sector.json", 503, "");
    let (status, answer) =
        manage(&app, reqwest::Method::PUT, &uri, &rat, Some(&put(&[A, B, C], Some(&sector_url), "Renamed"))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(server.hits("/sector.json"), 3);

    // Moving to another sector would change every citizen's sub: refused, whatever the path.
    let localhost = sector_url.replace("127.0.0.1", "localhost");
    let (status, answer) =
        manage(&app, reqwest::Method::PUT, &uri, &rat, Some(&put(&[A], Some(&localhost), "P"))).await;
    assert_eq!(status, 400, "{answer}");
    let description = answer["error_description"].as_str().unwrap();
    assert!(description.contains("from sector \"127.0.0.1\" to \"localhost\""), "{description}");
    let (status, answer) = manage(&app, reqwest::Method::PUT, &uri, &rat, Some(&put(&[A], None, "P"))).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error_description"].as_str().unwrap().contains("to \"a.example.fr\""), "{answer}");
    let refused = clients::modify(
        &app.state.db,
        &app.state.fetcher,
        &client_id,
        &clients::Actor::cli(),
        app.clock.now(),
        |new| {
            new.extra.sector_identifier_uri = None;
            new.redirect_uris = vec![A.into()];
        },
    )
    .await;
    assert!(
        matches!(refused, Err(clients::ClientError::InvalidMetadata(ref why)) if why.contains("sector")),
        "{refused:?}"
    );
    let stored = clients::find(&app.state.db, &client_id).await.unwrap().unwrap();
    assert_eq!((stored.sector.as_str(), stored.client_name.as_str()), ("127.0.0.1", "Renamed"), "nothing half-written");
}

fn assertion(key: &SigningKey, client_id: &str, app: &TestApp, jti: &str) -> String {
    crate::oidc_client_auth::assertion(key, client_id, &app.issuer, jti, app.clock.now() + 60)
}

/// Redeems a fresh code with `assertion`; status and body.
async fn token_with(app: &TestApp, flow: &Flow, assertion: &str) -> (u16, Value) {
    let code = flow.code(app).await;
    crate::oidc_client_auth::redeem_with_assertion(app, flow, &code, assertion).await
}

#[tokio::test]
async fn private_key_jwt_with_keys_at_a_jwks_uri_survives_rotation_without_refetch_storms() {
    let app = TestApp::spawn().await;
    let server = DocumentServer::start().await;
    let new_key = || SigningKey::from_pkcs8(Alg::ES256, &generate_pkcs8(Alg::ES256).unwrap()).unwrap();
    let (first, second, stranger) = (new_key(), new_key(), new_key());
    server.publish("/jwks.json", 200, json!({"keys": [first.public_jwk()]}));
    let token = iat(&app).await;
    let (status, body) = post_register(
        &app,
        Some(&token),
        &json!({
            "client_name": "Service JWT",
            "redirect_uris": [REDIRECT],
            "scope": "openid profile email offline_access",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": server.url("/jwks.json"),
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["jwks_uri"], server.url("/jwks.json"));
    assert!(body.get("jwks").is_none() && body.get("client_secret").is_none(), "{body}");
    assert_eq!(server.hits("/jwks.json"), 1, "checked at registration");
    let flow = Flow::for_client(&app, registered(&app, &body).await).await;
    let id = flow.client_id().to_owned();

    // End to end at /token; the set is then served from the cache.
    let (status, tokens) = token_with(&app, &flow, &assertion(&first, &id, &app, "j1")).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["id_token"].is_string());
    assert_eq!(server.hits("/jwks.json"), 2);
    assert_eq!(token_with(&app, &flow, &assertion(&first, &id, &app, "j2")).await.0, 200);
    assert_eq!(server.hits("/jwks.json"), 2, "cached");

    // The client rotates its key: the unknown kid makes the provider read the set again.
    server.publish("/jwks.json", 200, json!({"keys": [second.public_jwk()]}));
    let (status, tokens) = token_with(&app, &flow, &assertion(&second, &id, &app, "j3")).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(server.hits("/jwks.json"), 3);
    assert_eq!(token_with(&app, &flow, &assertion(&first, &id, &app, "j4")).await.0, 401, "the old key is gone");

    // Unknown kids do not make the provider hammer the client's server.
    for jti in ["j5", "j6", "j7"] {
        let (status, answer) = token_with(&app, &flow, &assertion(&stranger, &id, &app, jti)).await;
        assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_client")), "{answer}");
    }
    assert_eq!(server.hits("/jwks.json"), 3, "at most one refetch a minute");
    app.clock.advance(61);
    assert_eq!(token_with(&app, &flow, &assertion(&stranger, &id, &app, "j8")).await.0, 401);
    assert_eq!(token_with(&app, &flow, &assertion(&stranger, &id, &app, "j9")).await.0, 401);
    assert_eq!(server.hits("/jwks.json"), 4, "one more after the interval, not two");

    // The cached set expires after five minutes and is read again.
    app.clock.advance(300);
    assert_eq!(token_with(&app, &flow, &assertion(&second, &id, &app, "j10")).await.0, 200);
    assert_eq!(server.hits("/jwks.json"), 5);

    // The client's server failing is the client's authentication failing, with the reason.
    server.publish("/jwks.json", 500, "internal details");
    app.clock.advance(301);
    let (status, answer) = token_with(&app, &flow, &assertion(&second, &id, &app, "j11")).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_client")), "{answer}");
    let description = answer["error_description"].as_str().unwrap();
    assert!(description.contains("jwks_uri") && description.contains("answered HTTP 500"), "{description}");
    assert!(!description.contains("internal details"));
    // A server that is down is asked again after ten seconds, not at every attempt.
    let failed_fetches = server.hits("/jwks.json");
    let (status, answer) = token_with(&app, &flow, &assertion(&second, &id, &app, "j12")).await;
    assert_eq!(status, 401);
    assert!(answer["error_description"].as_str().unwrap().contains("answered HTTP 500"), "{answer}");
    assert_eq!(server.hits("/jwks.json"), failed_fetches, "the failure is remembered");
    server.publish("/jwks.json", 200, json!({"keys": [second.public_jwk()]}));
    app.clock.advance(11);
    assert_eq!(token_with(&app, &flow, &assertion(&second, &id, &app, "j13")).await.0, 200);
    assert_eq!(server.hits("/jwks.json"), failed_fetches + 1);
}

#[tokio::test]
async fn the_cli_fetches_and_checks_the_same_documents() {
    let server = DocumentServer::start().await;
    server.publish("/sector.json", 200, json!([A]));
    let key = SigningKey::from_pkcs8(Alg::ES256, &generate_pkcs8(Alg::ES256).unwrap()).unwrap();
    server.publish("/jwks.json", 200, json!({"keys": [key.public_jwk()]}));
    let env = environment().await;
    assert!(run(&env.env, &["migrate"]).await.0);
    let org = ["org", "create", "--name", "Ville", "--kind", "commune", "--code", "213105554"];
    assert!(run(&env.env, &org).await.0);
    let sector = server.url("/sector.json");
    let create = |redirects: &[&'static str]| {
        let mut args = vec!["client", "create", "--org", "213105554", "--name", "Portail", "--json"];
        for redirect in redirects {
            args.extend(["--redirect-uri", redirect]);
        }
        args.extend(["--sector-identifier-uri", sector.as_str()]);
        args
    };
    let (ok, _, stderr) = run(&env.env, &create(&[A, B])).await;
    assert!(!ok && stderr.contains(&format!("does not list the redirect URI {B:?}")), "{stderr}");
    server.publish("/sector.json", 200, json!([A, B]));
    let (ok, stdout, stderr) = run(&env.env, &create(&[A, B])).await;
    assert!(ok, "{stderr}");
    let client_id = json_of(&stdout)["client_id"].as_str().unwrap().to_owned();
    let (ok, _, stderr) =
        run(&env.env, &["client", "update", &client_id, "--redirect-uri", A, "--redirect-uri", C]).await;
    assert!(!ok && stderr.contains(&format!("does not list the redirect URI {C:?}")), "{stderr}");

    let jwks_uri = server.url("/jwks.json");
    let (ok, stdout, stderr) = run(
        &env.env,
        &[
            "client",
            "create",
            "--org",
            "213105554",
            "--name",
            "JWT",
            "--redirect-uri",
            A,
            "--auth-method",
            "private_key_jwt",
        ]
        .into_iter()
        .chain(["--jwks-uri", jwks_uri.as_str(), "--json"])
        .collect::<Vec<_>>(),
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(json_of(&stdout)["jwks_uri"], jwks_uri.as_str());
    assert_eq!(server.hits("/jwks.json"), 1);
}
