//! OAuth 2.0 errors at the edge: JSON for endpoints (RFC 6749 §5.2, RFC 6750
//! §3), with `WWW-Authenticate` where due. Descriptions go to the client;
//! internal causes only to the log.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::outage::Failure;

/// Error codes from RFC 6749, RFC 6750, RFC 7009, OIDC Core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    InvalidToken,
    InsufficientScope,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    AccountSelectionRequired,
    InvalidRequestObject,
    RequestNotSupported,
    RequestUriNotSupported,
    RegistrationNotSupported,
    UnmetAuthenticationRequirements,
    UnsupportedTokenType,
    /// RFC 7591 §3.2.2.
    InvalidRedirectUri,
    InvalidClientMetadata,
    /// The admin API's: no such resource (404), a conflicting change (409).
    NotFound,
    Conflict,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
        }
    }
}

/// The scheme a 401 names in `WWW-Authenticate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// Client authentication (RFC 6749 §5.2): `Basic` on every 401.
    None,
    /// RFC 6750 §3: a bearer-protected resource.
    Bearer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    pub challenge: Challenge,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self { code, description: description.into(), challenge: Challenge::None }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    pub fn invalid_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self { challenge: Challenge::Bearer, ..Self::new(ErrorCode::InvalidToken, description) }
    }

    /// A failure: `temporarily_unavailable` when it is a lost dependency,
    /// else `server_error` — decided by the failure itself.
    pub fn failed(cause: &dyn Failure) -> Self {
        match cause.unavailable() {
            Some(dependency) => Self::unavailable(format_args!("{}: {cause}", dependency.name())),
            None => Self::server(cause),
        }
    }

    /// A failure of ours that no outage explains (an invariant, encoding):
    /// logged with its cause, reported as `server_error`.
    pub fn server(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::ServerError, "the provider could not complete the request; try again later")
    }

    /// A dependency (database, Redis) is unavailable: logged, reported as
    /// `temporarily_unavailable` (503 with `Retry-After`).
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "dependency unavailable");
        Self::new(ErrorCode::TemporarilyUnavailable, "the provider is temporarily unavailable; try again shortly")
    }

    pub fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = challenge;
        self
    }

    fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

const BASIC_CHALLENGE: &str = r#"Basic realm="sesame", charset="UTF-8""#;

#[derive(Serialize)]
struct Body<'a> {
    error: &'static str,
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        // RFC 6750 §3.1: a request without credentials gets no error code at all.
        if self.challenge == Challenge::Bearer && self.description.is_empty() {
            return (
                status,
                [(header::WWW_AUTHENTICATE, r#"Bearer realm="sesame""#), (header::CACHE_CONTROL, "no-store")],
            )
                .into_response();
        }
        let mut response =
            (status, Json(Body { error: self.code.as_str(), error_description: &self.description })).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.code == ErrorCode::TemporarilyUnavailable {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(crate::outage::RETRY_AFTER_SECONDS));
        }
        let challenge = match self.challenge {
            // RFC 9110 §15.5.2: every 401 names a scheme. A client that did not
            // use Basic (a wrong client_secret_post, no credentials at all)
            // could have: RFC 6749 §2.3.1 makes Basic the one every server takes.
            Challenge::None if status == StatusCode::UNAUTHORIZED => Some(BASIC_CHALLENGE.to_owned()),
            Challenge::None => None,
            // RFC 6750 §3: no error attributes when no token was presented at all.
            Challenge::Bearer if self.description.is_empty() => Some(r#"Bearer realm="sesame""#.to_owned()),
            Challenge::Bearer => Some(format!(
                r#"Bearer realm="sesame", error="{}", error_description="{}""#,
                self.code.as_str(),
                self.description.replace(['"', '\\'], "'")
            )),
        };
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::failed(&e)
    }
}

/// Registry refusals (RFC 7591 §3.2.2 codes, RFC 6750 §3.1 for tokens).
impl From<crate::clients::ClientError> for OAuthError {
    fn from(e: crate::clients::ClientError) -> Self {
        use crate::clients::ClientError as E;
        match e {
            E::InvalidRedirectUri(why) => Self::new(ErrorCode::InvalidRedirectUri, why),
            E::InvalidMetadata(why) => Self::new(ErrorCode::InvalidClientMetadata, why),
            E::InvalidToken(why) => Self::invalid_token(why),
            E::Forbidden(why) => Self::new(ErrorCode::InsufficientScope, why).with_challenge(Challenge::Bearer),
            E::NotFound(why) => Self::new(ErrorCode::NotFound, why),
            E::Conflict(why) => Self::new(ErrorCode::Conflict, why),
            E::Store(cause) => Self::failed(&cause),
        }
    }
}

impl From<crate::random::NoRandomness> for OAuthError {
    fn from(_: crate::random::NoRandomness) -> Self {
        OAuthError::server("no randomness")
    }
}

impl From<crate::cache::CacheError> for OAuthError {
    fn from(e: crate::cache::CacheError) -> Self {
        Self::failed(&e)
    }
}

impl From<crate::endings::EndingError> for OAuthError {
    fn from(e: crate::endings::EndingError) -> Self {
        Self::failed(&e)
    }
}

impl From<crate::keys::KeyError> for OAuthError {
    fn from(e: crate::keys::KeyError) -> Self {
        Self::failed(&e)
    }
}
