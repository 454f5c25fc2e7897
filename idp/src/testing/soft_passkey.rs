//! Software WebAuthn passkey authenticator for end-to-end tests: plays browser + platform
//! authenticator (ES256, discoverable, attestation "none") against a real webauthn-rs server.
//!
//! It takes the options JSON the server sends (`{"publicKey": {...}}` or the bare inner object)
//! and returns the credential JSON a browser's `navigator.credentials.create()/get()` result
//! serialises to, ready to POST back. It deliberately does NOT check the origin against the rp
//! id (a browser would), so tests can present a wrong origin and watch the server reject it.
// Included with `mod soft_passkey;` by several test binaries, not all of which use every item.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use rand_core::{OsRng, RngCore as _};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;
/// COSE algorithm identifier of ES256 (ECDSA P-256 with SHA-256).
const COSE_ES256: i64 = -7;

/// Why the soft authenticator refused an operation (as a browser would reject the promise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoftPasskeyError {
    /// A required member of the options JSON is absent or of the wrong type.
    MissingField(&'static str),
    /// A member that should hold base64url is not valid base64url.
    InvalidBase64(&'static str),
    /// `pubKeyCredParams` does not offer ES256 (-7).
    UnsupportedAlgorithm,
    /// One of `excludeCredentials` is already on this authenticator (`InvalidStateError`).
    CredentialExcluded,
    /// No credential on this authenticator matches the rp id / `allowCredentials` (`NotAllowedError`).
    NoMatchingCredential,
}

impl std::fmt::Display for SoftPasskeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingField(name) => write!(f, "options lack a valid `{name}`"),
            Self::InvalidBase64(name) => write!(f, "`{name}` is not valid base64url"),
            Self::UnsupportedAlgorithm => f.write_str("pubKeyCredParams does not offer ES256 (-7)"),
            Self::CredentialExcluded => f.write_str("an excluded credential is already registered"),
            Self::NoMatchingCredential => f.write_str("no matching credential on this authenticator"),
        }
    }
}

impl std::error::Error for SoftPasskeyError {}

/// One resident (discoverable) credential held by the authenticator.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    pub credential_id: Vec<u8>,
    pub signing_key: SigningKey,
    /// `user.id` from the creation options (webauthn-rs: the 16 bytes of the user's UUID).
    pub user_handle: Vec<u8>,
    /// Last counter value reported; the next assertion reports `sign_count + 1`.
    pub sign_count: u32,
    pub rp_id: String,
}

/// The soft authenticator. Its flag fields are public so tests can flip them between ceremonies.
#[derive(Debug, Clone)]
pub struct SoftPasskey {
    pub credentials: Vec<StoredCredential>,
    /// BE flag: the credential may be synced to other devices.
    pub backup_eligible: bool,
    /// BS flag: the credential is currently backed up / synced.
    pub backup_state: bool,
    /// UV flag: the user passed a PIN/biometric check (webauthn-rs passkeys require it).
    pub user_verified: bool,
    /// For discoverable logins (empty `allowCredentials`), use this credential instead of the
    /// most recently registered one for the rp id.
    pub preferred_credential: Option<Vec<u8>>,
}

impl Default for SoftPasskey {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftPasskey {
    /// A device-bound authenticator: UV set, BE and BS clear.
    pub fn new() -> Self {
        Self {
            credentials: Vec::new(),
            backup_eligible: false,
            backup_state: false,
            user_verified: true,
            preferred_credential: None,
        }
    }

    /// A synced passkey (like iCloud Keychain / Google Password Manager): UV, BE and BS set.
    pub fn synced() -> Self {
        Self { backup_eligible: true, backup_state: true, ..Self::new() }
    }

    /// Ids of all credentials held, in registration order.
    pub fn credential_ids(&self) -> Vec<Vec<u8>> {
        self.credentials.iter().map(|c| c.credential_id.clone()).collect()
    }

    /// Last counter value reported for `credential_id`, if held.
    pub fn sign_count(&self, credential_id: &[u8]) -> Option<u32> {
        self.find(credential_id).map(|c| c.sign_count)
    }

    /// Set the stored counter of `credential_id` (e.g. back in time, to mimic a cloned key);
    /// the next assertion reports `n + 1`. Returns false if no such credential is held.
    pub fn set_sign_count(&mut self, credential_id: &[u8], n: u32) -> bool {
        match self.credentials.iter_mut().find(|c| c.credential_id == credential_id) {
            Some(cred) => {
                cred.sign_count = n;
                true
            }
            None => false,
        }
    }

    /// Perform `navigator.credentials.create()` with the server's creation options.
    pub fn register(&mut self, options: &Value, origin: &str) -> Result<Value, SoftPasskeyError> {
        let pk = options.get("publicKey").unwrap_or(options);
        let challenge = b64_field(pk, "challenge")?;
        let rp_id = match pk.get("rp").and_then(|rp| rp.get("id")).and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => host_of(origin),
        };
        let user = pk.get("user").ok_or(SoftPasskeyError::MissingField("user"))?;
        let user_handle = b64_field(user, "id")?;
        let params = pk
            .get("pubKeyCredParams")
            .and_then(Value::as_array)
            .ok_or(SoftPasskeyError::MissingField("pubKeyCredParams"))?;
        if !params.iter().any(|p| p.get("alg").and_then(Value::as_i64) == Some(COSE_ES256)) {
            return Err(SoftPasskeyError::UnsupportedAlgorithm);
        }
        for excluded in descriptor_ids(pk, "excludeCredentials")? {
            if self.credentials.iter().any(|c| c.rp_id == rp_id && c.credential_id == excluded) {
                return Err(SoftPasskeyError::CredentialExcluded);
            }
        }

        let mut credential_id = vec![0u8; 32];
        OsRng.fill_bytes(&mut credential_id);
        let signing_key = SigningKey::random(&mut OsRng);
        let point = signing_key.verifying_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(SoftPasskeyError::UnsupportedAlgorithm); // unreachable for a fresh key
        };
        // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        let mut cose_key = Vec::new();
        cbor_head(&mut cose_key, 5, 5);
        for (label, value) in [(1, 2), (3, COSE_ES256), (-1, 1)] {
            cbor_int(&mut cose_key, label);
            cbor_int(&mut cose_key, value);
        }
        cbor_int(&mut cose_key, -2);
        cbor_bytes(&mut cose_key, x);
        cbor_int(&mut cose_key, -3);
        cbor_bytes(&mut cose_key, y);

        let mut auth_data = self.authenticator_data(&rp_id, FLAG_AT, 0);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: zero, as with attestation "none"
        auth_data.extend_from_slice(&(credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&credential_id);
        auth_data.extend_from_slice(&cose_key);

        // attestationObject {"fmt": "none", "attStmt": {}, "authData": bytes}
        let mut att_obj = Vec::new();
        cbor_head(&mut att_obj, 5, 3);
        cbor_text(&mut att_obj, "fmt");
        cbor_text(&mut att_obj, "none");
        cbor_text(&mut att_obj, "attStmt");
        cbor_head(&mut att_obj, 5, 0);
        cbor_text(&mut att_obj, "authData");
        cbor_bytes(&mut att_obj, &auth_data);

        let client_data = client_data_json("webauthn.create", &challenge, origin);
        let id = URL_SAFE_NO_PAD.encode(&credential_id);
        // A resident credential for the same user on the same rp replaces the old one.
        self.credentials.retain(|c| !(c.rp_id == rp_id && c.user_handle == user_handle));
        self.credentials.push(StoredCredential { credential_id, signing_key, user_handle, sign_count: 0, rp_id });
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode(&att_obj),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
            },
            "extensions": {},
        }))
    }

    /// Perform `navigator.credentials.get()` with the server's request options. An empty
    /// `allowCredentials` means a discoverable login: any credential held for the rp id is used.
    pub fn authenticate(&mut self, options: &Value, origin: &str) -> Result<Value, SoftPasskeyError> {
        let pk = options.get("publicKey").unwrap_or(options);
        let challenge = b64_field(pk, "challenge")?;
        let rp_id = match pk.get("rpId").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => host_of(origin),
        };
        let allowed = descriptor_ids(pk, "allowCredentials")?;
        let usable = |c: &&StoredCredential| c.rp_id == rp_id;
        let chosen = if allowed.is_empty() {
            let preferred = self.preferred_credential.as_deref();
            self.credentials.iter().filter(usable).rfind(|c| preferred.is_none_or(|p| p == c.credential_id.as_slice()))
        } else {
            self.credentials.iter().filter(usable).find(|c| allowed.contains(&c.credential_id))
        };
        let index = chosen
            .and_then(|c| self.credentials.iter().position(|o| o.credential_id == c.credential_id))
            .ok_or(SoftPasskeyError::NoMatchingCredential)?;

        let sign_count = self.credentials[index].sign_count.wrapping_add(1);
        let auth_data = self.authenticator_data(&rp_id, 0, sign_count);
        let client_data = client_data_json("webauthn.get", &challenge, origin);
        let cred = &mut self.credentials[index];
        cred.sign_count = sign_count;
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = cred.signing_key.sign(&signed);
        let id = URL_SAFE_NO_PAD.encode(&cred.credential_id);
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "signature": URL_SAFE_NO_PAD.encode(signature.to_der().as_bytes()),
                "userHandle": URL_SAFE_NO_PAD.encode(&cred.user_handle),
            },
            "extensions": {},
        }))
    }

    fn find(&self, credential_id: &[u8]) -> Option<&StoredCredential> {
        self.credentials.iter().find(|c| c.credential_id == credential_id)
    }

    /// rpIdHash (32) || flags (1) || signCount (4, big-endian).
    fn authenticator_data(&self, rp_id: &str, extra_flags: u8, sign_count: u32) -> Vec<u8> {
        let mut flags = FLAG_UP | extra_flags;
        for (on, bit) in [(self.user_verified, FLAG_UV), (self.backup_eligible, FLAG_BE), (self.backup_state, FLAG_BS)]
        {
            if on {
                flags |= bit;
            }
        }
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&sign_count.to_be_bytes());
        data
    }
}

/// The exact bytes a browser would produce as clientDataJSON.
fn client_data_json(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
    json!({
        "type": kind,
        "challenge": URL_SAFE_NO_PAD.encode(challenge),
        "origin": origin,
        "crossOrigin": false,
    })
    .to_string()
    .into_bytes()
}

/// Decode a base64url (or standard base64, padded or not) string member of `obj`.
fn b64_field(obj: &Value, name: &'static str) -> Result<Vec<u8>, SoftPasskeyError> {
    let text = obj.get(name).and_then(Value::as_str).ok_or(SoftPasskeyError::MissingField(name))?;
    decode_b64(text).ok_or(SoftPasskeyError::InvalidBase64(name))
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let canonical: String = text
        .chars()
        .filter(|&ch| ch != '=')
        .map(|ch| match ch {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(canonical).ok()
}

/// The ids of an optional array of PublicKeyCredentialDescriptor (`{"type", "id"}`).
fn descriptor_ids(pk: &Value, name: &'static str) -> Result<Vec<Vec<u8>>, SoftPasskeyError> {
    match pk.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|d| b64_field(d, "id")).collect(),
        Some(_) => Err(SoftPasskeyError::MissingField(name)),
    }
}

/// Host part of an origin such as `http://localhost:8080` (the default rp id).
fn host_of(origin: &str) -> String {
    let rest = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.rsplit_once(':').map_or(authority, |(host, _)| host).to_owned()
}

/// CBOR initial byte(s) for `major` type with argument `len`.
fn cbor_head(out: &mut Vec<u8>, major: u8, len: u64) {
    let m = major << 5;
    match len {
        0..=23 => out.push(m | len as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, len as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

fn cbor_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        cbor_head(out, 0, value.unsigned_abs());
    } else {
        cbor_head(out, 1, (!value) as u64); // -1 - value, without overflow
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    cbor_head(out, 2, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_encoding_matches_rfc8949_examples() {
        let mut out = Vec::new();
        for v in [0, 23, 24, 1000, -1, -7, -1000] {
            cbor_int(&mut out, v);
        }
        assert_eq!(out, [0x00, 0x17, 0x18, 0x18, 0x19, 0x03, 0xe8, 0x20, 0x26, 0x39, 0x03, 0xe7]);
        out.clear();
        cbor_text(&mut out, "fmt");
        cbor_bytes(&mut out, &[1, 2]);
        assert_eq!(out, [0x63, b'f', b'm', b't', 0x42, 1, 2]);
    }

    #[test]
    fn base64_is_accepted_in_all_common_spellings() {
        let bytes = vec![0xfb, 0xff, 0xfe];
        for text in ["-__-", "+//+", "-__-==", "+//+="] {
            assert_eq!(decode_b64(text), Some(bytes.clone()), "{text}");
        }
        assert_eq!(host_of("http://localhost:8080/x"), "localhost");
        assert_eq!(host_of("https://id.example.com"), "id.example.com");
    }
}
