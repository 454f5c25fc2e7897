//! Reading our own JWT access tokens back (RFC 9068 §4): signature against
//! the published keys, `typ`, issuer, expiry, revocation.

use axum::http::{HeaderMap, header};

use super::error::OAuthError;
use super::grant::AccessClaims;
use crate::app::AppState;

/// Validates an access token; every failure is `invalid_token`.
pub async fn validate(state: &AppState, token: &str) -> Result<AccessClaims, OAuthError> {
    let invalid = || OAuthError::invalid_token("the access token is invalid, expired or revoked");
    let (header, claims) = state.keys.verify_own(token).map_err(|_| invalid())?;
    if header.get("typ").and_then(|t| t.as_str()) != Some("at+jwt") {
        return Err(invalid());
    }
    let claims: AccessClaims = serde_json::from_value(claims).map_err(|_| invalid())?;
    if claims.iss != state.config.issuer || claims.exp <= state.clock.now() {
        return Err(invalid());
    }
    if crate::endings::is_revoked(state, &claims).await? {
        return Err(invalid());
    }
    Ok(claims)
}

/// Claims of a token this provider issued (signature and issuer checked,
/// expiry not): how `id_token_hint` is read at authorization and logout.
pub fn own_claims(state: &AppState, token: &str) -> Option<serde_json::Value> {
    let (_, claims) = state.keys.verify_own(token).ok()?;
    (claims.get("iss")?.as_str()? == state.config.issuer).then_some(claims)
}

/// The bearer token of a request (RFC 6750 §2.1, §2.2; never the query).
/// `None` when absent; an error when sent two ways or malformed.
pub fn extract(headers: &HeaderMap, form_token: Option<&str>) -> Result<Option<String>, OAuthError> {
    let from_header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let text = value.to_str().map_err(|_| OAuthError::invalid_request("malformed Authorization header"))?;
            let token = text
                .strip_prefix("Bearer ")
                .or_else(|| text.strip_prefix("bearer "))
                .ok_or_else(|| OAuthError::invalid_request("the Authorization header must use the Bearer scheme"))?;
            Some(token.trim().to_owned())
        }
    };
    match (from_header, form_token) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request("send the access token in one place only")),
        (Some(token), None) => Ok(Some(token)),
        (None, Some(token)) => Ok(Some(token.to_owned())),
        (None, None) => Ok(None),
    }
}

/// Property tests (README "Test it": the long run).
#[cfg(test)]
mod properties {
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    proptest! {
        #![proptest_config(crate::properties::config())]

        #[test]
        fn any_authorization_is_read_or_refused_without_panic(
            value in prop_oneof![any::<String>(), "[Bb]earer [ -~]{0,40}"],
            form in proptest::option::of(any::<String>()),
        ) {
            let _ = extract(&with_authorization(&value), form.as_deref());
        }

        #[test]
        fn a_token_sent_one_way_reads_back(token in "[A-Za-z0-9._~+/-]{1,80}=*", in_header in any::<bool>()) {
            let read = if in_header {
                extract(&with_authorization(&format!("Bearer {token}")), None)
            } else {
                extract(&HeaderMap::new(), Some(&token))
            };
            prop_assert_eq!(read.ok().flatten(), Some(token.clone()));
            let twice = extract(&with_authorization(&format!("Bearer {token}")), Some(&token));
            prop_assert!(twice.is_err(), "sent two ways");
        }
    }
}
