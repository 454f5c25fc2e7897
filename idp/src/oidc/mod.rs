//! OpenID Connect endpoints. What the provider supports is declared once
//! here; discovery publishes these lists and the endpoints check against them.

pub mod discovery;

use crate::keys::Alg;

/// Paths of the protocol endpoints, relative to the issuer.
pub mod paths {
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub const JWKS: &str = "/jwks";
    pub const AUTHORIZE: &str = "/authorize";
    pub const TOKEN: &str = "/token";
    pub const USERINFO: &str = "/userinfo";
}

/// OAuth 2.0 response types (code flow only: ANSSI-PA-080, FAPI 2.0).
pub const RESPONSE_TYPES: &[&str] = &["code"];
pub const GRANT_TYPES: &[&str] = &["authorization_code"];
pub const SUBJECT_TYPES: &[&str] = &["pairwise"];
pub const SCOPES: &[&str] = &["openid"];
/// PKCE: S256 only, `plain` is refused (RFC 7636 §4.2, FAPI 2.0).
pub const CODE_CHALLENGE_METHODS: &[&str] = &["S256"];
pub const TOKEN_ENDPOINT_AUTH_METHODS: &[&str] = &["client_secret_basic"];
/// Every algorithm the key ring holds a key for. RS256 must be listed
/// (OIDC Discovery §3) and strict clients insist on it.
pub const ID_TOKEN_SIGNING_ALGS: [Alg; 4] = Alg::ALL;
