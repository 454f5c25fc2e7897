//! Client authentication at the token, introspection and revocation
//! endpoints (OIDC Core §9, RFC 6749 §2.3, RFC 7523 §3).

use axum::http::{HeaderMap, header};
use base64::Engine as _;

use super::error::OAuthError;
use super::params::Params;
use crate::app::AppState;
use crate::clients::documents::{self, KeysError};
use crate::clients::{self, AuthMethod, Client};
use crate::keys;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Tolerated clock difference with clients, in seconds.
const SKEW: i64 = 30;
/// The longest-lived client assertion we accept.
const MAX_ASSERTION_LIFETIME: i64 = 600;

/// Identifies and authenticates the client of a back-channel request. Every
/// failure is `invalid_client` (401, with a Basic challenge: `OAuthError`).
pub async fn authenticate(state: &AppState, headers: &HeaderMap, params: &Params) -> Result<Client, OAuthError> {
    let basic = basic_credentials(headers)?;
    let fail = |why: &'static str| OAuthError::invalid_client(why);

    let assertion = params.get("client_assertion");
    let used = [basic.is_some(), params.contains("client_secret"), assertion.is_some()];
    if used.iter().filter(|u| **u).count() > 1 {
        return Err(OAuthError::invalid_request("use exactly one client authentication method"));
    }
    let (client_id, method) = match (&basic, assertion) {
        (Some((id, _)), _) => (id.clone(), AuthMethod::ClientSecretBasic),
        (None, Some(jwt)) => {
            if params.get("client_assertion_type") != Some(JWT_BEARER) {
                return Err(OAuthError::invalid_request(format!("client_assertion_type must be {JWT_BEARER}")));
            }
            (
                assertion_subject(jwt).ok_or_else(|| fail("client_assertion is not a readable JWT"))?,
                AuthMethod::PrivateKeyJwt,
            )
        }
        (None, None) => {
            let id = params.get("client_id").ok_or_else(|| fail("client authentication is required"))?;
            let method = if params.contains("client_secret") { AuthMethod::ClientSecretPost } else { AuthMethod::None };
            (id.to_owned(), method)
        }
    };
    if params.get("client_id").is_some_and(|id| id != client_id) {
        return Err(OAuthError::invalid_request("client_id does not match the authenticated client"));
    }
    let client = clients::find(&state.db, &client_id).await?.ok_or_else(|| fail("unknown client"))?;
    if client.token_endpoint_auth_method != method {
        return Err(OAuthError::invalid_client(format!(
            "this client is registered for token_endpoint_auth_method {}",
            client.token_endpoint_auth_method.as_str()
        )));
    }
    match method {
        AuthMethod::ClientSecretBasic => {
            let secret = basic.map(|(_, s)| s).unwrap_or_default();
            client
                .secret_matches(&secret, state.clock.now())
                .then_some(())
                .ok_or_else(|| fail("wrong client credentials"))?;
        }
        AuthMethod::ClientSecretPost => {
            let secret = params.get("client_secret").unwrap_or_default();
            client
                .secret_matches(secret, state.clock.now())
                .then_some(())
                .ok_or_else(|| fail("wrong client credentials"))?;
        }
        AuthMethod::PrivateKeyJwt => verify_assertion(state, &client, assertion.unwrap_or_default()).await?,
        AuthMethod::None => {}
    }
    Ok(client)
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined by `:`.
pub fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let bad = || OAuthError::invalid_client("malformed Basic authorization header");
    let text = value.to_str().map_err(|_| bad())?;
    let Some(encoded) = text.strip_prefix("Basic ").or_else(|| text.strip_prefix("basic ")) else {
        return Err(bad());
    };
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

fn assertion_subject(jwt: &str) -> Option<String> {
    keys::segment(jwt, 1)?.get("sub")?.as_str().map(str::to_owned)
}

async fn verify_assertion(state: &AppState, client: &Client, jwt: &str) -> Result<(), OAuthError> {
    let fail = |why: &'static str| OAuthError::invalid_client(why);
    let header = keys::segment(jwt, 0).ok_or_else(|| fail("client_assertion is not a JWT"))?;
    if !header.get("typ").is_none_or(|typ| typ.as_str().is_some_and(assertion_type_ok)) {
        return Err(fail("client_assertion typ must be client-authentication+jwt or JWT"));
    }
    let kid = header.get("kid").and_then(|k| k.as_str());
    let claims = match (&client.jwks, &client.jwks_uri) {
        (Some(set), _) => verify_with(set, jwt, kid),
        (None, Some(uri)) => published_verify(state, client, uri, jwt, kid).await?,
        (None, None) => None,
    }
    .ok_or_else(|| fail("client_assertion signature does not verify with the client's registered keys"))?;
    let now = state.clock.now();
    let text = |name: &str| claims.get(name).and_then(|v| v.as_str());
    if text("iss") != Some(&client.client_id) || text("sub") != Some(&client.client_id) {
        return Err(fail("client_assertion iss and sub must be the client_id"));
    }
    // draft-ietf-oauth-rfc7523bis §4: the issuer identifier alone, as one
    // string; a token endpoint URL or an array (the 2025 audience injection,
    // where an assertion meant for another server is replayed here) never.
    if text("aud") != Some(&state.config.issuer) {
        return Err(fail("client_assertion aud must be the issuer identifier, as a single string"));
    }
    let exp = claims.get("exp").and_then(|v| v.as_i64()).ok_or_else(|| fail("client_assertion exp is required"))?;
    if exp + SKEW <= now {
        return Err(fail("client_assertion has expired"));
    }
    if exp - now > MAX_ASSERTION_LIFETIME {
        return Err(fail("client_assertion lives too long (at most 10 minutes)"));
    }
    if claims.get("nbf").and_then(|v| v.as_i64()).is_some_and(|nbf| nbf > now + SKEW) {
        return Err(fail("client_assertion is not yet valid (nbf)"));
    }
    if claims.get("iat").and_then(|v| v.as_i64()).is_some_and(|iat| iat > now + SKEW) {
        return Err(fail("client_assertion iat is in the future"));
    }
    let jti = text("jti").ok_or_else(|| fail("client_assertion jti is required"))?;
    let key = format!("assertion-jti:{}:{}", client.client_id, keys::sha256_b64(jti.as_bytes()));
    if !state.cache.put_if_absent(&key, b"", exp - now + SKEW).await? {
        return Err(fail("client_assertion jti was already used"));
    }
    Ok(())
}

/// draft-ietf-oauth-rfc7523bis §5: `client-authentication+jwt` (the
/// `application/` prefix may be left out, RFC 7515 §4.1.9), or the `JWT`
/// most libraries write; media types compare without case.
fn assertion_type_ok(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    typ == "client-authentication+jwt" || typ == "jwt"
}

/// The claims of `jwt` if a key of `set` (the one named `kid`, if any) verifies it.
fn verify_with(set: &serde_json::Value, jwt: &str, kid: Option<&str>) -> Option<serde_json::Value> {
    set.get("keys")?
        .as_array()?
        .iter()
        .filter(|key| kid.is_none() || key.get("kid").and_then(|v| v.as_str()) == kid)
        .find_map(|jwk| keys::verify(jwt, jwk).ok())
        .map(|(_, claims)| claims)
}

/// Verifies with the keys the client publishes at `uri` (cached); when the
/// assertion names a key the cached set lacks, the client may have rotated
/// its keys: the set is fetched again, at most once a minute.
async fn published_verify(
    state: &AppState,
    client: &Client,
    uri: &str,
    jwt: &str,
    kid: Option<&str>,
) -> Result<Option<serde_json::Value>, OAuthError> {
    let unusable = |e: KeysError| match e {
        KeysError::Cache(e) => OAuthError::from(e),
        unusable => {
            tracing::warn!(client_id = %client.client_id, error = %unusable, "client keys unavailable");
            OAuthError::invalid_client(unusable.to_string())
        }
    };
    let (cache, fetcher, id) = (&state.cache, &state.fetcher, client.client_id.as_str());
    let (set, fetched_now) = documents::published_keys(cache, fetcher, id, uri).await.map_err(unusable)?;
    if let Some(claims) = verify_with(&set, jwt, kid) {
        return Ok(Some(claims));
    }
    let unknown_key = kid.is_none_or(|kid| lacks_kid(&set, kid));
    if fetched_now || !unknown_key {
        return Ok(None);
    }
    match documents::refetch_keys(cache, fetcher, id, uri).await.map_err(unusable)? {
        Some(set) => Ok(verify_with(&set, jwt, kid)),
        None => Ok(None),
    }
}

fn lacks_kid(set: &serde_json::Value, kid: &str) -> bool {
    let keys = set.get("keys").and_then(|k| k.as_array());
    !keys.is_some_and(|keys| keys.iter().any(|key| key.get("kid").and_then(|v| v.as_str()) == Some(kid)))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::keys::{Alg, SigningKey, generate_pkcs8};

    fn basic(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    fn encode(text: &str) -> String {
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(crate::properties::config())]

            #[test]
            fn any_authorization_header_is_read_or_refused_without_panic(
                value in prop_oneof![any::<String>(), "[Bb]asic [A-Za-z0-9+/= ]{0,40}"],
            ) {
                let _ = basic_credentials(&basic(&value));
            }

            #[test]
            fn basic_credentials_read_back(id in any::<String>(), secret in any::<String>()) {
                // RFC 6749 §2.3.1: each part form-urlencoded, then joined by ':'.
                let joined = format!("{}:{}", encode(&id), encode(&secret));
                let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(joined));
                prop_assert_eq!(basic_credentials(&basic(&value)).unwrap(), Some((id, secret)));
            }

            #[test]
            fn any_key_set_and_assertion_are_tried_without_panic(
                set in crate::properties::json(&["keys", "kty", "alg", "crv", "x", "y", "kid"]),
                jwt in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{0,30}\\.[A-Za-z0-9_-]{0,30}\\.[A-Za-z0-9_-]{0,30}"],
                kid in proptest::option::of("[a-z]{0,4}"),
            ) {
                prop_assert!(verify_with(&set, &jwt, kid.as_deref()).is_none());
                let _ = lacks_kid(&set, kid.as_deref().unwrap_or_default());
                let _ = assertion_subject(&jwt);
            }
        }
    }

    #[test]
    fn an_assertion_verifies_with_its_key_in_the_set() {
        let key = SigningKey::from_pkcs8(Alg::ES256, &generate_pkcs8(Alg::ES256).unwrap()).unwrap();
        let jwt = key.sign_jwt("JWT", &serde_json::json!({"sub": "client"})).unwrap();
        let set = serde_json::json!({"keys": [{"kty": "OKP", "x": "AA"}, key.public_jwk()]});
        assert_eq!(verify_with(&set, &jwt, None).unwrap()["sub"], "client");
        assert_eq!(assertion_subject(&jwt).as_deref(), Some("client"));
        assert!(verify_with(&set, &jwt, Some("another")).is_none());
    }
}
