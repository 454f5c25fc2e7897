//! One-time recovery codes: 12 Crockford base32 characters (60 random
//! bits), shown once grouped as `XXXX-XXXX-XXXX`, stored as a SHA-256
//! digest salted with the citizen's id (high-entropy random values need no
//! password hash; the salt stops one guess from testing every citizen).

use ring::rand::SecureRandom;

use crate::keys::sha256_b64;

/// How many codes a citizen receives at sign-up.
pub const CODES_PER_CITIZEN: usize = 8;
const CODE_LEN: usize = 12;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A recovery code in canonical form (12 characters, uppercase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryCodeError {
    #[error("a recovery code has 12 characters from 0-9 and A-Z (no I, L, O, U)")]
    Malformed,
    #[error("no secure randomness")]
    RandomnessUnavailable,
}

impl RecoveryCode {
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self, RecoveryCodeError> {
        let mut bytes = [0u8; 8];
        rng.fill(&mut bytes).map_err(|_| RecoveryCodeError::RandomnessUnavailable)?;
        let bits = u64::from_be_bytes(bytes);
        let code = (0..CODE_LEN).map(|i| char::from(ALPHABET[((bits >> (5 * i)) & 0x1f) as usize])).collect();
        Ok(Self(code))
    }

    /// `count` fresh codes.
    pub fn generate_set(rng: &dyn SecureRandom, count: usize) -> Result<Vec<Self>, RecoveryCodeError> {
        (0..count).map(|_| Self::generate(rng)).collect()
    }

    /// Reads a code as typed: case, spaces and dashes do not matter; `O`
    /// reads as `0`, `I` and `L` as `1`.
    pub fn parse(input: &str) -> Result<Self, RecoveryCodeError> {
        let mut code = String::with_capacity(CODE_LEN);
        for c in input.chars().filter(|c| *c != '-' && !c.is_whitespace()) {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return Err(RecoveryCodeError::Malformed);
            }
            code.push(c);
        }
        if code.len() == CODE_LEN { Ok(Self(code)) } else { Err(RecoveryCodeError::Malformed) }
    }

    /// `XXXX-XXXX-XXXX`, for display.
    pub fn grouped(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
    }

    /// The stored form: a digest bound to the citizen.
    pub fn hash_for(&self, citizen_id: &str) -> String {
        sha256_b64(format!("sesame-recovery:{citizen_id}:{}", self.0).as_bytes())
    }
}

/// Why no new set was issued.
#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    #[error(transparent)]
    Code(#[from] RecoveryCodeError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl crate::outage::Failure for RenewError {
    fn unavailable(&self) -> Option<crate::outage::Dependency> {
        match self {
            Self::Code(_) => None,
            Self::Store(e) => e.unavailable(),
        }
    }
}

/// A new set of codes replacing the old one (used or not), with the
/// citizen's history and the security notice, in one transaction; the
/// codes to show once, or `None` if the account is gone.
pub async fn renew(
    db: &crate::store::Db,
    config: &crate::config::Config,
    citizen_id: &str,
    now: crate::clock::UnixTime,
) -> Result<Option<Vec<RecoveryCode>>, RenewError> {
    let codes = RecoveryCode::generate_set(&ring::rand::SystemRandom::new(), CODES_PER_CITIZEN)?;
    let hashes: Vec<String> = codes.iter().map(|c| c.hash_for(citizen_id)).collect();
    let notice = crate::mail::notice(db, config, citizen_id, &crate::mail::Notice::RecoveryCodesRenewed, now).await?;
    let event = crate::store::NewAuditEvent::new(
        citizen_id,
        crate::audit::AuditEvent::RecoveryCodesIssued { count: codes.len() },
        now,
    )
    .with_mail(notice);
    Ok(db.replace_recovery_codes(citizen_id, &hashes, now, &event).await?.then_some(codes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn codes_are_random_grouped_and_read_back_as_typed() {
        let rng = SystemRandom::new();
        let codes = RecoveryCode::generate_set(&rng, CODES_PER_CITIZEN).unwrap();
        assert_eq!(codes.len(), 8);
        let mut distinct: Vec<_> = codes.iter().map(|c| c.0.clone()).collect();
        distinct.dedup();
        assert_eq!(distinct.len(), 8);
        for code in &codes {
            let shown = code.grouped();
            assert_eq!(shown.len(), 14);
            assert_eq!(shown.matches('-').count(), 2);
            assert_eq!(RecoveryCode::parse(&shown).unwrap(), *code);
            assert_eq!(RecoveryCode::parse(&shown.to_lowercase().replace('-', " ")).unwrap(), *code);
        }
        assert_eq!(RecoveryCode::parse("oooo-iiii-llll").unwrap().0, "000011111111");
        for bad in ["", "ABCD-EFGH-JKM", "ABCD-EFGH-JKMNP", "ABCD-EFGH-JKMU", "ABCD-EFGH-JKM!"] {
            assert_eq!(RecoveryCode::parse(bad), Err(RecoveryCodeError::Malformed), "{bad}");
        }
    }

    #[test]
    fn hashes_depend_on_the_citizen() {
        let code = RecoveryCode::parse("ABCD-EFGH-JKMN").unwrap();
        assert_ne!(code.hash_for("a"), code.hash_for("b"));
        assert_eq!(code.hash_for("a"), code.hash_for("a"));
        assert!(!code.hash_for("a").contains("ABCD"));
    }
}
