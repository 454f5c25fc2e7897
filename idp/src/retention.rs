//! Retention (README "Retention"): what is no longer needed is purged, in
//! bounded batches, by the upkeep task (`server::maintain`), on the
//! injected clock. Short-lived state (`Db::purge_expired`) goes at expiry;
//! this is the rest: the logs, ended tokens and grants, settled logout
//! notices, deleted accounts' release records, and (when enabled) dormant
//! accounts.

use crate::app::AppState;
use crate::config::{Parser, parse_duration};
use crate::endings::{self, EndingError};

/// How long what is no longer needed is kept, seconds (`SESAME_RETENTION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub audit_log: i64,
    pub admin_log: i64,
    /// After a refresh token or grant expired or was revoked.
    pub ended_tokens: i64,
    /// After a logout notice was delivered or given up.
    pub logout_notices: i64,
    /// The detached release records of deleted accounts.
    pub release_records: i64,
    /// No sign-in for this long deletes the account; `None`: never.
    pub dormant_accounts: Option<i64>,
    /// Rows of each kind per upkeep round.
    pub batch: u32,
}

/// Reads and checks the policy with the rest of the configuration.
impl Parser<'_> {
    /// Security logs are kept 6 months to a year (CNIL): shorter would leave
    /// no trail of an incident found late, so the logs' floor is 180 days.
    pub(crate) fn retention(&mut self) -> Option<Policy> {
        const DAY: i64 = 86_400;
        let at_least = |floor_days: i64| {
            move |v: &str| match parse_duration(v)? {
                s if s < floor_days * DAY => Err(format!("must be at least {floor_days}d")),
                s => Ok(s),
            }
        };
        let audit_log = self.parse("RETENTION_AUDIT_LOG", "365d", at_least(180));
        let admin_log = self.parse("RETENTION_ADMIN_LOG", "365d", at_least(180));
        let ended_tokens = self.parse("RETENTION_ENDED_TOKENS", "7d", parse_duration);
        let logout_notices = self.parse("RETENTION_LOGOUT_NOTICES", "30d", parse_duration);
        let release_records = self.parse("RETENTION_RELEASE_RECORDS", "365d", parse_duration);
        let dormant_accounts = self.parse("RETENTION_DORMANT_ACCOUNTS", "off", |v| match v {
            "off" => Ok(None),
            v => at_least(365)(v).map(Some),
        });
        let batch = self.parse("RETENTION_BATCH", "1000", |v| match v.parse::<u32>() {
            Ok(n @ 1..=100_000) => Ok(n),
            _ => Err("must be a whole number from 1 to 100000".into()),
        });
        Some(Policy {
            audit_log: audit_log?,
            admin_log: admin_log?,
            ended_tokens: ended_tokens?,
            logout_notices: logout_notices?,
            release_records: release_records?,
            dormant_accounts: dormant_accounts?,
            batch: batch?,
        })
    }
}

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
            if endings::account_dormant(state, &citizen_id).await? {
                purged.dormant_accounts += 1;
            }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::config::Config;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).chain([("HOME".into(), "/home/citizen".into())]).collect()
    }

    #[test]
    fn retention_has_documented_defaults_and_floors() {
        let r = Config::from_env(&env(&[])).unwrap().retention;
        let day = 86_400;
        assert_eq!((r.audit_log, r.admin_log, r.release_records), (365 * day, 365 * day, 365 * day));
        assert_eq!((r.ended_tokens, r.logout_notices, r.dormant_accounts, r.batch), (7 * day, 30 * day, None, 1000));

        let r =
            Config::from_env(&env(&[("SESAME_RETENTION_DORMANT_ACCOUNTS", "1095d"), ("SESAME_RETENTION_BATCH", "50")]))
                .unwrap()
                .retention;
        assert_eq!((r.dormant_accounts, r.batch), (Some(1095 * day), 50));

        let err = Config::from_env(&env(&[
            ("SESAME_RETENTION_AUDIT_LOG", "30d"),
            ("SESAME_RETENTION_ADMIN_LOG", "0"),
            ("SESAME_RETENTION_DORMANT_ACCOUNTS", "90d"),
            ("SESAME_RETENTION_BATCH", "0"),
            ("SESAME_RETENTION_ENDED_TOKENS", "soon"),
        ]))
        .unwrap_err();
        assert_eq!(err.problems.len(), 5, "{err}");
        assert!(err.to_string().contains("SESAME_RETENTION_AUDIT_LOG: must be at least 180d"), "{err}");
    }
}
