//! Parsing and validating an authorization request (OIDC Core §3.1.2.1–2,
//! RFC 6749 §4.1.1, RFC 7636 §4.3), in the order that decides whether an
//! error may be redirected (§3.1.2.6): client and redirect URI first.

use serde::{Deserialize, Serialize};

use super::response::{RedirectTarget, ResponseMode};
use crate::app::AppState;
use crate::citizen::identity::Level;
use crate::clients::{self, Client, GRANT_AUTHORIZATION_CODE};
use crate::clock::UnixTime;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::params::Params;
use crate::scope::Scope;
use crate::web::respond::PageError;

/// `prompt` values (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

/// A validated authorization request, kept server-side while the citizen
/// signs in or consents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    /// Requested scopes the client is registered for (others are ignored), sorted.
    pub scope: Scope,
    /// Recommended, not required (RFC 6749 §4.1.1).
    pub state: Option<String>,
    /// Optional in the code flow (OIDC Core §3.1.2.1); PKCE binds the code.
    pub nonce: Option<String>,
    /// Required, except of a client a global administrator exempted (then `nonce` is).
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub acr_values: Vec<String>,
    pub login_hint: Option<String>,
    /// `sub` of a valid `id_token_hint`.
    pub hinted_subject: Option<String>,
    /// The `claims` request (§5.5), or null.
    pub claims: serde_json::Value,
    pub ui_locales: Option<String>,
    /// When the provider received the request: a login after it is fresh.
    pub received_at: UnixTime,
    /// Set once the citizen approved this very request on the consent page.
    #[serde(default)]
    pub consented: bool,
    /// Set when this request sent the citizen to sign in: a sign-in after
    /// `received_at` then satisfies `prompt=login`, `max_age` and the hint.
    #[serde(default)]
    pub sent_to_sign_in: bool,
    /// Set (to the page's language) when the citizen answered one of our
    /// forms for this request: the answer then reaches the client through
    /// a page, beyond the reach of that form's `form-action`.
    #[serde(default)]
    pub after_form: Option<crate::i18n::Lang>,
    /// The citizen's answer on the account choice (`prompt=select_account`).
    #[serde(default)]
    pub account_choice: Option<AccountChoice>,
}

/// What the citizen chose on the account choice page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountChoice {
    /// Go on as the signed-in citizen.
    Current,
    /// Sign in again, as someone else.
    Another,
}

impl AuthorizationRequest {
    pub fn target(&self) -> RedirectTarget {
        RedirectTarget {
            redirect_uri: self.redirect_uri.clone(),
            response_mode: self.response_mode,
            state: self.state.clone(),
            in_page: self.after_form,
        }
    }

    /// The assurance this request asks for. An essential `acr` claim in
    /// `claims` binds (OIDC Core §5.5.1.1); otherwise `acr_values` (or the
    /// client's `default_acr_values`) is voluntary (§3.1.2.1). Either way the
    /// lowest level named is enough; values we do not offer are ignored.
    pub fn wanted_acr(&self) -> WantedAcr {
        let lowest = |values: &mut dyn Iterator<Item = &str>| values.filter_map(Level::parse).min();
        if let Some(values) = self.essential_acr() {
            // Essential without values only asks that acr be returned, which it always is.
            if !values.is_empty() {
                return WantedAcr::Essential(lowest(&mut values.iter().map(String::as_str)));
            }
        }
        match lowest(&mut self.acr_values.iter().map(String::as_str)) {
            Some(level) => WantedAcr::Voluntary(level),
            None => WantedAcr::Nothing,
        }
    }

    /// The subjects this request names: an `id_token_hint`'s, and a `sub`
    /// requested with a value in `claims` (OIDC Core §5.5.1). The provider
    /// answers only for that citizen.
    pub fn named_subjects(&self) -> impl Iterator<Item = &str> {
        let requested = ["id_token", "userinfo"]
            .into_iter()
            .filter_map(|member| self.claims.get(member)?.get("sub")?.get("value")?.as_str());
        self.hinted_subject.as_deref().into_iter().chain(requested)
    }

    fn essential_acr(&self) -> Option<Vec<String>> {
        let acr = self.claims.get("id_token")?.get("acr")?;
        if acr.get("essential").and_then(|e| e.as_bool()) != Some(true) {
            return None;
        }
        let mut values: Vec<String> = acr
            .get("values")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if let Some(value) = acr.get("value").and_then(|v| v.as_str()) {
            values.push(value.to_owned());
        }
        Some(values)
    }
}

/// The assurance level a request asks for ([`AuthorizationRequest::wanted_acr`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WantedAcr {
    Nothing,
    /// Met if possible (a step-up sign-in); otherwise the citizen's real level is returned.
    Voluntary(Level),
    /// Met or refused; `None` when every value named is one we do not offer.
    Essential(Option<Level>),
}

/// Why a request is refused: on a page (client or redirect URI cannot be
/// trusted) or back at the client.
#[derive(Debug)]
pub enum Refusal {
    Page(PageError),
    Redirect(RedirectTarget, OAuthError),
}

impl From<PageError> for Refusal {
    fn from(e: PageError) -> Self {
        Refusal::Page(e)
    }
}

pub async fn validate(state: &AppState, params: &Params) -> Result<(AuthorizationRequest, Client), Refusal> {
    let client_id = params.get("client_id").ok_or_else(|| PageError::bad_request("authz.no_client_id"))?;
    let client = clients::find(&state.db, client_id)
        .await
        .map_err(PageError::from)?
        .ok_or_else(|| PageError::bad_request("authz.unknown_client"))?;
    let redirect_uri = params.get("redirect_uri").ok_or_else(|| PageError::bad_request("authz.no_redirect_uri"))?;
    // Exact string match (OAuth 2.0 Security BCP §4.1.3), but for the port of a loopback IP (RFC 8252 §7.3).
    if !client.accepts_redirect_uri(redirect_uri) {
        return Err(PageError::bad_request("authz.redirect_uri_mismatch").into());
    }

    // From here on, errors go back to the client.
    let response_mode = match params.get("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => ResponseMode::Query,
    };
    let target = RedirectTarget {
        redirect_uri: redirect_uri.to_owned(),
        response_mode,
        state: params.get("state").map(str::to_owned),
        in_page: None,
    };
    let refuse = |target: &RedirectTarget, code: ErrorCode, why: &'static str| {
        Refusal::Redirect(target.clone(), OAuthError::new(code, why))
    };
    if params.get("response_mode").is_some_and(|m| m != "query" && m != "form_post") {
        return Err(refuse(&target, ErrorCode::InvalidRequest, "response_mode must be query or form_post"));
    }
    if params.contains("request") {
        return Err(refuse(&target, ErrorCode::RequestNotSupported, "request objects are not supported"));
    }
    if params.contains("request_uri") {
        return Err(refuse(&target, ErrorCode::RequestUriNotSupported, "request_uri is not supported"));
    }
    if params.contains("registration") {
        return Err(refuse(
            &target,
            ErrorCode::RegistrationNotSupported,
            "the registration parameter is not supported",
        ));
    }
    match params.get("response_type") {
        Some("code") => {}
        None => return Err(refuse(&target, ErrorCode::InvalidRequest, "response_type is required")),
        Some(_) => {
            return Err(refuse(&target, ErrorCode::UnsupportedResponseType, "only response_type=code is supported"));
        }
    }
    if !client.allows_grant(GRANT_AUTHORIZATION_CODE) {
        return Err(refuse(
            &target,
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the authorization code flow",
        ));
    }
    let requested = Scope::parse(params.get("scope").unwrap_or_default());
    if !requested.contains("openid") {
        return Err(refuse(&target, ErrorCode::InvalidScope, "scope must contain openid"));
    }
    let scope = requested.narrowed_to(&client.scope).sorted();
    let code_challenge = match params.get("code_challenge") {
        Some(challenge) => {
            Some(code_challenge(params, challenge).map_err(|why| refuse(&target, ErrorCode::InvalidRequest, why))?)
        }
        // RFC 9700 §2.1.1: a confidential client exempted by an administrator
        // defends its code with nonce instead.
        None if client.pkce_exempt_reason.is_some() => {
            if !params.contains("nonce") {
                return Err(refuse(&target, ErrorCode::InvalidRequest, "nonce is required without a code_challenge"));
            }
            None
        }
        None => return Err(refuse(&target, ErrorCode::InvalidRequest, "code_challenge is required (PKCE with S256)")),
    };
    let mut prompt = Prompt::default();
    for value in crate::scope::space_separated(params.get("prompt").unwrap_or_default()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => prompt.select_account = true,
            _ => {
                return Err(refuse(
                    &target,
                    ErrorCode::InvalidRequest,
                    "prompt values are none, login, consent, select_account",
                ));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
        return Err(refuse(&target, ErrorCode::InvalidRequest, "prompt=none cannot be combined with other values"));
    }
    let max_age = match params.get("max_age") {
        // OIDC Registration §2: the client's default_max_age, unless the request names one.
        None => client.metadata.default_max_age,
        Some(v) => Some(v.parse::<i64>().ok().filter(|m| *m >= 0).ok_or_else(|| {
            refuse(&target, ErrorCode::InvalidRequest, "max_age must be a non-negative number of seconds")
        })?),
    };
    let claims = match params.get("claims") {
        None => serde_json::Value::Null,
        Some(text) => parse_claims(text).ok_or_else(|| {
            refuse(
                &target,
                ErrorCode::InvalidRequest,
                "claims must be a JSON object with userinfo and/or id_token members (OIDC Core 5.5)",
            )
        })?,
    };
    let hinted_subject = match params.get("id_token_hint") {
        None => None,
        Some(hint) => Some(hinted_subject(state, &client, hint).ok_or_else(|| {
            refuse(
                &target,
                ErrorCode::InvalidRequest,
                "id_token_hint is not an ID token this provider issued to this client",
            )
        })?),
    };
    let request = AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        response_mode,
        scope,
        state: target.state.clone(),
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        acr_values: match params.get("acr_values") {
            Some(values) => crate::scope::space_separated(values).map(str::to_owned).collect(),
            // OIDC Registration §2: the client's default_acr_values, unless the request names some.
            None => client.metadata.default_acr_values.clone(),
        },
        login_hint: params.get("login_hint").map(str::to_owned),
        hinted_subject,
        claims,
        ui_locales: params.get("ui_locales").map(str::to_owned),
        received_at: state.clock.now(),
        consented: false,
        sent_to_sign_in: false,
        after_form: None,
        account_choice: None,
    };
    Ok((request, client))
}

/// RFC 7636 §4.3, S256 only.
fn code_challenge(params: &Params, challenge: &str) -> Result<String, &'static str> {
    if params.get("code_challenge_method") != Some("S256") {
        return Err("code_challenge_method must be S256");
    }
    if challenge.len() != 43 || !challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("code_challenge must be the base64url SHA-256 of the verifier (43 characters)");
    }
    Ok(challenge.to_owned())
}

/// OIDC Core §5.5: an object whose `userinfo` / `id_token` members are
/// objects of claim names to null or `{essential, value, values}`.
fn parse_claims(text: &str) -> Option<serde_json::Value> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let object = value.as_object()?;
    for (member, requests) in object {
        if member != "userinfo" && member != "id_token" {
            continue;
        }
        for (_, request) in requests.as_object()? {
            match request {
                serde_json::Value::Null => {}
                serde_json::Value::Object(fields) => {
                    if fields.get("essential").is_some_and(|e| !e.is_boolean())
                        || fields.get("values").is_some_and(|v| !v.is_array())
                    {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
    Some(value)
}

/// The `sub` of an ID token we issued to this client (signature checked
/// against our published keys; expiry does not matter for a hint).
fn hinted_subject(state: &AppState, client: &Client, hint: &str) -> Option<String> {
    let claims = crate::oidc::bearer::own_claims(state, hint)?;
    let audience_ok = match claims.get("aud")? {
        serde_json::Value::String(aud) => *aud == client.client_id,
        serde_json::Value::Array(list) => list.iter().any(|a| a.as_str() == Some(&client.client_id)),
        _ => false,
    };
    audience_ok.then(|| claims.get("sub")?.as_str().map(str::to_owned))?
}

#[cfg(test)]
mod tests {
    use super::parse_claims;

    #[test]
    fn claims_parameter_shapes() {
        assert!(parse_claims(r#"{"userinfo":{"email":null,"given_name":{"essential":true}}}"#).is_some());
        assert!(parse_claims(r#"{"id_token":{"acr":{"essential":true,"values":["eidas2"]}}}"#).is_some());
        assert!(parse_claims("not json").is_none());
        assert!(parse_claims("[1]").is_none());
        assert!(parse_claims(r#"{"userinfo":["email"]}"#).is_none());
        assert!(parse_claims(r#"{"userinfo":{"email":true}}"#).is_none());
        assert!(parse_claims(r#"{"id_token":{"acr":{"essential":"yes"}}}"#).is_none());
    }

    mod properties {
        use proptest::prelude::*;

        use super::parse_claims;

        proptest! {
            #![proptest_config(crate::properties::config())]

            #[test]
            fn any_text_is_read_or_refused_without_panic(text in any::<String>()) {
                let _ = parse_claims(&text);
            }

            #[test]
            fn an_accepted_claims_request_is_the_json_sent(
                value in crate::properties::json(&[
                    "userinfo", "id_token", "essential", "values", "value", "acr", "sub", "email", "given_name",
                ]),
            ) {
                if let Some(read) = parse_claims(&value.to_string()) {
                    prop_assert!(read.is_object());
                    prop_assert_eq!(read, value);
                }
            }
        }
    }
}
