//! What every durable outbox shares (back-channel logout, mail): the
//! retry schedule and the per-replica loop. Claiming with a lease is
//! `store::outbox`.

use std::future::Future;
use std::time::Duration;

use crate::random;

/// Attempts before giving up (the last one about an hour after the first).
pub const MAX_ATTEMPTS: i64 = 8;

/// Seconds before retry `attempts` (1, 2, …): 10 s, 20 s, 40 s … capped at 30 min.
pub fn backoff(attempts: i64) -> i64 {
    let exponent = u32::try_from(attempts.clamp(1, 16) - 1).unwrap_or(0);
    (10_i64 << exponent).min(1_800)
}

/// When to try again after failed attempt number `attempts`; `None`: give up.
pub fn next_attempt(attempts: i64, now: i64) -> Option<i64> {
    (attempts < MAX_ATTEMPTS).then(|| now + backoff(attempts))
}

/// Runs `pass` forever every `every_seconds` under a fresh lease-owner name
/// (one task per replica and outbox); a failed pass is logged by `pass`.
pub async fn run_every<F, Fut>(every_seconds: i64, mut pass: F)
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let owner = format!("replica-{}", random::id());
    let every = Duration::from_secs(u64::try_from(every_seconds).unwrap_or(2).max(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        pass(owner.clone()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff(1), 10);
        assert_eq!(backoff(2), 20);
        assert_eq!(backoff(3), 40);
        assert_eq!(backoff(9), 1_800);
        assert_eq!(backoff(100), 1_800);
    }

    #[test]
    fn gives_up_after_the_last_attempt() {
        assert_eq!(next_attempt(1, 100), Some(110));
        assert_eq!(next_attempt(MAX_ATTEMPTS, 100), None);
    }
}
