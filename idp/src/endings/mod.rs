//! When something ends — a login, a consent, a grant, an account — what
//! dies and who is told, whatever the trigger. Every ending in the provider
//! goes through one function here; docs/architecture.md ("When something
//! ends") lists them with what each revokes and notifies.
//!
//! The order inside each is what makes a crash harmless: back-channel
//! notices are queued in the durable outbox before the citizen gets an
//! answer, and a revocation is never undone by a later step failing.
//! No HTTP here: the edges turn [`EndingError`] into their own answers.

pub mod cache_keys;
pub mod notify;

use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::cache::CacheError;
use crate::keys::KeyError;
use crate::mail::{self, Notice};
use crate::oidc::grant::AccessClaims;
use crate::outage::{Dependency, Failure};
use crate::store::{EndedGrant, NewAuditEvent, StoreError};
use notify::Audience;

#[derive(Debug, thiserror::Error)]
pub enum EndingError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Cache(#[from] CacheError),
    #[error("signing a logout token: {0}")]
    Signing(#[from] KeyError),
}

impl Failure for EndingError {
    fn unavailable(&self) -> Option<Dependency> {
        match self {
            Self::Store(e) => e.unavailable(),
            Self::Cache(e) => e.unavailable(),
            Self::Signing(e) => e.unavailable(),
        }
    }
}

/// Why a login ended; the back-channel outbox records it with each notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginEnd {
    /// The citizen signed out, here or through a service (RP-initiated logout).
    SignedOut,
    /// A new sign-in in the same browser replaced it: `prompt=login`,
    /// `max_age`, a step-up, or another citizen on a shared computer.
    Replaced,
    /// Ended from another of the citizen's sessions ("sign out the others").
    EndedElsewhere,
    /// Account recovery replaced the passkeys and ended every login.
    Recovery,
}

impl LoginEnd {
    pub fn reason(self) -> &'static str {
        match self {
            Self::SignedOut => "logout",
            Self::Replaced => "replaced",
            Self::EndedElsewhere | Self::Recovery => "session_revoked",
        }
    }
}

/// A login ended: every service that received tokens in it is told
/// (back-channel, queued first), the login's grants die except offline
/// access, and the login is closed in the store so no browser holding it
/// is signed in any more. Returns the services' front-channel logout URLs,
/// for a page that can still load them. The caller clears the browser
/// session when it is the one signing out.
pub async fn login_ended(
    state: &AppState,
    citizen_id: &str,
    sid: &str,
    why: LoginEnd,
) -> Result<Vec<String>, EndingError> {
    let client_ids = state.db.clients_of_login(sid).await?;
    let client_ids: Vec<&str> = client_ids.iter().map(String::as_str).collect();
    let audience = Audience::of(state, &client_ids).await?;
    let logins: Vec<(&str, &str)> = client_ids.iter().map(|id| (*id, sid)).collect();
    audience.notify(state, why.reason(), citizen_id, &logins).await?;
    for grant_id in state.db.grants_ending_with_login(sid).await? {
        revoke_grant(state, &grant_id).await?;
    }
    state.db.revoke_login_session(sid, state.clock.now()).await?;
    tracing::info!(reason = why.reason(), "login ended");
    Ok(audience.frontchannel_urls(&state.config.issuer, sid))
}

/// A recovery (by code or at a counter) replaced the passkeys and closed
/// every login in its own transaction; now each login's services are told
/// and its grants die. The recovery stands whatever happens here: a
/// failure is logged, not returned.
pub async fn logins_ended_by_recovery(state: &AppState, citizen_id: &str, sids: &[String]) {
    for sid in sids {
        if let Err(e) = login_ended(state, citizen_id, sid, LoginEnd::Recovery).await {
            tracing::warn!(error = %e, "could not end a login after a recovery");
        }
    }
}

/// "Sign out my other sessions": each other live login of the citizen
/// ends as in [`login_ended`], expired ones are closed, and the citizen's
/// history says how many. Returns that count.
pub async fn other_logins_ended(state: &AppState, citizen_id: &str, keep_sid: &str) -> Result<u64, EndingError> {
    let now = state.clock.now();
    let live = state.db.live_logins_of(citizen_id, Some(keep_sid), now).await?;
    for sid in &live {
        login_ended(state, citizen_id, sid, LoginEnd::EndedElsewhere).await?;
    }
    let expired = state.db.revoke_other_login_sessions(citizen_id, keep_sid, now).await?;
    let count = u64::try_from(live.len()).unwrap_or(u64::MAX).saturating_add(expired);
    let event = NewAuditEvent::new(citizen_id, AuditEvent::OtherSessionsEnded { count }, now);
    state.db.append_audit_event(&event).await?;
    Ok(count)
}

/// The citizen took a service's consent back: the consent and every grant
/// of that service for the citizen end in one transaction (refresh tokens
/// dead at once), their access tokens are refused, and the service hears
/// of it for each login it was part of. False when there was nothing to end.
pub async fn consent_revoked(state: &AppState, citizen_id: &str, client_id: &str) -> Result<bool, EndingError> {
    let client = crate::clients::find(&state.db, client_id).await?;
    let revoked =
        AuditEvent::ConsentRevoked { client_id: client_id.to_owned(), client_name: client.map(|c| c.client_name) };
    let now = state.clock.now();
    let service = match &revoked {
        AuditEvent::ConsentRevoked { client_name: Some(name), .. } => name.clone(),
        _ => client_id.to_owned(),
    };
    let notice = mail::notice(&state.db, &state.config, citizen_id, &Notice::ServiceWithdrawn { service }, now).await?;
    let event = NewAuditEvent::new(citizen_id, revoked, now).with_mail(notice);
    let Some(grants) = state.db.revoke_consent(citizen_id, client_id, &event).await? else { return Ok(false) };
    refuse_access_tokens(state, &grants).await?;
    notify_grants_ended(state, citizen_id, &grants, "consent_revoked").await?;
    Ok(true)
}

/// The citizen deleted their account: every service with a live grant is
/// told first (while its `sub` can still be computed), then the personal
/// data is erased in one transaction (the identifier kept as a tombstone),
/// and every grant's access tokens are refused. The caller clears the
/// browser session.
pub async fn account_deleted(state: &AppState, citizen_id: &str) -> Result<(), EndingError> {
    delete_account(state, citizen_id).await?;
    tracing::info!(citizen_id, "account deleted");
    Ok(())
}

/// No sign-in for `SESAME_RETENTION_DORMANT_ACCOUNTS` (`crate::retention`):
/// the account ends as if its citizen deleted it. Every replica purges, so
/// one claims the account first (for 5 minutes); `false` when another had.
pub async fn account_dormant(state: &AppState, citizen_id: &str) -> Result<bool, EndingError> {
    if !state.cache.put_if_absent(&cache_keys::dormant_deletion(citizen_id), b"", 300).await? {
        return Ok(false);
    }
    delete_account(state, citizen_id).await?;
    tracing::info!(citizen_id, "dormant account deleted");
    Ok(true)
}

/// Services told first (while an entitled service's subject can still be
/// read), then everything personal erased; what the law asks a service to
/// prove stays as detached release records (`Db::delete_citizen`).
async fn delete_account(state: &AppState, citizen_id: &str) -> Result<(), EndingError> {
    let live = state.db.live_grants_of(citizen_id).await?;
    notify_grants_ended(state, citizen_id, &live, "deletion").await?;
    let now = state.clock.now();
    // Told to the verified address, which the erasure is about to forget.
    let farewell = mail::notice(&state.db, &state.config, citizen_id, &Notice::AccountDeleted, now)
        .await?
        .map(|mail| crate::store::MailRecord { citizen_id: None, ..mail });
    let grants = state.db.delete_citizen(citizen_id, now, farewell.as_ref()).await?;
    Ok(refuse_access_tokens(state, &grants).await?)
}

/// An authorization code was presented again, or by a client it was not
/// issued to (RFC 6749 §4.1.2, §10.5): what was issued from it dies. The
/// login lives on; the service finds its tokens refused.
pub async fn code_replayed(state: &AppState, grant_id: &str) -> Result<(), EndingError> {
    tracing::warn!("authorization code replayed or stolen: revoking its grant");
    revoke_grant(state, grant_id).await
}

/// A rotated refresh token was presented again (OAuth 2.0 Security BCP
/// §4.14.2): its whole family and grant die.
pub async fn refresh_token_reused(state: &AppState, grant_id: &str) -> Result<(), EndingError> {
    tracing::warn!("refresh token reused: revoking its family");
    revoke_grant(state, grant_id).await
}

/// A client revoked one of its refresh tokens (RFC 7009 §2.1): the grant
/// it carries dies with its access tokens.
pub async fn refresh_token_revoked(state: &AppState, grant_id: &str) -> Result<(), EndingError> {
    revoke_grant(state, grant_id).await
}

/// A client revoked one access token (RFC 7009 §2.1): refused from now
/// until it would have expired, by every replica.
pub async fn access_token_revoked(state: &AppState, claims: &AccessClaims) -> Result<(), EndingError> {
    let ttl = (claims.exp - state.clock.now()).max(1);
    state.cache.put(&cache_keys::revoked_access_token(&claims.jti), b"", ttl).await?;
    Ok(())
}

/// Whether an access token was revoked, alone or with its grant.
pub async fn is_revoked(state: &AppState, claims: &AccessClaims) -> Result<bool, CacheError> {
    let mut keys = vec![cache_keys::revoked_access_token(&claims.jti)];
    if let Some(gid) = &claims.gid {
        keys.push(cache_keys::revoked_grant(gid));
    }
    state.cache.any_live(&keys).await
}

/// A whole grant dies: its access tokens refused in the cache (until they
/// would expire), then the grant and its refresh tokens in the store.
async fn revoke_grant(state: &AppState, grant_id: &str) -> Result<(), EndingError> {
    refuse_grant_access_tokens(state, grant_id).await?;
    state.db.revoke_grant(grant_id, state.clock.now()).await?;
    Ok(())
}

async fn refuse_grant_access_tokens(state: &AppState, grant_id: &str) -> Result<(), CacheError> {
    let ttl = state.config.lifetimes.access_token + 60;
    state.cache.put(&cache_keys::revoked_grant(grant_id), b"", ttl).await
}

/// The access tokens of grants the store has already ended.
async fn refuse_access_tokens(state: &AppState, grants: &[EndedGrant]) -> Result<(), CacheError> {
    for grant in grants {
        refuse_grant_access_tokens(state, &grant.grant_id).await?;
    }
    Ok(())
}

/// Tells each service of these grants, once per login it received them in.
async fn notify_grants_ended(
    state: &AppState,
    citizen_id: &str,
    grants: &[EndedGrant],
    reason: &str,
) -> Result<(), EndingError> {
    let mut logins: Vec<(&str, &str)> = grants.iter().map(|g| (g.client_id.as_str(), g.sid.as_str())).collect();
    logins.sort_unstable();
    logins.dedup();
    let client_ids: Vec<&str> = logins.iter().map(|(client_id, _)| *client_id).collect();
    let audience = Audience::of(state, &client_ids).await?;
    audience.notify(state, reason, citizen_id, &logins).await?;
    Ok(())
}
