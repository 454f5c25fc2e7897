//! Counter codes: the citizen shows up, the citizen decides. An agent can
//! open a citizen's record only with a code the citizen shows from their
//! own account: short enough to read aloud, single use, valid ten minutes,
//! bound to that citizen. No browsing, no search by name. No HTTP.

use crate::cache::{Cache, CacheError};
use crate::clock::UnixTime;
use crate::keys::sha256_b64;

/// How long a shown code can be used.
pub const COUNTER_CODE_TTL: i64 = 600;
/// Crockford's base32 (no I, L, O, U): read aloud without confusion.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 8 symbols, 40 bits: guessing one live code among attempts limited per
/// agent is hopeless.
const LEN: usize = 8;

/// A code as shown to the citizen (`XXXX-XXXX`), and until when it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterCode {
    pub code: String,
    pub expires_at: UnixTime,
}

fn key(canonical: &str) -> String {
    format!("counter-code:{}", sha256_b64(canonical.as_bytes()))
}

/// The 8 symbols of a typed code (case, spaces and dashes ignored;
/// Crockford's aliases O→0, I/L→1), or `None` when it cannot be one.
pub fn canonical(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(LEN);
    for c in typed.chars().filter(|c| !c.is_whitespace() && *c != '-') {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == LEN).then_some(out)
}

#[derive(Debug, thiserror::Error)]
pub enum CounterCodeError {
    #[error(transparent)]
    NoRandomness(#[from] crate::random::NoRandomness),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl crate::outage::Failure for CounterCodeError {
    fn unavailable(&self) -> Option<crate::outage::Dependency> {
        match self {
            Self::NoRandomness(_) => None,
            Self::Cache(e) => e.unavailable(),
        }
    }
}

/// A fresh code for the citizen; an earlier one stays valid until it expires.
pub async fn issue(cache: &Cache, citizen_id: &str, now: UnixTime) -> Result<CounterCode, CounterCodeError> {
    let bytes = crate::random::bytes::<LEN>()?;
    let canonical: String = bytes.iter().map(|b| char::from(ALPHABET[usize::from(b % 32)])).collect();
    cache.put(&key(&canonical), citizen_id.as_bytes(), COUNTER_CODE_TTL).await?;
    Ok(CounterCode { code: format!("{}-{}", &canonical[..4], &canonical[4..]), expires_at: now + COUNTER_CODE_TTL })
}

/// The citizen a typed code names, taking it (used once, whoever wins a
/// race); `None` when unknown, used or expired.
pub async fn redeem(cache: &Cache, typed: &str) -> Result<Option<String>, CacheError> {
    let Some(canonical) = canonical(typed) else { return Ok(None) };
    Ok(cache.take(&key(&canonical)).await?.and_then(|id| String::from_utf8(id).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_are_forgiving_but_exact() {
        assert_eq!(canonical("k7qx-2m9p").as_deref(), Some("K7QX2M9P"));
        assert_eq!(canonical(" K7QX 2M9P ").as_deref(), Some("K7QX2M9P"));
        assert_eq!(canonical("o1lI-0000").as_deref(), Some("01110000"), "Crockford's aliases");
        assert_eq!(canonical("K7QX-2M9"), None, "too short");
        assert_eq!(canonical("K7QX-2M9PP"), None, "too long");
        assert_eq!(canonical("K7QX-2M9U"), None, "U is not in the alphabet");
        assert_eq!(canonical("K7QX-2M9É"), None);
    }
}
