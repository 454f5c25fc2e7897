//! Compact JWS (RFC 7515) with ring key pairs parsed once and held in memory.
//! We write the header ourselves so `typ` can be `at+jwt`, `logout+jwt`, …

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde::Serialize;

use super::KeyError;

/// The algorithms we sign with (RFC 7518 / RFC 8037 names). Never HS*, never `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    ES256,
    PS256,
    RS256,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 4] = [Alg::ES256, Alg::PS256, Alg::RS256, Alg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::PS256 => "PS256",
            Alg::RS256 => "RS256",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub fn parse(name: &str) -> Option<Alg> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, Alg::PS256 | Alg::RS256)
    }
}

enum KeyPair {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key ready to sign, with its public JWK.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    pair: KeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {})", self.alg.as_str(), self.kid)
    }
}

impl SigningKey {
    /// Parses a PKCS#8 document for `alg`; the kid is the RFC 7638 thumbprint.
    pub fn from_pkcs8(alg: Alg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pair = match alg {
            Alg::ES256 => KeyPair::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
                    .map_err(|_| KeyError::Crypto("P-256 key"))?,
            ),
            Alg::PS256 | Alg::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::Crypto("RSA key"))?;
                if pair.public().modulus_len() < 384 {
                    return Err(KeyError::Crypto("RSA keys must be at least 3072 bits (RGS)"));
                }
                KeyPair::Rsa(pair)
            }
            Alg::EdDSA => KeyPair::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| KeyError::Crypto("Ed25519 key"))?,
            ),
        };
        let mut key = SigningKey { kid: String::new(), alg, pair, rng };
        key.kid = thumbprint(&key.public_members());
        Ok(key)
    }

    /// The members of the public JWK that RFC 7638 hashes, in its order.
    fn public_members(&self) -> Vec<(&'static str, String)> {
        match &self.pair {
            KeyPair::Ecdsa(pair) => {
                // Uncompressed point: 0x04 || x || y.
                let point = pair.public_key().as_ref();
                let (x, y) = point.get(1..).unwrap_or_default().split_at(point.len().saturating_sub(1) / 2);
                vec![("crv", "P-256".into()), ("kty", "EC".into()), ("x", B64.encode(x)), ("y", B64.encode(y))]
            }
            KeyPair::Rsa(pair) => {
                let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                vec![("e", B64.encode(&public.e)), ("kty", "RSA".into()), ("n", B64.encode(&public.n))]
            }
            KeyPair::Ed25519(pair) => {
                vec![("crv", "Ed25519".into()), ("kty", "OKP".into()), ("x", B64.encode(pair.public_key().as_ref()))]
            }
        }
    }

    /// The public JWK as published in the JWKS.
    pub fn public_jwk(&self) -> serde_json::Value {
        let mut jwk = serde_json::Map::new();
        for (name, value) in self.public_members() {
            jwk.insert(name.into(), value.into());
        }
        jwk.insert("use".into(), "sig".into());
        jwk.insert("alg".into(), self.alg.as_str().into());
        jwk.insert("kid".into(), self.kid.clone().into());
        serde_json::Value::Object(jwk)
    }

    fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            KeyPair::Ecdsa(pair) => pair
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto("ECDSA signature")),
            KeyPair::Rsa(pair) => {
                let padding: &dyn signature::RsaEncoding = match self.alg {
                    Alg::PS256 => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut out = vec![0u8; pair.public().modulus_len()];
                pair.sign(padding, &self.rng, message, &mut out).map_err(|_| KeyError::Crypto("RSA signature"))?;
                Ok(out)
            }
            KeyPair::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// `base64url(header).base64url(claims).base64url(signature)`.
    pub fn sign_jwt(&self, typ: &str, claims: &impl Serialize) -> Result<String, KeyError> {
        let header = Header { alg: self.alg.as_str(), kid: &self.kid, typ };
        let header = serde_json::to_vec(&header).map_err(|_| KeyError::Crypto("JWS header"))?;
        let claims = serde_json::to_vec(claims).map_err(|_| KeyError::Crypto("JWT claims"))?;
        let mut token = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 400);
        B64.encode_string(&header, &mut token);
        token.push('.');
        B64.encode_string(&claims, &mut token);
        let signature = self.sign_bytes(token.as_bytes())?;
        token.push('.');
        B64.encode_string(&signature, &mut token);
        Ok(token)
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    kid: &'a str,
    typ: &'a str,
}

/// RFC 7638: SHA-256 over the required members, sorted, without whitespace.
fn thumbprint(members: &[(&'static str, String)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(name, value)| format!("{}:{}", serde_json::Value::from(*name), serde_json::Value::from(value.as_str())))
        .collect();
    let canonical = format!("{{{}}}", body.join(","));
    B64.encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()))
}

/// Creates a fresh private key in PKCS#8 for the elliptic-curve algorithms;
/// RSA keys come from an [`super::RsaKeySource`].
pub fn generate_pkcs8(alg: Alg) -> Result<Vec<u8>, KeyError> {
    let rng = SystemRandom::new();
    match alg {
        Alg::ES256 => EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| KeyError::Crypto("P-256 key generation")),
        Alg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| KeyError::Crypto("Ed25519 key generation")),
        Alg::PS256 | Alg::RS256 => Err(KeyError::Crypto("RSA keys come from an RsaKeySource")),
    }
}

/// Part `index` (0 header, 1 claims) of a compact JWS, decoded but NOT
/// verified: only to pick the key or read what a verified token says.
pub fn segment(token: &str, index: usize) -> Option<serde_json::Value> {
    let part = token.split('.').nth(index)?;
    serde_json::from_slice(&B64.decode(part).ok()?).ok()
}

/// Checks a compact JWS against a public JWK (ours or a client's) and returns
/// its decoded header and claims. Used to read our own tokens back
/// (`id_token_hint`) and by tests.
pub fn verify(token: &str, jwk: &serde_json::Value) -> Result<(serde_json::Value, serde_json::Value), KeyError> {
    let bad = KeyError::BadSignature;
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad);
    };
    let header: serde_json::Value = serde_json::from_slice(&B64.decode(h).map_err(|_| KeyError::BadSignature)?)
        .map_err(|_| KeyError::BadSignature)?;
    let alg = header.get("alg").and_then(|a| a.as_str()).and_then(Alg::parse).ok_or(KeyError::BadSignature)?;
    if jwk.get("alg").and_then(|a| a.as_str()).is_some_and(|a| a != alg.as_str()) {
        return Err(bad);
    }
    let signature_bytes = B64.decode(s).map_err(|_| KeyError::BadSignature)?;
    let member = |name: &str| -> Result<Vec<u8>, KeyError> {
        let text = jwk.get(name).and_then(|v| v.as_str()).ok_or(KeyError::BadSignature)?;
        B64.decode(text).map_err(|_| KeyError::BadSignature)
    };
    let message = &token.as_bytes()[..h.len() + 1 + p.len()];
    let result = match alg {
        Alg::ES256 => {
            let mut point = vec![4u8];
            point.extend(member("x")?);
            point.extend(member("y")?);
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, &signature_bytes)
        }
        Alg::EdDSA => {
            signature::UnparsedPublicKey::new(&signature::ED25519, member("x")?).verify(message, &signature_bytes)
        }
        Alg::PS256 | Alg::RS256 => {
            let params: &signature::RsaParameters = if alg == Alg::PS256 {
                &signature::RSA_PSS_2048_8192_SHA256
            } else {
                &signature::RSA_PKCS1_2048_8192_SHA256
            };
            let components = signature::RsaPublicKeyComponents { n: member("n")?, e: member("e")? };
            components.verify(params, message, &signature_bytes)
        }
    };
    result.map_err(|_| KeyError::BadSignature)?;
    let claims = serde_json::from_slice(&B64.decode(p).map_err(|_| KeyError::BadSignature)?)
        .map_err(|_| KeyError::BadSignature)?;
    Ok((header, claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_curve_signs_and_verifies_against_its_jwk() {
        for alg in [Alg::ES256, Alg::EdDSA] {
            let key = SigningKey::from_pkcs8(alg, &generate_pkcs8(alg).unwrap()).unwrap();
            let token = key.sign_jwt("at+jwt", &serde_json::json!({"sub": "x"})).unwrap();
            let (header, claims) = verify(&token, &key.public_jwk()).unwrap();
            assert_eq!(header["typ"], "at+jwt");
            assert_eq!(header["kid"], key.kid.as_str());
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(claims["sub"], "x");
            // A flipped payload character breaks the signature.
            let mut forged: Vec<char> = token.chars().collect();
            let dot = token.find('.').unwrap();
            forged[dot + 2] = if forged[dot + 2] == 'A' { 'B' } else { 'A' };
            let forged: String = forged.into_iter().collect();
            assert!(verify(&forged, &key.public_jwk()).is_err());
        }
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1.
        let members = vec![
            ("e", "AQAB".to_owned()),
            ("kty", "RSA".to_owned()),
            ("n", "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".to_owned()),
        ];
        assert_eq!(thumbprint(&members), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn algorithms_have_their_rfc_names() {
        for alg in Alg::ALL {
            assert_eq!(Alg::parse(alg.as_str()), Some(alg));
        }
        assert_eq!(Alg::parse("HS256"), None);
        assert_eq!(Alg::parse("none"), None);
    }

    mod properties {
        use std::sync::OnceLock;

        use proptest::prelude::*;

        use super::*;

        fn keys() -> &'static [SigningKey] {
            static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
            KEYS.get_or_init(|| {
                [Alg::ES256, Alg::EdDSA]
                    .into_iter()
                    .map(|alg| SigningKey::from_pkcs8(alg, &generate_pkcs8(alg).unwrap()).unwrap())
                    .collect()
            })
        }

        fn b64(bytes: &[u8]) -> String {
            B64.encode(bytes)
        }

        proptest! {
            #![proptest_config(crate::properties::config())]

            #[test]
            fn any_text_is_refused_without_panic(token in any::<String>(), index in 0usize..4) {
                let _ = segment(&token, index);
                for key in keys() {
                    prop_assert!(verify(&token, &key.public_jwk()).is_err());
                }
            }

            #[test]
            fn any_three_segments_are_refused_without_panic(
                header in prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..64),
                    crate::properties::json(&["alg", "kid", "typ", "crit"]).prop_map(|v| v.to_string().into_bytes()),
                    Just(br#"{"alg":"ES256"}"#.to_vec()),
                    Just(br#"{"alg":"EdDSA"}"#.to_vec()),
                ],
                payload in proptest::collection::vec(any::<u8>(), 0..64),
                signature in proptest::collection::vec(any::<u8>(), 0..96),
            ) {
                let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature));
                let _ = segment(&token, 0);
                let _ = segment(&token, 1);
                for key in keys() {
                    prop_assert!(verify(&token, &key.public_jwk()).is_err());
                }
            }

            #[test]
            fn any_key_document_is_tried_without_panic(
                jwk in crate::properties::json(&["kty", "alg", "crv", "x", "y", "n", "e", "kid"]),
                which in 0usize..2,
            ) {
                let token = keys()[which].sign_jwt("JWT", &serde_json::json!({"sub": "s"})).unwrap();
                prop_assert!(verify(&token, &jwk).is_err());
            }

            #[test]
            fn signed_claims_read_back_and_any_change_is_refused(
                claims in proptest::collection::btree_map("[a-z_]{1,8}", any::<String>(), 0..5),
                which in 0usize..2,
                position in any::<proptest::sample::Index>(),
                replacement in "[A-Za-z0-9_.-]",
            ) {
                let key = &keys()[which];
                let token = key.sign_jwt("JWT", &claims).unwrap();
                let (header, read) = verify(&token, &key.public_jwk()).unwrap();
                prop_assert_eq!(header["alg"].as_str(), Some(key.alg.as_str()));
                prop_assert_eq!(&read, &serde_json::to_value(&claims).unwrap());
                prop_assert_eq!(segment(&token, 1), Some(read.clone()));

                let mut changed: Vec<char> = token.chars().collect();
                let at = position.index(changed.len());
                let new = replacement.chars().next().unwrap();
                prop_assume!(changed[at] != new);
                changed[at] = new;
                let changed: String = changed.into_iter().collect();
                if let Ok((_, claims)) = verify(&changed, &key.public_jwk()) {
                    prop_assert_eq!(claims, read, "a change the signature accepted changed nothing");
                }
            }
        }
    }
}
