//! OpenID Connect endpoints. What the provider supports is declared once
//! here; discovery publishes these lists and the endpoints check against them.

pub mod authorize;
pub mod bearer;
pub mod claims;
pub mod client_auth;
pub mod consent;
pub mod discovery;
pub mod error;
pub mod grant;
pub mod introspect;
pub mod logout;
pub mod params;
pub mod register;
pub mod revoke;
pub mod select_account;
pub mod token;
pub mod userinfo;
pub mod verified_claims;

use crate::keys::Alg;

/// Paths of the protocol endpoints, relative to the issuer.
pub mod paths {
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub const JWKS: &str = "/jwks";
    pub const AUTHORIZE: &str = "/authorize";
    pub const AUTHORIZE_CONTINUE: &str = "/authorize/continue/{id}";
    pub const CONSENT: &str = "/authorize/consent/{id}";
    /// `prompt=select_account`: the account choice.
    pub const SELECT_ACCOUNT: &str = "/authorize/select-account/{id}";
    pub const TOKEN: &str = "/token";
    pub const USERINFO: &str = "/userinfo";
    pub const INTROSPECT: &str = "/introspect";
    pub const REVOKE: &str = "/revoke";
    pub const END_SESSION: &str = "/logout";
    pub const END_SESSION_CONFIRM: &str = "/logout/confirm";
    /// RFC 7591 §3.
    pub const REGISTER: &str = "/register";
    /// RFC 7592 §2: `registration_client_uri` is this with the client_id.
    pub const REGISTRATION: &str = "/register/{client_id}";
}

/// OAuth 2.0 response types (code flow only: ANSSI-PA-080, FAPI 2.0).
pub const RESPONSE_TYPES: &[&str] = &["code"];
pub const RESPONSE_MODES: &[&str] = &["query", "form_post"];
pub const GRANT_TYPES: &[&str] = &crate::clients::GRANT_TYPES;
/// Pairwise by default; public (the citizen identifier) for entitled clients.
pub const SUBJECT_TYPES: &[&str] = &["pairwise", "public"];
pub const SCOPES: &[&str] = &["openid", "profile", "email", "phone", "address", "offline_access", "citizen_identifier"];
/// Protocol claims, then every identity claim `claims::released` can serve.
pub const CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "sid",
    "azp",
    "at_hash",
    "given_name",
    "family_name",
    "birthdate",
    "gender",
    "birthplace",
    "birthcountry",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
    "citizen_identifier",
];
pub const ACR_VALUES: &[&str] = &["eidas1", "eidas2", "eidas3"];
pub const PROMPT_VALUES: &[&str] = &["none", "login", "consent", "select_account"];
/// PKCE: S256 only, `plain` is refused (RFC 7636 §4.2, FAPI 2.0).
pub const CODE_CHALLENGE_METHODS: &[&str] = &["S256"];
pub const TOKEN_ENDPOINT_AUTH_METHODS: &[&str] =
    &["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];
/// Introspection is for confidential clients only.
pub const INTROSPECTION_AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "private_key_jwt"];
/// Every algorithm the key ring holds a key for. RS256 must be listed
/// (OIDC Discovery §3) and strict clients insist on it.
pub const ID_TOKEN_SIGNING_ALGS: [Alg; 4] = Alg::ALL;

#[cfg(test)]
mod tests {
    #[test]
    fn discovery_lists_exactly_the_claims_and_scopes_served() {
        let identity: Vec<&str> = super::CLAIMS[12..].to_vec();
        assert_eq!(identity, super::claims::RELEASABLE);
        for claim in super::claims::RELEASABLE {
            let scope = super::claims::scope_of(claim).unwrap_or_default();
            assert!(super::SCOPES.contains(&scope), "{claim}");
        }
    }
}
