//! Client metadata validation, one set of rules for the CLI, the admin API
//! and dynamic registration (RFC 7591 §2 and §3.2.2, OIDC Registration §2,
//! RFC 6749 §3.1.2 for redirect URIs).

use super::documents::check_jwks;
use super::metadata;
use super::{
    AuthMethod, ClientError, DEFAULT_SECRET_OVERLAP, GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS,
    GRANT_REFRESH_TOKEN, GRANT_TYPES, MAX_SECRET_OVERLAP, NewClient, Origin, is_loopback,
};
use crate::clock::UnixTime;
use crate::keys::Alg;
use crate::scope::Scope;
use crate::store::ClientRecord;

/// Scopes a client may be registered for: every scope the provider offers.
pub const KNOWN_SCOPES: &[&str] = crate::oidc::SCOPES;

/// A redirect URI we accept: absolute, https (http only on loopback), no
/// fragment, no wildcard, no credentials (RFC 6749 §3.1.2, OAuth BCP §2.1).
pub fn check_redirect_uri(uri: &str) -> Result<url::Url, ClientError> {
    uri_problem(uri).map_err(|why| ClientError::InvalidRedirectUri(format!("redirect_uris: {why}")))
}

fn uri_problem(uri: &str) -> Result<url::Url, String> {
    let bad = |why: &str| format!("{uri:?} {why}");
    if uri.len() > metadata::MAX_URL {
        return Err(bad("is longer than 2000 characters"));
    }
    let url = url::Url::parse(uri).map_err(|_| bad("is not an absolute URL"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(bad("must not contain a fragment (#…)"));
    }
    if uri.contains('*') {
        return Err(bad("must not contain a wildcard"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    let host = url.host_str().ok_or_else(|| bad("has no host"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(host) => Ok(url),
        "http" => Err(bad("must use https (http is allowed only for 127.0.0.1, [::1] and localhost)")),
        _ => Err(bad("must use https")),
    }
}

/// Metadata after validation, ready for a row.
pub(super) struct Valid {
    name: String,
    pub(super) auth_method: AuthMethod,
    grant_types: Vec<String>,
    response_types: Vec<String>,
    scope: Scope,
    alg: Alg,
    userinfo_alg: Option<Alg>,
    pub(super) sector: String,
    secret_overlap: i64,
}

pub(super) fn validate(new: &NewClient) -> Result<Valid, ClientError> {
    let meta = ClientError::InvalidMetadata;
    let name = new.client_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(meta("client_name must be 1 to 200 characters".into()));
    }
    let grant_types = if new.grant_types.is_empty() {
        match new.origin {
            Origin::Administrator => vec![GRANT_AUTHORIZATION_CODE.to_owned(), GRANT_REFRESH_TOKEN.to_owned()],
            // RFC 7591 §2: authorization_code when none is named.
            Origin::Registration => vec![GRANT_AUTHORIZATION_CODE.to_owned()],
        }
    } else {
        new.grant_types.clone()
    };
    for grant in &grant_types {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            return Err(meta(format!(
                "grant_types: {grant:?} is not supported (authorization_code, refresh_token, client_credentials)"
            )));
        }
    }
    let code_flow = grant_types.iter().any(|g| g == GRANT_AUTHORIZATION_CODE);
    let response_types = match &new.response_types {
        Some(list) => list.clone(),
        None if code_flow => vec!["code".to_owned()],
        None => Vec::new(),
    };
    if let Some(other) = response_types.iter().find(|r| *r != "code") {
        return Err(meta(format!("response_types: {other:?} is not supported (code flow only)")));
    }
    // RFC 7591 §2.1: response types and grant types must agree.
    if code_flow == response_types.is_empty() {
        return Err(meta(
            "grant_types and response_types disagree: authorization_code goes with response_types [\"code\"]".into(),
        ));
    }
    if grant_types.iter().any(|g| g == GRANT_REFRESH_TOKEN) && !code_flow {
        return Err(meta("grant_types: refresh_token needs authorization_code".into()));
    }
    for (name, list) in [
        ("redirect_uris", &new.redirect_uris),
        ("post_logout_redirect_uris", &new.post_logout_redirect_uris),
        ("grant_types", &new.grant_types),
    ] {
        if list.len() > metadata::MAX_LIST {
            return Err(meta(format!("{name}: at most {} entries", metadata::MAX_LIST)));
        }
    }
    if code_flow && new.redirect_uris.is_empty() {
        return Err(ClientError::InvalidRedirectUri(
            "redirect_uris: at least one is required for the authorization_code grant".into(),
        ));
    }
    let mut hosts = Vec::new();
    for uri in &new.redirect_uris {
        let url = check_redirect_uri(uri)?;
        hosts.push(url.host_str().unwrap_or_default().to_owned());
    }
    for uri in &new.post_logout_redirect_uris {
        uri_problem(uri).map_err(|why| meta(format!("post_logout_redirect_uris: {why}")))?;
    }
    metadata::check_extra(&new.extra)?;
    hosts.sort();
    hosts.dedup();
    // OIDC Core §8.1: the sector is the host of the sector_identifier_uri
    // when there is one (its document, fetched apart, lists every redirect
    // URI), else the one host of the redirect URIs.
    let sector = match &new.extra.sector_identifier_uri {
        Some(uri) => metadata::check_url("sector_identifier_uri", uri)?.host_str().unwrap_or_default().to_owned(),
        None if hosts.len() > 1 => {
            return Err(ClientError::InvalidRedirectUri(format!(
                "redirect_uris on several hosts ({}) need a sector_identifier_uri: the URL of a JSON array listing every redirect URI",
                hosts.join(", ")
            )));
        }
        None => hosts.pop().unwrap_or_default(),
    };
    let auth_method = match new.token_endpoint_auth_method.as_deref() {
        None => AuthMethod::ClientSecretBasic,
        Some(m) => AuthMethod::parse(m).ok_or_else(|| {
            meta(format!("token_endpoint_auth_method {m:?} is not one of client_secret_basic, client_secret_post, private_key_jwt, none"))
        })?,
    };
    if let Some(uri) = &new.jwks_uri {
        metadata::check_url("jwks_uri", uri)?;
    }
    match (auth_method == AuthMethod::PrivateKeyJwt, &new.jwks, &new.jwks_uri) {
        (_, Some(_), Some(_)) => {
            return Err(meta("jwks and jwks_uri must not both be present (RFC 7591 §2): send one of them".into()));
        }
        (true, None, None) => {
            return Err(meta(
                "private_key_jwt needs jwks (the public keys inline) or jwks_uri (where you publish them)".into(),
            ));
        }
        // What jwks_uri serves is fetched and checked apart (documents.rs).
        (true, Some(set), None) => check_jwks(set).map_err(|why| meta(format!("jwks {why}")))?,
        (true, None, Some(_)) => {}
        (false, Some(_), _) => {
            return Err(meta("jwks is only used with token_endpoint_auth_method private_key_jwt".into()));
        }
        (false, None, Some(_)) => {
            return Err(meta("jwks_uri is only used with token_endpoint_auth_method private_key_jwt".into()));
        }
        (false, None, None) => {}
    }
    if let Some(reason) = &new.pkce_exempt_reason {
        // RFC 9700 §2.1.1: nonce stands in for PKCE only where the code is
        // redeemed with the client's own credentials.
        if auth_method == AuthMethod::None {
            return Err(meta("a public client (token_endpoint_auth_method none) is never exempt from PKCE".into()));
        }
        if reason.trim().is_empty() || reason.chars().count() > 500 {
            return Err(meta("a PKCE exemption needs a reason of 1 to 500 characters".into()));
        }
    }
    if grant_types.iter().any(|g| g == GRANT_CLIENT_CREDENTIALS) && auth_method == AuthMethod::None {
        return Err(meta(
            "grant_types: client_credentials needs a confidential client (token_endpoint_auth_method other than none)"
                .into(),
        ));
    }
    let scope_text = new.scope.as_deref().unwrap_or("openid");
    if scope_text.len() > 1_000 {
        return Err(meta("scope is longer than 1000 characters".into()));
    }
    let scope: Scope = scope_text.split_whitespace().collect();
    if let Some(unknown) = scope.iter().find(|s| !KNOWN_SCOPES.contains(s)) {
        return Err(meta(format!("scope {unknown:?} is not offered (one of {})", KNOWN_SCOPES.join(", "))));
    }
    if scope.contains("citizen_identifier") && !new.public_subject {
        return Err(meta("scope citizen_identifier is granted by an administrator only".into()));
    }
    match new.subject_type.as_deref() {
        None | Some("pairwise") => {}
        Some("public") if new.public_subject => {}
        Some("public") => {
            return Err(meta(
                "subject_type public (the citizen identifier) is granted by an administrator only".into(),
            ));
        }
        Some(other) => return Err(meta(format!("subject_type {other:?} is not one of pairwise, public"))),
    }
    let parse_alg = |field: &str, a: &str| {
        Alg::parse(a).ok_or_else(|| meta(format!("{field} {a:?} is not one of ES256, PS256, RS256, EdDSA")))
    };
    let alg = match new.id_token_signed_response_alg.as_deref() {
        None => match new.origin {
            Origin::Administrator => Alg::ES256,
            Origin::Registration => Alg::RS256,
        },
        Some(a) => parse_alg("id_token_signed_response_alg", a)?,
    };
    let userinfo_alg = match new.userinfo_signed_response_alg.as_deref() {
        None => None,
        Some(a) => Some(parse_alg("userinfo_signed_response_alg", a)?),
    };
    let secret_overlap = new.secret_overlap.unwrap_or(DEFAULT_SECRET_OVERLAP);
    if !(0..=MAX_SECRET_OVERLAP).contains(&secret_overlap) {
        return Err(meta("secret_overlap must be between 0 and 30 days".into()));
    }
    Ok(Valid {
        name: name.to_owned(),
        auth_method,
        grant_types,
        response_types,
        scope,
        alg,
        userinfo_alg,
        sector,
        secret_overlap,
    })
}

/// The row for validated metadata; credentials and identity left to the caller.
pub(super) fn record_of(
    new: &NewClient,
    valid: Valid,
    organisation_id: String,
    client_id: String,
    now: UnixTime,
) -> ClientRecord {
    let mut metadata = serde_json::to_value(&new.extra).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(map) = metadata.as_object_mut() {
        map.insert("response_types".into(), serde_json::json!(valid.response_types));
    }
    ClientRecord {
        client_id,
        client_secret_hash: None,
        client_name: valid.name,
        redirect_uris: serde_json::to_string(&new.redirect_uris).unwrap_or_default(),
        post_logout_redirect_uris: serde_json::to_string(&new.post_logout_redirect_uris).unwrap_or_default(),
        grant_types: serde_json::to_string(&valid.grant_types).unwrap_or_default(),
        token_endpoint_auth_method: valid.auth_method.as_str().to_owned(),
        scope: valid.scope.to_string(),
        id_token_signed_response_alg: valid.alg.as_str().to_owned(),
        userinfo_signed_response_alg: valid.userinfo_alg.map(|a| a.as_str().to_owned()),
        subject_type: if new.public_subject { "public" } else { "pairwise" }.to_owned(),
        sector: valid.sector,
        jwks: new.jwks.as_ref().map(ToString::to_string),
        jwks_uri: new.jwks_uri.clone(),
        created_at: now,
        updated_at: now,
        organisation_id: Some(organisation_id),
        metadata: metadata.to_string(),
        registration_token_hash: None,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        secret_overlap: valid.secret_overlap,
        skip_consent: new.skip_consent,
        pkce_exempt_reason: new.pkce_exempt_reason.as_ref().map(|r| r.trim().to_owned()),
        registered_by: new.origin.as_str().to_owned(),
        version: 1,
    }
}

/// Property tests (README "Test it": the long run).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::check_redirect_uri;
    use crate::clients::metadata::check_url;

    /// URLs near the edge of the rules: loopback or not, http or https,
    /// ports, paths with wildcards, queries and fragments.
    const NEAR_VALID: &str = "(https|http|ftp)://(localhost|127\\.0\\.0\\.1|\\[::1\\]|10\\.0\\.0\\.1|[a-z]{1,8}\\.fr)\
                              (:[0-9]{1,4})?(/[a-zA-Z0-9._~%*@:-]{0,12}){0,3}(\\?[a-z=&*]{0,10})?(#[a-z]{0,5})?";

    proptest! {
        #![proptest_config(crate::properties::config())]

        #[test]
        fn any_text_is_accepted_only_as_a_safe_absolute_url(uri in any::<String>()) {
            if let Ok(url) = check_redirect_uri(&uri) {
                let loopback = crate::clients::is_loopback(url.host_str().unwrap_or_default());
                prop_assert!(url.scheme() == "https" || (url.scheme() == "http" && loopback), "{uri}");
                prop_assert!(!uri.contains('#') && !uri.contains('*') && url.username().is_empty());
                prop_assert!(check_url("logo_uri", &uri).is_ok(), "the redirect rule is the stricter");
            }
        }

        #[test]
        fn the_rules_decide_exactly_and_an_accepted_uri_is_accepted_again(uri in NEAR_VALID) {
            let scheme_ok = uri.starts_with("https://")
                || ["http://localhost", "http://127.0.0.1", "http://[::1]"].iter().any(|p| uri.starts_with(p));
            let expected = scheme_ok && !uri.contains('#') && !uri.contains('*');
            let checked = check_redirect_uri(&uri);
            prop_assert_eq!(checked.is_ok(), expected, "{}: {:?}", uri, checked);
            if let Ok(url) = checked {
                prop_assert_eq!(check_redirect_uri(url.as_str()).map(|u| u.to_string()), Ok(url.to_string()));
            }
        }
    }
}
