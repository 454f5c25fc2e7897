//! The master key: AES-256-GCM over signing keys at rest. The key id is the
//! associated data, so a ciphertext cannot be moved to another row.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::KeyError;
use crate::config::{MasterKeySource, decode_master_key};

const CHECK_AAD: &[u8] = b"sesame master key check";
const CHECK_PLAINTEXT: &[u8] = b"sesame";

pub struct MasterKey {
    key: LessSafeKey,
    /// Derives purpose-specific keys (one key per usage).
    derivation: ring::hmac::Key,
    origin: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(from {})", self.origin)
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; 32], origin: &str) -> Result<Self, KeyError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| KeyError::Crypto("AES-256-GCM key"))?;
        Ok(Self {
            key: LessSafeKey::new(key),
            derivation: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes),
            origin: origin.to_owned(),
        })
    }

    /// The configured key, or on loopback the local key file, created once
    /// (mode 0600) if absent.
    pub fn load(source: &MasterKeySource) -> Result<Self, KeyError> {
        match source {
            MasterKeySource::Given(bytes) => Self::from_bytes(bytes, "SESAME_MASTER_KEY"),
            MasterKeySource::LocalFile(path) => {
                let origin = path.display().to_string();
                let bytes = match std::fs::read_to_string(path) {
                    Ok(text) => decode_master_key(&text).map_err(|e| KeyError::MasterKeyFile(origin.clone(), e))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(path)?,
                    Err(e) => return Err(KeyError::MasterKeyFile(origin, e.to_string())),
                };
                Self::from_bytes(&bytes, &origin)
            }
        }
    }

    /// A key for one purpose, derived from the master key (HMAC-SHA-256 of
    /// the label): stable as long as the master key is.
    pub fn derive(&self, label: &str) -> ring::hmac::Key {
        let derived = ring::hmac::sign(&self.derivation, label.as_bytes());
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref())
    }

    /// Where the key came from, for error messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        let nonce: [u8; NONCE_LEN] = crate::random::bytes().map_err(|_| KeyError::Crypto("random nonce"))?;
        let mut out = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut out)
            .map_err(|_| KeyError::Crypto("seal"))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&out);
        Ok(sealed)
    }

    /// Fails when the ciphertext was made with another key, was altered, or
    /// belongs to another `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < NONCE_LEN {
            return Err(KeyError::WrongMasterKey(self.origin.clone()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::Crypto("nonce"))?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buffer)
            .map_err(|_| KeyError::WrongMasterKey(self.origin.clone()))?;
        Ok(plaintext.to_vec())
    }

    pub fn check_value(&self) -> Result<String, KeyError> {
        Ok(base64::engine::general_purpose::STANDARD.encode(self.seal(CHECK_AAD, CHECK_PLAINTEXT)?))
    }

    pub fn verify_check_value(&self, value: &str) -> Result<(), KeyError> {
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| KeyError::WrongMasterKey(self.origin.clone()))?;
        match self.open(CHECK_AAD, &sealed)? {
            plain if plain == CHECK_PLAINTEXT => Ok(()),
            _ => Err(KeyError::WrongMasterKey(self.origin.clone())),
        }
    }
}

fn create_key_file(path: &Path) -> Result<[u8; 32], KeyError> {
    let origin = path.display().to_string();
    let bytes: [u8; 32] = crate::random::bytes().map_err(|_| KeyError::Crypto("random master key"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| KeyError::MasterKeyFile(origin.clone(), e.to_string()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| KeyError::MasterKeyFile(origin.clone(), e.to_string()))?;
    file.write_all(base64::engine::general_purpose::STANDARD.encode(bytes).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| KeyError::MasterKeyFile(origin, e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_refusals() {
        let key = MasterKey::from_bytes(&[7; 32], "test").unwrap();
        let sealed = key.seal(b"kid-1", b"secret").unwrap();
        assert_eq!(key.open(b"kid-1", &sealed).unwrap(), b"secret");
        assert!(matches!(key.open(b"kid-2", &sealed), Err(KeyError::WrongMasterKey(_))));
        let other = MasterKey::from_bytes(&[8; 32], "other").unwrap();
        assert!(matches!(other.open(b"kid-1", &sealed), Err(KeyError::WrongMasterKey(_))));
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(key.open(b"kid-1", &tampered).is_err());
        assert!(key.open(b"kid-1", b"short").is_err());
    }

    #[test]
    fn check_value_tells_keys_apart() {
        let key = MasterKey::from_bytes(&[1; 32], "a").unwrap();
        let check = key.check_value().unwrap();
        key.verify_check_value(&check).unwrap();
        let other = MasterKey::from_bytes(&[2; 32], "b").unwrap();
        assert!(other.verify_check_value(&check).is_err());
        assert!(key.verify_check_value("not base64!").is_err());
    }

    #[test]
    fn local_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/master.key");
        let source = MasterKeySource::LocalFile(path.clone());
        let first = MasterKey::load(&source).unwrap();
        let check = first.check_value().unwrap();
        let again = MasterKey::load(&source).unwrap();
        again.verify_check_value(&check).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(MasterKey::load(&source), Err(KeyError::MasterKeyFile(..))));
    }
}
