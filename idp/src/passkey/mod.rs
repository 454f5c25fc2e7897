//! Passkeys (WebAuthn Level 3 through webauthn-rs): sign-up, sign-in,
//! adding passkeys, recovery (with a code, or with a counter's enrolment
//! link). `ceremony` is the domain (no HTTP); `routes` is its HTTP edge
//! (JSON ceremony endpoints and the login pages).

pub mod ceremony;
pub mod routes;

use webauthn_rs::prelude::{Credential, Passkey, Url, WebauthnError};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::citizen::assisted_recovery::AssistedRecoveryError;
use crate::config::Config;
use crate::outage::{Dependency, Failure};
use crate::store::{CreateCitizenError, StoreError};

/// How long a started ceremony may be finished (WebAuthn's recommended
/// timeout for user verification is 5 minutes).
pub const CEREMONY_TTL: i64 = 300;

/// Why a ceremony was refused. Each maps to a clear message at the edge;
/// internal causes are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("the declared profile is invalid")]
    InvalidProfile(Vec<crate::citizen::ProfileProblem>),
    #[error("citizen identifier: {0}")]
    InvalidIdentifier(crate::citizen::IdentifierError),
    #[error("malformed recovery code")]
    InvalidRecoveryCode,
    #[error("unknown citizen, wrong or used recovery code")]
    RecoveryRefused,
    #[error("enrolment link unknown, used or expired")]
    LinkUnusable,
    #[error("too many recovery attempts against this citizen; retry in {retry_after} s")]
    TooManyAttempts { retry_after: i64 },
    #[error("malformed credential: {0}")]
    InvalidCredential(&'static str),
    #[error("no such ceremony: expired, already used or never started")]
    CeremonyExpired,
    #[error("ceremony started by another browser session")]
    WrongSession,
    #[error("the credential is not registered")]
    UnknownCredential,
    #[error("sign counter went backwards: possibly cloned authenticator")]
    CounterRegression,
    #[error("the credential is registered already")]
    CredentialTaken,
    #[error("verification failed: {0:?}")]
    Verification(WebauthnError),
    #[error("WebAuthn configuration: {0:?}")]
    Config(WebauthnError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Cache(#[from] crate::cache::CacheError),
    #[error("{0}")]
    Ending(#[from] crate::endings::EndingError),
    #[error("internal: {0}")]
    Internal(String),
}

impl Failure for PasskeyError {
    fn unavailable(&self) -> Option<Dependency> {
        match self {
            Self::Store(e) => e.unavailable(),
            Self::Cache(e) => e.unavailable(),
            Self::Ending(e) => e.unavailable(),
            _ => None,
        }
    }
}

impl From<CreateCitizenError> for PasskeyError {
    fn from(e: CreateCitizenError) -> Self {
        match e {
            CreateCitizenError::CredentialTaken => Self::CredentialTaken,
            CreateCitizenError::IdentifierTaken => Self::Internal("citizen identifier collision".into()),
            CreateCitizenError::Store(e) => Self::Store(e),
        }
    }
}

impl From<AssistedRecoveryError> for PasskeyError {
    fn from(e: AssistedRecoveryError) -> Self {
        use AssistedRecoveryError as E;
        match e {
            E::LinkUnusable | E::UnknownCitizen => Self::LinkUnusable,
            E::CredentialTaken => Self::CredentialTaken,
            E::Store(e) => Self::Store(e),
            E::Cache(e) => Self::Cache(e),
            // The counter's refusals: never raised by the ceremony's side.
            other => Self::Internal(other.to_string()),
        }
    }
}

/// The relying party: RP ID = the issuer's host, origin = the issuer's
/// origin (never the request's `Host`).
pub fn relying_party(config: &Config) -> Result<Webauthn, PasskeyError> {
    let origin = Url::parse(&config.issuer).map_err(|_| PasskeyError::Config(WebauthnError::Configuration))?;
    WebauthnBuilder::new(config.issuer_host(), &origin)
        .and_then(|b| b.rp_name("Sésame").build())
        .map_err(PasskeyError::Config)
}

/// RFC 8176 methods of a passkey login: `swk` for a backup-eligible
/// (syncable) credential, else `hwk`; `user` and `mfa` when the user was
/// verified (possession + biometric/PIN).
pub fn amr(backup_eligible: bool, user_verified: bool) -> Vec<String> {
    let mut methods = vec![if backup_eligible { "swk" } else { "hwk" }.to_owned()];
    if user_verified {
        methods.push("user".to_owned());
        methods.push("mfa".to_owned());
    }
    methods
}

/// Counter and backup flags of a registered passkey, through webauthn-rs's
/// `Credential` (the `danger-credential-internals` feature).
pub(crate) fn passkey_facts(passkey: &Passkey) -> (i64, bool, bool) {
    let credential = Credential::from(passkey.clone());
    (i64::from(credential.counter), credential.backup_eligible, credential.backup_state)
}

#[cfg(test)]
mod tests {
    use super::amr;

    #[test]
    fn amr_follows_backup_eligibility_and_user_verification() {
        assert_eq!(amr(false, true), ["hwk", "user", "mfa"]);
        assert_eq!(amr(true, true), ["swk", "user", "mfa"]);
        assert_eq!(amr(false, false), ["hwk"]);
    }
}
