//! Fixed-window counters for rate limits: shared through Redis (`INCR` +
//! `EXPIRE` in one transaction) so every replica counts against one budget,
//! or in-process for a single instance without Redis. The window is chosen by
//! the injected clock, so tests move time instead of sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Backend, Cache, CacheError};
use crate::clock::UnixTime;

/// Past this many live keys, the in-process map drops finished windows.
const LOCAL_PRUNE_AT: usize = 10_000;

/// In-process counters: key → (window start, count).
pub(super) type LocalCounters = Arc<Mutex<HashMap<String, (UnixTime, u64)>>>;

/// One hit counted: how many in this window so far, and when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub count: u64,
    pub resets_at: UnixTime,
}

impl Cache {
    /// Counts one hit on `key` in the current `window`-second window.
    pub async fn count_hit(&self, key: &str, window: i64) -> Result<WindowCount, CacheError> {
        let window = window.max(1);
        let now = self.now();
        let start = now - now.rem_euclid(window);
        let resets_at = start + window;
        match &self.backend {
            Backend::Redis { conn, prefix } => {
                let key = format!("{prefix}rl:{key}:{start}");
                let (count,): (u64,) = redis::pipe()
                    .atomic()
                    .incr(&key, 1)
                    // Garbage collection only: the window start is in the key.
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(window + 1)
                    .ignore()
                    .query_async(&mut conn.clone())
                    .await?;
                Ok(WindowCount { count, resets_at })
            }
            Backend::Sql(_) => {
                let mut counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if counters.len() >= LOCAL_PRUNE_AT {
                    counters.retain(|_, (started, _)| *started + window > now);
                }
                let entry = counters.entry(key.to_owned()).or_insert((start, 0));
                if entry.0 != start {
                    *entry = (start, 0);
                }
                entry.1 += 1;
                Ok(WindowCount { count: entry.1, resets_at })
            }
        }
    }
}
