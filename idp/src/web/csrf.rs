//! CSRF tokens: one random token per browser session, embedded in every
//! form (`csrf` field) and page (`<meta name="csrf-token">`, sent back by the
//! script in the `x-csrf-token` header), compared in constant time.

use subtle::ConstantTimeEq as _;
use tower_sessions::Session;

use crate::keys::sha256_b64;
use crate::outage::{Dependency, Failure};

const CSRF_KEY: &str = "csrf";
/// Header the page script sends the token in.
pub const HEADER: &str = "x-csrf-token";

#[derive(Debug, thiserror::Error)]
pub enum CsrfError {
    #[error("missing or invalid CSRF token")]
    Invalid,
    #[error("session store: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error("no secure randomness")]
    Random,
}

impl Failure for CsrfError {
    fn unavailable(&self) -> Option<Dependency> {
        match self {
            Self::Session(e) => e.unavailable(),
            Self::Invalid | Self::Random => None,
        }
    }
}

/// The session's token, created on first use.
pub async fn token(session: &Session) -> Result<String, CsrfError> {
    if let Some(token) = session.get::<String>(CSRF_KEY).await? {
        return Ok(token);
    }
    let token = crate::random::token::<32>().map_err(|_| CsrfError::Random)?;
    session.insert(CSRF_KEY, &token).await?;
    Ok(token)
}

/// Accepts the request only if `presented` is this session's token.
pub async fn verify(session: &Session, presented: Option<&str>) -> Result<(), CsrfError> {
    let expected: Option<String> = session.get(CSRF_KEY).await?;
    match (expected, presented) {
        (Some(expected), Some(presented)) if tokens_match(&expected, presented) => Ok(()),
        _ => Err(CsrfError::Invalid),
    }
}

/// What binds server-side ceremony state to this browser session: a digest
/// of its CSRF token (which survives the session id renewal at login).
pub async fn binding(session: &Session) -> Result<String, CsrfError> {
    Ok(sha256_b64(format!("ceremony-binding:{}", token(session).await?).as_bytes()))
}

fn tokens_match(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::tokens_match;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "ab"));
        assert!(!tokens_match("abc", ""));
        assert!(!tokens_match("", ""));
    }
}
