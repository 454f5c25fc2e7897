//! Logout tokens (OIDC Back-Channel Logout 1.0 §2.4, §2.6), checked with a
//! maintained JOSE crate (`jsonwebtoken`) against the provider's JWKS.

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How far `iat` may be from our clock.
const SKEW: i64 = 300;

/// Who logged out: a login (`sid`), a citizen (`sub`), or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub sub: Option<String>,
    pub sid: Option<String>,
}

impl Subject {
    /// A local session ends when the token names its login, or — when the
    /// token names only the citizen — any session of that citizen.
    pub fn matches(&self, sub: &str, sid: Option<&str>) -> bool {
        match (&self.sid, &self.sub) {
            (Some(token_sid), _) => sid == Some(token_sid.as_str()),
            (None, Some(token_sub)) => token_sub == sub,
            (None, None) => false,
        }
    }
}

/// `jti`s seen, kept until the token could no longer be accepted.
#[derive(Debug, Default)]
pub struct Replay(Mutex<HashMap<String, i64>>);

impl Replay {
    fn first_use(&self, jti: &str, now: i64) -> bool {
        let mut seen = match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        seen.retain(|_, until| *until > now);
        seen.insert(jti.to_owned(), now + 2 * SKEW).is_none()
    }
}

async fn jwks(http: &reqwest::Client, jwks_uri: &str) -> Result<JwkSet, String> {
    let response = http.get(jwks_uri).send().await.map_err(|e| format!("cannot fetch the provider's keys: {e}"))?;
    response.json().await.map_err(|e| format!("the provider's keys are unreadable: {e}"))
}

/// Checks signature, `iss`, `aud`, `iat`, `events`, `sid`/`sub`, the
/// absence of `nonce`, and `jti` replay. Returns who logged out.
pub async fn verify(
    token: &str,
    http: &reqwest::Client,
    jwks_uri: &str,
    issuer: &str,
    client_id: &str,
    now: i64,
    replay: &Replay,
) -> Result<Subject, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("not a JWT: {e}"))?;
    if !matches!(header.alg, Algorithm::ES256 | Algorithm::RS256 | Algorithm::PS256 | Algorithm::EdDSA) {
        return Err(format!("algorithm {:?} is not accepted", header.alg));
    }
    if header.typ.as_deref().is_some_and(|t| t != "logout+jwt") {
        return Err("typ must be logout+jwt".into());
    }
    let kid = header.kid.ok_or("the token names no key (kid)")?;
    // Keys rotate: fetched per token here; a busy service would cache them.
    let keys = jwks(http, jwks_uri).await?;
    let jwk = keys.find(&kid).ok_or("signed with an unknown key")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable key: {e}"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    // Time is checked below on our clock; `exp` is optional in logout tokens.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iss", "aud", "iat"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .map_err(|e| format!("signature or claims refused: {e}"))?
        .claims;
    let iat = claims.get("iat").and_then(|v| v.as_i64()).ok_or("iat is required")?;
    if (iat - now).abs() > SKEW {
        return Err("iat is too far from now".into());
    }
    if claims.get("exp").and_then(|v| v.as_i64()).is_some_and(|exp| exp + 30 <= now) {
        return Err("the token has expired".into());
    }
    let events = claims.get("events").and_then(|e| e.as_object()).ok_or("events is required")?;
    if !events.get(EVENT).is_some_and(|v| v.is_object()) {
        return Err("events must contain the back-channel logout event".into());
    }
    if claims.get("nonce").is_some() {
        return Err("a logout token must not contain a nonce".into());
    }
    let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let subject = Subject { sub: text("sub"), sid: text("sid") };
    if subject.sub.is_none() && subject.sid.is_none() {
        return Err("sid or sub is required".into());
    }
    let jti = text("jti").ok_or("jti is required")?;
    if !replay.first_use(&jti, now) {
        return Err("this logout token was already used".into());
    }
    Ok(subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_match_by_sid_first() {
        let by_sid = Subject { sub: Some("a".into()), sid: Some("s1".into()) };
        assert!(by_sid.matches("a", Some("s1")));
        assert!(!by_sid.matches("a", Some("s2")));
        let by_sub = Subject { sub: Some("a".into()), sid: None };
        assert!(by_sub.matches("a", Some("s2")) && !by_sub.matches("b", None));
    }

    #[test]
    fn a_jti_is_accepted_once() {
        let replay = Replay::default();
        assert!(replay.first_use("j", 100));
        assert!(!replay.first_use("j", 101));
        assert!(replay.first_use("j", 100 + 2 * SKEW + 1), "forgotten once no longer acceptable");
    }
}
