//! Fresh randomness, in the few shapes the provider hands out: secrets and
//! tokens (base64url of random bytes) and opaque identifiers.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom as _, SystemRandom};

/// The operating system gave no secure randomness: nothing may be issued.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("no secure randomness available")]
pub struct NoRandomness;

/// `N` random bytes (keys, nonces).
pub fn bytes<const N: usize>() -> Result<[u8; N], NoRandomness> {
    let mut bytes = [0u8; N];
    SystemRandom::new().fill(&mut bytes).map_err(|_| NoRandomness)?;
    Ok(bytes)
}

/// A secret or token of `N` random bytes, base64url without padding:
/// 32 bytes for anything that authorises (codes, secrets, refresh tokens).
pub fn token<const N: usize>() -> Result<String, NoRandomness> {
    Ok(URL_SAFE_NO_PAD.encode(bytes::<N>()?))
}

/// An opaque identifier that proves nothing (client ids, grant, family and
/// event ids, `jti`): a random UUID as 32 hex digits, which a command line
/// never mistakes for an option (a base64url one may begin with `-`).
pub fn id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_and_ids_keep_their_lengths_and_alphabets() {
        let token = super::token::<32>().unwrap();
        assert_eq!(token.len(), 43);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(super::token::<16>().unwrap().len(), 22);
        let id = super::id();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(super::id(), id);
    }
}
