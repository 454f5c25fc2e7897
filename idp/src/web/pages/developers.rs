//! The `/developers` page: how a territorial service registers itself (RFC 7591 with
//! an initial access token) and logs citizens in, in French then English.
//! Static text around the configured issuer, every piece HTML-escaped; no
//! script and no inline style, so the strict CSP holds.

use crate::oidc::paths;
use crate::web::assets;
use crate::web::html::esc as escape;

fn curl(issuer: &str) -> String {
    format!(
        r##"curl -sS -X POST {issuer}{register} \
  -H "Authorization: Bearer $INITIAL_ACCESS_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{{
    "client_name": "Portail famille",
    "client_name#en": "Family portal",
    "redirect_uris": ["https://portail.mairie.example.fr/callback"],
    "post_logout_redirect_uris": ["https://portail.mairie.example.fr/"],
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "openid profile email offline_access",
    "contacts": ["dev@mairie.example.fr"]
  }}'"##,
        register = paths::REGISTER
    )
}

fn manage(issuer: &str) -> String {
    format!(
        r#"# read, replace (the whole metadata, with your client_id), delete
curl -sS {issuer}/register/$CLIENT_ID -H "Authorization: Bearer $REGISTRATION_ACCESS_TOKEN"
curl -sS -X PUT {issuer}/register/$CLIENT_ID -H "Authorization: Bearer $REGISTRATION_ACCESS_TOKEN" \
  -H "Content-Type: application/json" -d '{{"client_id": "'$CLIENT_ID'", "client_name": "…", "redirect_uris": ["…"]}}'
curl -sS -X DELETE {issuer}/register/$CLIENT_ID -H "Authorization: Bearer $REGISTRATION_ACCESS_TOKEN""#
    )
}

fn rust_example(issuer: &str) -> String {
    format!(
        r#"// Cargo.toml: openidconnect = "4", tokio = {{ version = "1", features = ["full"] }}
use openidconnect::core::{{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata}};
use openidconnect::{{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
}};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {{
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()?;
    let issuer = IssuerUrl::new("{issuer}".to_string())?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &http).await?;
    // client_id and client_secret come from the registration response.
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(std::env::var("CLIENT_ID")?),
        Some(ClientSecret::new(std::env::var("CLIENT_SECRET")?)),
    )
    .set_redirect_uri(RedirectUrl::new("https://portail.mairie.example.fr/callback".to_string())?);

    // 1. Send the citizen to Sésame: PKCE (S256) is required; send state and nonce too.
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".to_string()))
        .set_pkce_challenge(pkce_challenge)
        .url();
    println!("open {{url}}");

    // 2. On /callback?code=…&state=…&iss=…: check state, then redeem the code.
    let (code, returned_state) = read_callback(); // your web framework's job
    assert_eq!(returned_state, *state.secret());
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await?;
    let id_token = tokens.id_token().ok_or("no ID token")?;
    let claims = id_token.claims(&client.id_token_verifier(), &nonce)?;
    println!("signed in: sub = {{}}", claims.subject().as_str());
    Ok(())
}}

fn read_callback() -> (String, String) {{
    unimplemented!("read code and state from the redirect")
}}"#
    )
}

struct Text {
    lang: &'static str,
    title: &'static str,
    intro: &'static str,
    need: &'static str,
    discovery: &'static str,
    register: &'static str,
    register_after: &'static str,
    manage: &'static str,
    features_title: &'static str,
    features: &'static [&'static str],
    example: &'static str,
    example_after: &'static str,
    errors_title: &'static str,
    errors: &'static [(&'static str, &'static str)],
}

const FR: Text = Text {
    lang: "fr",
    title: "Français",
    intro: "Sésame est le fournisseur d'identité des citoyens (OpenID Connect, connexion par clé d'accès). Votre service s'y enregistre lui-même, puis connecte les citoyens par le flux « authorization code ».",
    need: "Il vous faut un jeton d'accès initial (initial access token) que l'administrateur de votre collectivité émet pour elle (idp iat issue --org …). L'enregistrement n'est jamais ouvert à tous : votre service appartiendra à cette collectivité.",
    discovery: "Document de découverte :",
    register: "Enregistrer votre service (RFC 7591) :",
    register_after: "La réponse (201) contient client_id, client_secret (montré une seule fois, conservé haché), registration_access_token et registration_client_uri. Conservez-les dans votre coffre à secrets. Les ID tokens sont signés en RS256 sauf si vous demandez id_token_signed_response_alg (ES256 recommandé).",
    manage: "Lire, modifier ou supprimer votre enregistrement (RFC 7592) avec le registration_access_token :",
    features_title: "Ce que Sésame propose",
    features: &[
        "Flux authorization code uniquement, PKCE S256 obligatoire (sauf exemption d'un client confidentiel par un administrateur : nonce alors obligatoire), state et nonce recommandés, iss dans la réponse (RFC 9207) ; redirect_uri comparée exactement, sauf le port de http://127.0.0.1 et http://[::1] (RFC 8252, applications natives) ; prompt none, login, consent, select_account",
        "Correspondance exacte des redirect_uri ; https obligatoire, sauf 127.0.0.1, [::1] et localhost en développement",
        "Authentification au jeton : client_secret_basic, client_secret_post, private_key_jwt (aud : l'identifiant d'émetteur seul, en une chaîne, jamais l'URL du jeton ; typ client-authentication+jwt ou JWT ; clés publiques dans jwks, ou publiées à une jwks_uri que Sésame relit toutes les 5 minutes et dès qu'apparaît un kid inconnu, au plus une fois par minute), none (clients publics)",
        "ID tokens ES256, PS256, RS256 ou EdDSA ; access tokens JWT (RFC 9068) ; introspection (RFC 7662) ; révocation (RFC 7009)",
        "Refresh tokens avec rotation (scope offline_access) ; sujets « pairwise » par défaut",
        "Secteur : l'hôte de vos redirect_uri ; pour des redirect_uri sur plusieurs hôtes, ou pour partager le même sub entre plusieurs services, publiez en https un sector_identifier_uri, tableau JSON listant toutes vos redirect_uri (son hôte devient le secteur). Sésame le lit à l'enregistrement et à chaque modification des redirect_uri ; le secteur d'un service ne change plus ensuite (les sub de ses usagers en dépendent).",
        "Niveaux eIDAS : acr eidas1, eidas2, eidas3 ; prompt, max_age, claims, id_token_hint",
    ],
    example: "Exemple avec la bibliothèque Rust openidconnect :",
    example_after: "Si vous avez choisi ES256, autorisez-le au vérificateur : client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]).",
    errors_title: "Erreurs fréquentes",
    errors: &[
        (
            "401 invalid_token « the token has expired » / « was revoked » / « already used »",
            "Demandez un nouveau jeton d'accès initial à l'administrateur de votre collectivité.",
        ),
        (
            "invalid_redirect_uri « must use https »",
            "Utilisez https, ou http://127.0.0.1, http://[::1], http://localhost en développement.",
        ),
        (
            "invalid_redirect_uri « fragment » / « wildcard » / « several hosts »",
            "Déclarez chaque URI exacte, sans # ni * ; sur plusieurs hôtes, ajoutez un sector_identifier_uri qui les liste toutes.",
        ),
        (
            "invalid_client_metadata « private_key_jwt needs jwks (…) or jwks_uri »",
            "Joignez vos clés publiques dans jwks, ou donnez la jwks_uri où vous les publiez (pas les deux).",
        ),
        (
            "invalid_client_metadata « sector_identifier_uri … is unreachable / answered HTTP 404 / is not JSON »",
            "L'URL doit répondre 200 avec un tableau JSON de chaînes, sans redirection, en moins de 5 secondes et 64 Kio. Idem pour jwks_uri (un JWK Set de clés publiques).",
        ),
        (
            "invalid_client_metadata « does not list the redirect URI »",
            "Ajoutez cette redirect_uri, à l'identique, au document sector_identifier_uri, puis recommencez.",
        ),
        (
            "invalid_client_metadata « would move the client from sector »",
            "Le sub de chaque citoyen changerait : gardez vos redirect_uri sur l'hôte d'origine, ou publiez sur cet hôte un sector_identifier_uri listant les nouvelles, ou enregistrez un nouveau service.",
        ),
        (
            "invalid_client_metadata « granted by an administrator only »",
            "subject_type public, le scope citizen_identifier et l'absence de consentement sont accordés par un administrateur.",
        ),
        ("400 invalid_request « must be JSON »", "Envoyez Content-Type: application/json."),
        ("413", "Le corps dépasse 64 Kio."),
        (
            "/token : invalid_client",
            "Mauvais secret ou mauvaise méthode : utilisez la token_endpoint_auth_method enregistrée. Après une rotation, l'ancien secret reste valable pendant le recouvrement. « the client's jwks_uri … » : Sésame n'a pas pu relire vos clés publiées.",
        ),
        ("/authorize : « code_challenge is required »", "PKCE est obligatoire : set_pkce_challenge(…) avec S256."),
        (
            "Signature de l'ID token refusée par la bibliothèque",
            "Alignez id_token_signed_response_alg et les algorithmes acceptés par votre vérificateur.",
        ),
    ],
};

const EN: Text = Text {
    lang: "en",
    title: "English",
    intro: "Sésame is the citizens' identity provider (OpenID Connect, passkey sign-in). Your service registers itself, then logs citizens in with the authorization code flow.",
    need: "You need an initial access token that your authority's administrator issues for it (idp iat issue --org …). Registration is never open to all: your service will belong to that authority.",
    discovery: "Discovery document:",
    register: "Register your service (RFC 7591):",
    register_after: "The response (201) holds client_id, client_secret (shown once, stored hashed), registration_access_token and registration_client_uri. Keep them in your secret store. ID tokens are signed with RS256 unless you ask for id_token_signed_response_alg (ES256 recommended).",
    manage: "Read, replace or delete your registration (RFC 7592) with the registration_access_token:",
    features_title: "What Sésame offers",
    features: &[
        "Authorization code flow only, PKCE S256 required (unless an administrator exempted a confidential client: nonce is then required), state and nonce recommended, iss in the response (RFC 9207); redirect_uri matched exactly, except the port of http://127.0.0.1 and http://[::1] (RFC 8252, native apps); prompt none, login, consent, select_account",
        "Exact redirect_uri matching; https required, except 127.0.0.1, [::1] and localhost for development",
        "Token endpoint authentication: client_secret_basic, client_secret_post, private_key_jwt (aud: the issuer identifier alone, as one string, never the token endpoint URL; typ client-authentication+jwt or JWT; public keys inline in jwks, or published at a jwks_uri that Sésame reads again every 5 minutes and when an unknown kid shows up, at most once a minute), none (public clients)",
        "ID tokens in ES256, PS256, RS256 or EdDSA; JWT access tokens (RFC 9068); introspection (RFC 7662); revocation (RFC 7009)",
        "Rotating refresh tokens (scope offline_access); pairwise subjects by default",
        "Sector: the host of your redirect_uris; for redirect_uris on several hosts, or to share one sub across several services, publish over https a sector_identifier_uri, a JSON array listing all your redirect_uris (its host becomes the sector). Sésame reads it at registration and whenever the redirect_uris change; a service's sector never changes afterwards (its users' subs depend on it).",
        "eIDAS levels: acr eidas1, eidas2, eidas3; prompt, max_age, claims, id_token_hint",
    ],
    example: "Example with the Rust openidconnect crate:",
    example_after: "If you chose ES256, allow it in the verifier: client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]).",
    errors_title: "Common errors",
    errors: &[
        (
            "401 invalid_token \"the token has expired\" / \"was revoked\" / \"already used\"",
            "Ask your authority's administrator for a new initial access token.",
        ),
        (
            "invalid_redirect_uri \"must use https\"",
            "Use https, or http://127.0.0.1, http://[::1], http://localhost for development.",
        ),
        (
            "invalid_redirect_uri \"fragment\" / \"wildcard\" / \"several hosts\"",
            "Register each exact URI, without # or *; on several hosts, add a sector_identifier_uri listing them all.",
        ),
        (
            "invalid_client_metadata \"private_key_jwt needs jwks (…) or jwks_uri\"",
            "Send your public keys inline in jwks, or the jwks_uri where you publish them (not both).",
        ),
        (
            "invalid_client_metadata \"sector_identifier_uri … is unreachable / answered HTTP 404 / is not JSON\"",
            "The URL must answer 200 with a JSON array of strings, without redirect, within 5 seconds and 64 KiB. The same goes for jwks_uri (a JWK Set of public keys).",
        ),
        (
            "invalid_client_metadata \"does not list the redirect URI\"",
            "Add that exact redirect_uri to the sector_identifier_uri document, then try again.",
        ),
        (
            "invalid_client_metadata \"would move the client from sector\"",
            "Every citizen's sub would change: keep your redirect_uris on the original host, or publish there a sector_identifier_uri listing the new ones, or register a new service.",
        ),
        (
            "invalid_client_metadata \"granted by an administrator only\"",
            "subject_type public, the citizen_identifier scope and skipping consent are granted by an administrator.",
        ),
        ("400 invalid_request \"must be JSON\"", "Send Content-Type: application/json."),
        ("413", "The body is larger than 64 KiB."),
        (
            "/token: invalid_client",
            "Wrong secret or method: use the registered token_endpoint_auth_method. After a rotation the old secret stays valid during the overlap. \"the client's jwks_uri …\": Sésame could not read your published keys.",
        ),
        ("/authorize: \"code_challenge is required\"", "PKCE is required: set_pkce_challenge(…) with S256."),
        (
            "ID token signature refused by the library",
            "Match id_token_signed_response_alg with the algorithms your verifier allows.",
        ),
    ],
};

fn section(out: &mut String, t: &Text, issuer: &str) {
    let e = escape;
    let discovery = format!("{issuer}{}", paths::DISCOVERY);
    out.push_str(&format!("<section lang=\"{}\" id=\"{}\">\n<h2>{}</h2>\n", t.lang, t.lang, e(t.title)));
    out.push_str(&format!("<p>{}</p>\n<p>{}</p>\n", e(t.intro), e(t.need)));
    out.push_str(&format!(
        "<p>{} <a href=\"{}\"><code>{}</code></a></p>\n",
        e(t.discovery),
        e(&discovery),
        e(&discovery)
    ));
    out.push_str(&format!("<p>{}</p>\n<pre><code>{}</code></pre>\n", e(t.register), e(&curl(issuer))));
    out.push_str(&format!("<p>{}</p>\n", e(t.register_after)));
    out.push_str(&format!("<p>{}</p>\n<pre><code>{}</code></pre>\n", e(t.manage), e(&manage(issuer))));
    out.push_str(&format!("<h3>{}</h3>\n<ul>\n", e(t.features_title)));
    for feature in t.features {
        out.push_str(&format!("<li>{}</li>\n", e(feature)));
    }
    out.push_str("</ul>\n");
    out.push_str(&format!("<p>{}</p>\n<pre><code>{}</code></pre>\n", e(t.example), e(&rust_example(issuer))));
    out.push_str(&format!("<p>{}</p>\n", e(t.example_after)));
    out.push_str(&format!("<h3>{}</h3>\n<dl>\n", e(t.errors_title)));
    for (error, fix) in t.errors {
        out.push_str(&format!("<dt><code>{}</code></dt>\n<dd>{}</dd>\n", e(error), e(fix)));
    }
    out.push_str("</dl>\n</section>\n");
}

/// The page for this issuer.
pub fn render(issuer: &str) -> String {
    let head = String::from(
        "<!doctype html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Sésame — développeurs / developers</title>\n\
         <link rel=\"stylesheet\" href=\"{stylesheet}\">\n</head>\n<body>\n<main id=\"main\">\n\
         <h1>Sésame — espace développeurs / developers</h1>\n\
         <nav><a href=\"#fr\" hreflang=\"fr\">Français</a> · <a href=\"#en\" hreflang=\"en\">English</a></nav>\n",
    );
    let mut out = head.replace("{stylesheet}", &escape(assets::CSS.path()));
    section(&mut out, &FR, issuer);
    section(&mut out, &EN, issuer);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}
