//! OpenID Connect Discovery 1.0 §3–4 and the JWKS (RFC 7517 §5): both
//! rendered once, served with cache headers and open CORS.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{
    ACR_VALUES, CLAIMS, CODE_CHALLENGE_METHODS, GRANT_TYPES, ID_TOKEN_SIGNING_ALGS, INTROSPECTION_AUTH_METHODS,
    PROMPT_VALUES, RESPONSE_MODES, RESPONSE_TYPES, SCOPES, SUBJECT_TYPES, TOKEN_ENDPOINT_AUTH_METHODS, paths,
    verified_claims,
};
use crate::app::AppState;
use crate::config::Config;

#[derive(Debug, Serialize)]
struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    end_session_endpoint: String,
    registration_endpoint: String,
    jwks_uri: String,
    scopes_supported: &'static [&'static str],
    claims_supported: &'static [&'static str],
    response_types_supported: &'static [&'static str],
    response_modes_supported: &'static [&'static str],
    grant_types_supported: &'static [&'static str],
    subject_types_supported: &'static [&'static str],
    id_token_signing_alg_values_supported: Vec<&'static str>,
    userinfo_signing_alg_values_supported: Vec<&'static str>,
    acr_values_supported: &'static [&'static str],
    prompt_values_supported: &'static [&'static str],
    code_challenge_methods_supported: &'static [&'static str],
    token_endpoint_auth_methods_supported: &'static [&'static str],
    token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    introspection_endpoint_auth_methods_supported: &'static [&'static str],
    revocation_endpoint_auth_methods_supported: &'static [&'static str],
    authorization_response_iss_parameter_supported: bool,
    claims_parameter_supported: bool,
    backchannel_logout_supported: bool,
    backchannel_logout_session_supported: bool,
    frontchannel_logout_supported: bool,
    frontchannel_logout_session_supported: bool,
    request_parameter_supported: bool,
    request_uri_parameter_supported: bool,
    ui_locales_supported: &'static [&'static str],
    // OpenID Connect for Identity Assurance 1.0 (`verified_claims`).
    verified_claims_supported: bool,
    trust_frameworks_supported: &'static [&'static str],
    evidence_supported: &'static [&'static str],
    documents_supported: &'static [&'static str],
    documents_methods_supported: &'static [&'static str],
    claims_in_verified_claims_supported: &'static [&'static str],
}

/// The discovery document for this configuration, as JSON.
pub fn render(config: &Config) -> String {
    let metadata = ProviderMetadata {
        issuer: config.issuer.clone(),
        authorization_endpoint: config.url(paths::AUTHORIZE),
        token_endpoint: config.url(paths::TOKEN),
        userinfo_endpoint: config.url(paths::USERINFO),
        introspection_endpoint: config.url(paths::INTROSPECT),
        revocation_endpoint: config.url(paths::REVOKE),
        end_session_endpoint: config.url(paths::END_SESSION),
        registration_endpoint: config.url(paths::REGISTER),
        jwks_uri: config.url(paths::JWKS),
        scopes_supported: SCOPES,
        claims_supported: CLAIMS,
        response_types_supported: RESPONSE_TYPES,
        response_modes_supported: RESPONSE_MODES,
        grant_types_supported: GRANT_TYPES,
        subject_types_supported: SUBJECT_TYPES,
        id_token_signing_alg_values_supported: ID_TOKEN_SIGNING_ALGS.iter().map(|a| a.as_str()).collect(),
        userinfo_signing_alg_values_supported: ID_TOKEN_SIGNING_ALGS.iter().map(|a| a.as_str()).collect(),
        acr_values_supported: ACR_VALUES,
        prompt_values_supported: PROMPT_VALUES,
        code_challenge_methods_supported: CODE_CHALLENGE_METHODS,
        token_endpoint_auth_methods_supported: TOKEN_ENDPOINT_AUTH_METHODS,
        token_endpoint_auth_signing_alg_values_supported: ID_TOKEN_SIGNING_ALGS.iter().map(|a| a.as_str()).collect(),
        introspection_endpoint_auth_methods_supported: INTROSPECTION_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported: TOKEN_ENDPOINT_AUTH_METHODS,
        authorization_response_iss_parameter_supported: true,
        claims_parameter_supported: true,
        // Clients register backchannel_logout_uri / frontchannel_logout_uri;
        // every logout token and front-channel URL carries sid.
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
        frontchannel_logout_supported: true,
        frontchannel_logout_session_supported: true,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        ui_locales_supported: &["fr", "en"],
        verified_claims_supported: true,
        trust_frameworks_supported: &[verified_claims::TRUST_FRAMEWORK],
        evidence_supported: &verified_claims::EVIDENCE,
        documents_supported: &verified_claims::DOCUMENTS,
        documents_methods_supported: &verified_claims::METHODS,
        claims_in_verified_claims_supported: &verified_claims::CLAIMS,
    };
    serde_json::to_string_pretty(&metadata).unwrap_or_default()
}

fn json(body: String, max_age: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, max_age),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    json(state.discovery.to_string(), "public, max-age=3600")
}

/// Short cache: clients must see a rotated key well before it signs
/// (`SESAME_KEY_PUBLISH_BEFORE_USE`, 1 h by default).
pub async fn jwks(State(state): State<AppState>) -> Response {
    let body = state.keys.jwks();
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body.to_string(),
    )
        .into_response()
}
