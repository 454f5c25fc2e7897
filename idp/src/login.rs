//! The contract between login (passkey ceremonies) and the protocol
//! (`/authorize`): what a signed-in browser session holds.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::clock::UnixTime;
use crate::outage::{Dependency, Failure};
use crate::store::{Db, StoreError};

/// Session key under which [`AuthSession`] is stored.
const AUTH_KEY: &str = "auth";
/// Session key of the last passkey confirmation ([`AuthSession::confirmed`]).
const CONFIRMED_KEY: &str = "confirmed";
/// How long a user-verified passkey assertion lets sensitive account
/// changes through (ASVS V3.7.1): adding or removing a passkey, deleting
/// the account, withdrawing a service, renewing recovery codes.
pub const FRESH_FOR: UnixTime = 5 * 60;

/// A passkey assertion made by the signed-in citizen during login `sid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Confirmed {
    sid: String,
    at: UnixTime,
}

/// Who is signed in on this browser, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSession {
    /// Internal citizen id (UUID), never shown to services.
    pub citizen_id: String,
    /// When the citizen last performed a ceremony (OIDC `auth_time`).
    pub auth_time: UnixTime,
    /// Assurance of this session: the lower of identity and authenticator levels.
    pub acr: String,
    /// RFC 8176 methods: `hwk` or `swk`, `user`, `mfa`.
    pub amr: Vec<String>,
    /// Session id shared with services (OIDC `sid`), random, stable for this login.
    pub sid: String,
    /// Absolute end of this login, whatever the activity.
    pub expires_at: UnixTime,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session store: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl Failure for SessionError {
    fn unavailable(&self) -> Option<Dependency> {
        match self {
            Self::Session(e) => e.unavailable(),
            Self::Store(e) => e.unavailable(),
        }
    }
}

impl AuthSession {
    /// The signed-in citizen, if any: not past the absolute lifetime, and
    /// the login (`sid`) not ended — from this browser or another (the
    /// account page's "sign out other sessions", recovery).
    pub async fn current(session: &Session, db: &Db, now: UnixTime) -> Result<Option<Self>, SessionError> {
        let auth: Option<AuthSession> = session.get(AUTH_KEY).await?;
        let Some(auth) = auth.filter(|a| a.expires_at > now) else { return Ok(None) };
        if db.login_session_active(&auth.sid, &auth.citizen_id, now).await? { Ok(Some(auth)) } else { Ok(None) }
    }

    /// Records a login: renews the session id first (no fixation). The
    /// caller has stored the login (`Db::insert_login_session`) under `sid`.
    pub async fn establish(self, session: &Session) -> Result<(), SessionError> {
        session.cycle_id().await?;
        session.insert(AUTH_KEY, self).await?;
        Ok(())
    }

    /// Whether a user-verified passkey assertion of this login is recent
    /// enough for a sensitive change: the sign-in itself, or a later
    /// confirmation.
    pub async fn is_fresh(&self, session: &Session, now: UnixTime) -> Result<bool, SessionError> {
        if now - self.auth_time <= FRESH_FOR {
            return Ok(true);
        }
        let confirmed: Option<Confirmed> = session.get(CONFIRMED_KEY).await?;
        Ok(confirmed.is_some_and(|c| c.sid == self.sid && now - c.at <= FRESH_FOR))
    }

    /// Records a confirmation (a user-verified assertion by this citizen).
    pub async fn confirmed(&self, session: &Session, now: UnixTime) -> Result<(), SessionError> {
        session.insert(CONFIRMED_KEY, Confirmed { sid: self.sid.clone(), at: now }).await?;
        Ok(())
    }

    /// Clears this browser's session. The login itself is ended by
    /// `endings::login_ended`, which every sign-out calls first.
    pub async fn end(session: &Session) -> Result<(), SessionError> {
        session.flush().await?;
        Ok(())
    }
}

/// A `next` parameter is only ever a path on this provider: `/…`, never
/// `//host` or `/\host` (which browsers treat as another origin).
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_a_local_path_only() {
        assert_eq!(safe_next("/authorize/continue/abc"), Some("/authorize/continue/abc"));
        assert_eq!(safe_next("/account"), Some("/account"));
        for evil in ["//evil.example", "/\\evil.example", "https://evil.example", "evil", "", "/a\nb", "/a\\b"] {
            assert_eq!(safe_next(evil), None, "{evil:?}");
        }
    }
}
