//! Retention (README "Retention"): what is no longer needed is purged, in
//! bounded batches, by the upkeep task (`server::maintain`), on the
//! injected clock. Short-lived state (`Db::purge_expired`) goes at expiry;
//! this is the rest: the logs, ended tokens and grants, settled logout
//! notices, deleted accounts' release records, and (when enabled) dormant
//! accounts.

use crate::app::AppState;
use crate::endings::{self, EndingError};

/// Rows purged in one round, per kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub audit_events: u64,
    pub admin_events: u64,
    pub refresh_tokens: u64,
    pub grants: u64,
    pub logout_deliveries: u64,
    pub release_records: u64,
    pub dormant_accounts: u64,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.audit_events
            + self.admin_events
            + self.refresh_tokens
            + self.grants
            + self.logout_deliveries
            + self.release_records
            + self.dormant_accounts
    }
}

/// One round: at most `SESAME_RETENTION_BATCH` rows (or accounts) of each
/// kind, so a backlog drains over several rounds.
pub async fn purge(state: &AppState) -> Result<Purged, EndingError> {
    let policy = state.config.retention;
    let lifetimes = state.config.lifetimes;
    let (now, limit) = (state.clock.now(), policy.batch);
    let db = &state.db;
    let mut purged = Purged::default();
    // Accounts first: a deleted account's releases become release records
    // that the purge below keeps for their own period.
    if let Some(dormant) = policy.dormant_accounts {
        for citizen_id in db.dormant_citizens(now - dormant, limit).await? {
            endings::account_dormant(state, &citizen_id).await?;
            purged.dormant_accounts += 1;
        }
    }
    purged.audit_events = db.purge_audit_events(now - policy.audit_log, limit).await?;
    purged.admin_events = db.purge_admin_events(now - policy.admin_log, limit).await?;
    purged.release_records = db.purge_release_records(now - policy.release_records, limit).await?;
    purged.logout_deliveries = db.purge_logout_deliveries(now - policy.logout_notices, limit).await?;
    purged.refresh_tokens = db.purge_refresh_tokens(now - policy.ended_tokens, limit).await?;
    // A grant without refresh tokens lives as long as its login and the
    // access tokens issued under it: count from their end.
    let grants_ended = now - policy.ended_tokens - lifetimes.session_absolute - lifetimes.access_token;
    purged.grants = db.purge_grants(grants_ended, limit).await?;
    Ok(purged)
}
