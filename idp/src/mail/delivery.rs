//! Sending the mail outbox: whichever replica claims a due mail sends it;
//! a server that is down only delays mail (retries with the outbox backoff),
//! a refusal for good gives up at once. Bodies are blanked once finished.

use std::time::Instant;

use super::transport::{SendError, Transport};
use crate::app::AppState;
use crate::outbox;
use crate::store::StoreError;

/// Mails claimed per pass.
const BATCH: i64 = 20;
/// How long a replica holds a claimed batch: longer than sending it can take.
const LEASE: i64 = BATCH * 10 + 30;

/// One pass: claim what is due, send each, record the outcome. Returns how
/// many mails were attempted.
pub async fn deliver_due(state: &AppState, transport: &Transport, owner: &str) -> Result<usize, StoreError> {
    let now = state.clock.now();
    let lease_until = now + LEASE;
    let claimed = state.db.claim_mail(owner, now, lease_until, BATCH).await?;
    for mail in &claimed {
        if state.clock.now() >= lease_until {
            break;
        }
        let started = Instant::now();
        let outcome = transport.send(mail).await;
        let now = state.clock.now();
        let attempts = mail.attempts + 1;
        match outcome {
            Ok(()) => {
                state.db.mark_mail_delivered(&mail.mail_id, owner, now).await?;
                tracing::info!(
                    kind = %mail.kind,
                    attempts,
                    queued_seconds = now - mail.created_at,
                    send_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "mail sent"
                );
            }
            Err(e) => {
                let next = match &e {
                    SendError::Permanent(_) => None,
                    SendError::Transient(_) => outbox::next_attempt(attempts, now),
                };
                state.db.mark_mail_failed(&mail.mail_id, owner, &e.to_string(), next, now).await?;
                match next {
                    Some(_) => tracing::info!(kind = %mail.kind, error = %e, attempts, "mail will be retried"),
                    None => tracing::warn!(kind = %mail.kind, error = %e, attempts, "mail given up"),
                }
            }
        }
    }
    Ok(claimed.len())
}

/// Sends forever, every `SESAME_MAIL_DELIVERY_INTERVAL` (one task per replica).
pub async fn run(state: AppState) {
    let transport = match Transport::from_settings(&state.config.mail) {
        Ok(transport) => transport,
        Err(e) => {
            tracing::error!(error = %e, "no mail transport: this replica sends no mail");
            return;
        }
    };
    if matches!(transport, Transport::Log) && !state.config.issuer_is_loopback() {
        tracing::warn!("SESAME_SMTP_URL is not set: mail, verification codes included, goes to the log");
    }
    outbox::run_every(state.config.mail.delivery_interval, |owner| {
        let (state, transport) = (&state, &transport);
        async move {
            if let Err(e) = deliver_due(state, transport, &owner).await {
                tracing::warn!(error = %e, "mail pass failed");
            }
        }
    })
    .await;
}
