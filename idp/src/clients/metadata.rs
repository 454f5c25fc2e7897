//! Client metadata as registered (RFC 7591 §2, OpenID Connect Dynamic
//! Client Registration 1.0 §2): read from a registration request's JSON,
//! each field checked for its type with an error that names it. Unknown
//! fields are ignored (RFC 7591 §2).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ClientError, NewClient, Origin};

/// Metadata the provider stores and shows but does not act on itself
/// (kept as one JSON column). Field names are the RFC's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraMetadata {
    #[serde(rename = "client_name#fr", default, skip_serializing_if = "Option::is_none")]
    pub client_name_fr: Option<String>,
    #[serde(rename = "client_name#en", default, skip_serializing_if = "Option::is_none")]
    pub client_name_en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_acr_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_age: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_auth_time: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_session_required: Option<bool>,
}

impl ExtraMetadata {
    /// `client_name#fr` / `#en` for `lang`, when registered.
    pub fn name_in(&self, lang: crate::i18n::Lang) -> Option<&str> {
        match lang {
            crate::i18n::Lang::Fr => self.client_name_fr.as_deref(),
            crate::i18n::Lang::En => self.client_name_en.as_deref(),
        }
    }
}

fn meta(why: String) -> ClientError {
    ClientError::InvalidMetadata(why)
}

fn string(map: &Map<String, Value>, name: &str) -> Result<Option<String>, ClientError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(meta(format!("{name} must be a string"))),
    }
}

fn strings(map: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, ClientError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| meta(format!("{name} must be an array of strings"))))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(meta(format!("{name} must be an array of strings"))),
    }
}

fn boolean(map: &Map<String, Value>, name: &str) -> Result<Option<bool>, ClientError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(meta(format!("{name} must be true or false"))),
    }
}

fn integer(map: &Map<String, Value>, name: &str) -> Result<Option<i64>, ClientError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| meta(format!("{name} must be an integer"))),
        Some(_) => Err(meta(format!("{name} must be an integer"))),
    }
}

impl NewClient {
    /// Reads a registration (RFC 7591 §3.1) or update (RFC 7592 §2.2)
    /// request body. The organisation and entitlements are not the
    /// requester's to say: the caller sets them.
    pub fn from_registration_json(body: &[u8]) -> Result<Self, ClientError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| meta(format!("the request body is not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(meta("the request body must be a JSON object".into()));
        };
        if boolean(&map, "skip_consent")? == Some(true) {
            return Err(meta("skip_consent is granted by an administrator only".into()));
        }
        if boolean(&map, "pkce_exempt")? == Some(true) {
            return Err(meta("a PKCE exemption is granted by a global administrator only".into()));
        }
        let jwks = match map.get("jwks") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(_) => return Err(meta("jwks must be a JSON Web Key Set object {\"keys\": [...]}".into())),
        };
        Ok(NewClient {
            organisation_id: String::new(),
            client_name: string(&map, "client_name")?.unwrap_or_default(),
            redirect_uris: strings(&map, "redirect_uris")?.unwrap_or_default(),
            post_logout_redirect_uris: strings(&map, "post_logout_redirect_uris")?.unwrap_or_default(),
            grant_types: strings(&map, "grant_types")?.unwrap_or_default(),
            response_types: strings(&map, "response_types")?,
            token_endpoint_auth_method: string(&map, "token_endpoint_auth_method")?,
            scope: string(&map, "scope")?,
            id_token_signed_response_alg: string(&map, "id_token_signed_response_alg")?,
            userinfo_signed_response_alg: string(&map, "userinfo_signed_response_alg")?,
            subject_type: string(&map, "subject_type")?,
            jwks,
            jwks_uri: string(&map, "jwks_uri")?,
            extra: ExtraMetadata {
                client_name_fr: string(&map, "client_name#fr")?,
                client_name_en: string(&map, "client_name#en")?,
                logo_uri: string(&map, "logo_uri")?,
                policy_uri: string(&map, "policy_uri")?,
                tos_uri: string(&map, "tos_uri")?,
                contacts: strings(&map, "contacts")?.unwrap_or_default(),
                sector_identifier_uri: string(&map, "sector_identifier_uri")?,
                default_acr_values: strings(&map, "default_acr_values")?.unwrap_or_default(),
                default_max_age: integer(&map, "default_max_age")?,
                require_auth_time: boolean(&map, "require_auth_time")?,
                backchannel_logout_uri: string(&map, "backchannel_logout_uri")?,
                backchannel_logout_session_required: boolean(&map, "backchannel_logout_session_required")?,
                frontchannel_logout_uri: string(&map, "frontchannel_logout_uri")?,
                frontchannel_logout_session_required: boolean(&map, "frontchannel_logout_session_required")?,
            },
            public_subject: false,
            skip_consent: false,
            pkce_exempt_reason: None,
            secret_overlap: None,
            origin: Origin::Registration,
        })
    }
}

/// Most of any list a client may register.
pub const MAX_LIST: usize = 20;
/// Longest URL we accept.
pub const MAX_URL: usize = 2_000;

/// An absolute https URL (http only on loopback), without fragment or
/// credentials: logo, policy, terms, logout and sector URIs.
pub fn check_url(name: &str, uri: &str) -> Result<url::Url, ClientError> {
    let bad = |why: &str| meta(format!("{name} {uri:?} {why}"));
    if uri.len() > MAX_URL {
        return Err(bad("is longer than 2000 characters"));
    }
    let url = url::Url::parse(uri).map_err(|_| bad("is not an absolute URL"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(bad("must not contain a fragment (#…)"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    let host = url.host_str().ok_or_else(|| bad("has no host"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if super::is_loopback(host) => Ok(url),
        _ => Err(bad("must use https (http is allowed only for 127.0.0.1, [::1] and localhost)")),
    }
}

/// Checks what only the extra metadata says.
pub fn check_extra(extra: &ExtraMetadata) -> Result<(), ClientError> {
    for (name, value) in [("client_name#fr", &extra.client_name_fr), ("client_name#en", &extra.client_name_en)] {
        if let Some(text) = value
            && (text.trim().is_empty() || text.chars().count() > 200)
        {
            return Err(meta(format!("{name} must be 1 to 200 characters")));
        }
    }
    for (name, value) in [
        ("logo_uri", &extra.logo_uri),
        ("policy_uri", &extra.policy_uri),
        ("tos_uri", &extra.tos_uri),
        ("sector_identifier_uri", &extra.sector_identifier_uri),
        ("backchannel_logout_uri", &extra.backchannel_logout_uri),
        ("frontchannel_logout_uri", &extra.frontchannel_logout_uri),
    ] {
        if let Some(uri) = value {
            check_url(name, uri)?;
        }
    }
    if extra.contacts.len() > 10 {
        return Err(meta("contacts: at most 10 addresses".into()));
    }
    for contact in &extra.contacts {
        let valid = contact.len() <= 254
            && !contact.chars().any(char::is_whitespace)
            && contact.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if !valid {
            return Err(meta(format!("contacts: {contact:?} is not an e-mail address")));
        }
    }
    for acr in &extra.default_acr_values {
        if !crate::oidc::ACR_VALUES.contains(&acr.as_str()) {
            return Err(meta(format!("default_acr_values: {acr:?} is not one of eidas1, eidas2, eidas3")));
        }
    }
    if extra.default_max_age.is_some_and(|age| !(0..=31_536_000).contains(&age)) {
        return Err(meta("default_max_age must be between 0 and 31536000 seconds".into()));
    }
    if extra.backchannel_logout_session_required.is_some() && extra.backchannel_logout_uri.is_none() {
        return Err(meta("backchannel_logout_session_required needs a backchannel_logout_uri".into()));
    }
    if extra.frontchannel_logout_session_required.is_some() && extra.frontchannel_logout_uri.is_none() {
        return Err(meta("frontchannel_logout_session_required needs a frontchannel_logout_uri".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_the_wrong_type_are_named() {
        let err = NewClient::from_registration_json(br#"{"redirect_uris": "https://a.fr/cb"}"#).unwrap_err();
        assert_eq!(err, ClientError::InvalidMetadata("redirect_uris must be an array of strings".into()));
        let err = NewClient::from_registration_json(b"[1]").unwrap_err();
        assert!(matches!(err, ClientError::InvalidMetadata(_)));
        let ok = NewClient::from_registration_json(br#"{"client_name#fr": "Mairie", "unknown": {"x": 1}}"#).unwrap();
        assert_eq!(ok.extra.client_name_fr.as_deref(), Some("Mairie"));
        assert_eq!(ok.origin, Origin::Registration);
    }

    mod properties {
        use proptest::prelude::*;
        use serde_json::json;

        use super::*;
        use crate::clients::validate::validate;

        /// Every member name registration reads.
        const NAMES: &[&str] = &[
            "client_name",
            "redirect_uris",
            "post_logout_redirect_uris",
            "grant_types",
            "response_types",
            "token_endpoint_auth_method",
            "scope",
            "id_token_signed_response_alg",
            "userinfo_signed_response_alg",
            "subject_type",
            "jwks",
            "jwks_uri",
            "client_name#fr",
            "client_name#en",
            "logo_uri",
            "policy_uri",
            "tos_uri",
            "contacts",
            "sector_identifier_uri",
            "default_acr_values",
            "default_max_age",
            "require_auth_time",
            "backchannel_logout_uri",
            "backchannel_logout_session_required",
            "frontchannel_logout_uri",
            "frontchannel_logout_session_required",
            "skip_consent",
            "keys",
        ];

        proptest! {
            #![proptest_config(crate::properties::config())]

            #[test]
            fn any_body_is_read_or_refused_without_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
                if let Ok(new) = NewClient::from_registration_json(&body) {
                    let _ = validate(&new);
                }
            }

            #[test]
            fn any_json_metadata_is_checked_without_panic(value in crate::properties::json(NAMES)) {
                if let Ok(new) = NewClient::from_registration_json(value.to_string().as_bytes()) {
                    let _ = validate(&new);
                    let _ = check_extra(&new.extra);
                }
            }

            #[test]
            fn what_a_registration_says_is_what_is_read(
                name in "[A-Za-zÀ-ÿ' -]{1,40}",
                hosts in proptest::collection::vec("[a-z]{1,10}", 1..4),
                max_age in proptest::option::of(0i64..1_000_000),
            ) {
                let uris: Vec<String> = hosts.iter().map(|h| format!("https://{h}.example.fr/callback")).collect();
                let mut body = json!({"client_name": name, "redirect_uris": uris, "client_name#en": name});
                if let Some(age) = max_age {
                    body["default_max_age"] = age.into();
                }
                let new = NewClient::from_registration_json(body.to_string().as_bytes()).unwrap();
                prop_assert_eq!(&new.client_name, &name);
                prop_assert_eq!(&new.redirect_uris, &uris);
                prop_assert_eq!(new.extra.client_name_en.as_deref(), Some(name.as_str()));
                prop_assert_eq!(new.extra.default_max_age, max_age);
                prop_assert!(!new.skip_consent && !new.public_subject);
            }
        }
    }
}
