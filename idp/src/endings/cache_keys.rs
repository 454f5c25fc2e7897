//! The names under which the shared cache (Redis, or SQL without it) keeps
//! what the endings read and write: authorization codes and their replay
//! markers, pending authorization requests, revoked access tokens. Built
//! here only, so a grep for a format finds its one definition.

use crate::keys::sha256_b64;

/// An authorization code, stored under its hash until redeemed (RFC 6749 §4.1.2).
pub fn code(code: &str) -> String {
    format!("code:{}", sha256_b64(code.as_bytes()))
}

/// Outlives the code: a code presented again finds the grant to revoke.
pub fn used_code(code: &str) -> String {
    format!("used-{}", self::code(code))
}

/// An authorization request waiting for sign-in and consent.
pub fn pending_authorization(id: &str) -> String {
    format!("authz:{id}")
}

/// One access token refused until it would have expired (RFC 7009).
pub fn revoked_access_token(jti: &str) -> String {
    format!("revoked:jti:{jti}")
}

/// Every access token of a grant refused.
pub fn revoked_grant(grant_id: &str) -> String {
    format!("revoked:grant:{grant_id}")
}

/// One replica's claim on deleting a dormant account, so replicas purging
/// at once tell the services once.
pub fn dormant_deletion(citizen_id: &str) -> String {
    format!("dormant:{citizen_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_collide_across_kinds() {
        let keys = [
            code("x"),
            used_code("x"),
            pending_authorization("x"),
            revoked_access_token("x"),
            revoked_grant("x"),
            dormant_deletion("x"),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let secret = "the-code-itself";
        assert!(!code(secret).contains(secret) && !used_code(secret).contains(secret), "only its hash is a key");
    }
}
