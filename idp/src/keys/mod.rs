//! Signing keys: generated once, encrypted at rest with the master key, shared
//! by every replica through the database, rotated by publishing the next key
//! before it signs and keeping retired keys published until every token they
//! signed has expired.

mod jws;
mod master;

use std::sync::{Arc, Mutex, RwLock};

use base64::Engine as _;
use serde::Serialize;

pub use jws::{Alg, SigningKey, generate_pkcs8, segment, verify};
pub use master::MasterKey;

use crate::clock::{SharedClock, UnixTime};
use crate::config::Lifetimes;
use crate::store::{Db, MetaValue, StoreError, StoredKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the master key from {0} does not match the one this database was created with; \
         set SESAME_MASTER_KEY to the original key (no key was generated or changed)"
    )]
    WrongMasterKey(String),
    #[error("master key file {0}: {1}")]
    MasterKeyFile(String, String),
    #[error("cryptography failed: {0}")]
    Crypto(&'static str),
    #[error("no {0} signing key is active")]
    NoActiveKey(&'static str),
    #[error("signature does not verify")]
    BadSignature,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::outage::Failure for KeyError {
    fn unavailable(&self) -> Option<crate::outage::Dependency> {
        match self {
            Self::Store(e) => e.unavailable(),
            _ => None,
        }
    }
}

/// Where RSA private keys come from. RSA-3072 generation takes seconds, so
/// tests hand in pre-generated keys.
pub trait RsaKeySource: Send + Sync {
    fn generate(&self) -> Result<Vec<u8>, KeyError>;
}

/// Generates a fresh RSA-3072 key (RGS minimum) with the OS random source.
#[derive(Debug, Default, Clone, Copy)]
pub struct GenerateRsa;

impl RsaKeySource for GenerateRsa {
    fn generate(&self) -> Result<Vec<u8>, KeyError> {
        use rsa::pkcs8::EncodePrivateKey as _;
        let key =
            rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 3072).map_err(|_| KeyError::Crypto("RSA generation"))?;
        let der = key.to_pkcs8_der().map_err(|_| KeyError::Crypto("RSA PKCS#8"))?;
        Ok(der.as_bytes().to_vec())
    }
}

/// Lifecycle of a key at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// Signing.
    Active,
    /// Replaced; published until the tokens it signed have expired.
    Retiring,
    /// No longer published; purged at the next rotation.
    Retired,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: &'static str,
    pub state: KeyState,
    pub created_at: UnixTime,
    pub activates_at: UnixTime,
    pub retires_at: Option<UnixTime>,
}

struct LoadedKey {
    key: SigningKey,
    created_at: UnixTime,
    activates_at: UnixTime,
    retires_at: Option<UnixTime>,
    public_jwk: serde_json::Value,
}

impl LoadedKey {
    fn published(&self, now: UnixTime) -> bool {
        self.retires_at.is_none_or(|r| r > now)
    }
}

/// The keys in memory, as of the last load.
struct KeySet {
    keys: Vec<LoadedKey>,
}

impl KeySet {
    /// The newest key of `alg` that has started signing and is still published.
    /// On equal activation times the replacement (not scheduled to retire) wins.
    fn signer(&self, alg: Alg, now: UnixTime) -> Option<&LoadedKey> {
        self.keys
            .iter()
            .filter(|k| k.key.alg == alg && k.activates_at <= now && k.published(now))
            .max_by_key(|k| (k.activates_at, k.retires_at.is_none(), k.created_at))
    }

    fn state(&self, key: &LoadedKey, now: UnixTime) -> KeyState {
        if !key.published(now) {
            KeyState::Retired
        } else if key.activates_at > now {
            KeyState::Next
        } else if self.signer(key.key.alg, now).is_some_and(|s| s.key.kid == key.key.kid) {
            KeyState::Active
        } else {
            KeyState::Retiring
        }
    }
}

/// The JWKS document, rendered once per set of published keys.
struct JwksCache {
    kids: Vec<String>,
    body: Arc<str>,
}

pub struct Keyring {
    db: Db,
    master: MasterKey,
    subject_key: ring::hmac::Key,
    evidence_key: ring::hmac::Key,
    known_browser_key: ring::hmac::Key,
    clock: SharedClock,
    lifetimes: Lifetimes,
    set: RwLock<Arc<KeySet>>,
    jwks: Mutex<Option<JwksCache>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("master", &self.master).finish_non_exhaustive()
    }
}

impl Keyring {
    /// Checks the master key against the database, creates the first keys if
    /// there are none, and loads them. A wrong master key stops here, before
    /// anything is written.
    pub async fn open(
        db: Db,
        master: MasterKey,
        clock: SharedClock,
        lifetimes: Lifetimes,
        rsa: &dyn RsaKeySource,
    ) -> Result<Self, KeyError> {
        match db.meta(MetaValue::MasterKeyCheck).await? {
            Some(check) => master.verify_check_value(&check)?,
            None => {
                let in_force = db.init_meta(MetaValue::MasterKeyCheck, &master.check_value()?).await?;
                master.verify_check_value(&in_force)?;
            }
        }
        let keyring = Keyring {
            db,
            subject_key: master.derive("sesame pairwise subject v1"),
            evidence_key: master.derive("sesame identity evidence v1"),
            known_browser_key: master.derive("sesame known browser v1"),
            master,
            clock,
            lifetimes,
            set: RwLock::new(Arc::new(KeySet { keys: Vec::new() })),
            jwks: Mutex::new(None),
        };
        keyring.reload().await?;
        let now = keyring.clock.now();
        let missing: Vec<Alg> =
            Alg::ALL.into_iter().filter(|alg| keyring.current().signer(*alg, now).is_none()).collect();
        if !missing.is_empty() {
            let keys = keyring.new_keys(&missing, now, now, rsa)?;
            if !keyring.db.add_initial_signing_keys(&keys).await? {
                // Another replica wrote the first keys; ours were only for
                // algorithms it lacked, which a rotation provides.
                tracing::info!("signing keys were created by another instance");
            }
            keyring.reload().await?;
        }
        Ok(keyring)
    }

    fn current(&self) -> Arc<KeySet> {
        match self.set.read() {
            Ok(set) => Arc::clone(&set),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-reads keys from the database (other replicas may have rotated).
    pub async fn reload(&self) -> Result<(), KeyError> {
        let stored = self.db.signing_keys().await?;
        let mut keys = Vec::with_capacity(stored.len());
        for row in stored {
            let Some(alg) = Alg::parse(&row.alg) else {
                return Err(StoreError::Corrupt(format!("signing key {} has unknown alg {}", row.kid, row.alg)).into());
            };
            let pkcs8 = self.master.open(row.kid.as_bytes(), &row.private_key)?;
            let key = SigningKey::from_pkcs8(alg, &pkcs8)?;
            if key.kid != row.kid {
                return Err(StoreError::Corrupt(format!("signing key {} does not match its kid", row.kid)).into());
            }
            keys.push(LoadedKey {
                public_jwk: key.public_jwk(),
                key,
                created_at: row.created_at,
                activates_at: row.activates_at,
                retires_at: row.retires_at,
            });
        }
        let set = Arc::new(KeySet { keys });
        match self.set.write() {
            Ok(mut guard) => *guard = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        Ok(())
    }

    fn new_keys(
        &self,
        algs: &[Alg],
        now: UnixTime,
        activates_at: UnixTime,
        rsa: &dyn RsaKeySource,
    ) -> Result<Vec<StoredKey>, KeyError> {
        algs.iter()
            .map(|&alg| {
                let pkcs8 = if alg.is_rsa() { rsa.generate()? } else { generate_pkcs8(alg)? };
                let key = SigningKey::from_pkcs8(alg, &pkcs8)?;
                Ok(StoredKey {
                    private_key: self.master.seal(key.kid.as_bytes(), &pkcs8)?,
                    public_jwk: key.public_jwk().to_string(),
                    kid: key.kid,
                    alg: alg.as_str().to_owned(),
                    created_at: now,
                    activates_at,
                    retires_at: None,
                })
            })
            .collect()
    }

    /// Adds a next key for each of `algs`, published now and signing after
    /// `publish_before_use` seconds; the keys it replaces stay published
    /// until the longest-lived token they may sign has expired. Keys retired
    /// for good are purged. Returns the new kids.
    pub async fn rotate(
        &self,
        algs: &[Alg],
        publish_before_use: i64,
        rsa: &dyn RsaKeySource,
    ) -> Result<Vec<String>, KeyError> {
        let now = self.clock.now();
        let activates_at = now + publish_before_use.max(0);
        let keys = self.new_keys(algs, now, activates_at, rsa)?;
        let retires_at = activates_at + self.lifetimes.longest_signed_token();
        let retire: Vec<(String, UnixTime)> = self
            .current()
            .keys
            .iter()
            .filter(|k| algs.contains(&k.key.alg) && k.retires_at.is_none())
            .map(|k| (k.key.kid.clone(), retires_at))
            .collect();
        self.db.add_signing_keys(&keys, &retire, now).await?;
        self.reload().await?;
        Ok(keys.into_iter().map(|k| k.kid).collect())
    }

    /// The pairwise subject of a citizen in a sector (OIDC Core §8.1): a keyed
    /// hash of the internal id, never of civil-status data, so corrections do
    /// not change it; unlinkable across sectors without the key.
    pub fn pairwise_subject(&self, sector: &str, citizen_id: &str) -> String {
        let mut input = Vec::with_capacity(sector.len() + citizen_id.len() + 1);
        input.extend_from_slice(sector.as_bytes());
        input.push(0);
        input.extend_from_slice(citizen_id.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::hmac::sign(&self.subject_key, &input))
    }

    /// A keyed hash of identity evidence (a document's type, issuer and
    /// number): equal evidence gives equal digests, so a document presented
    /// for a second account is recognised, yet the number itself is never
    /// stored and cannot be recovered without the master key.
    pub fn evidence_digest(&self, parts: &[&str]) -> String {
        let mut input = Vec::new();
        for part in parts {
            input.extend_from_slice(part.as_bytes());
            input.push(0);
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::hmac::sign(&self.evidence_key, &input))
    }

    /// The mark a browser keeps after signing in as the citizen with this
    /// (canonical) identifier: only the provider can make it, and it names
    /// the citizen to no one else.
    pub fn known_browser_mark(&self, identifier: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(ring::hmac::sign(&self.known_browser_key, identifier.as_bytes()))
    }

    /// Whether `marks` (as the browser keeps them) hold this identifier's mark.
    pub fn is_known_browser(&self, marks: &[&str], identifier: &str) -> bool {
        let ours = self.known_browser_mark(identifier);
        marks.iter().any(|mark| bool::from(subtle::ConstantTimeEq::ct_eq(mark.as_bytes(), ours.as_bytes())))
    }

    /// Signs `claims` as a JWT of type `typ` with the active key for `alg`.
    pub fn sign(&self, alg: Alg, typ: &str, claims: &impl Serialize) -> Result<String, KeyError> {
        let set = self.current();
        let key = set.signer(alg, self.clock.now()).ok_or(KeyError::NoActiveKey(alg.as_str()))?;
        key.key.sign_jwt(typ, claims)
    }

    /// The kid that signs for `alg` now.
    pub fn active_kid(&self, alg: Alg) -> Option<String> {
        self.current().signer(alg, self.clock.now()).map(|k| k.key.kid.clone())
    }

    /// The public JWK published under `kid`, if it is published now.
    pub fn published_jwk(&self, kid: &str) -> Option<serde_json::Value> {
        let now = self.clock.now();
        self.current().keys.iter().find(|k| k.key.kid == kid && k.published(now)).map(|k| k.public_jwk.clone())
    }

    /// Verifies a token we signed, with the published key its `kid` names
    /// (expiry is the caller's business). Returns header and claims.
    pub fn verify_own(&self, token: &str) -> Result<(serde_json::Value, serde_json::Value), KeyError> {
        let header = segment(token, 0).ok_or(KeyError::BadSignature)?;
        let kid = header.get("kid").and_then(|k| k.as_str()).ok_or(KeyError::BadSignature)?;
        let jwk = self.published_jwk(kid).ok_or(KeyError::BadSignature)?;
        verify(token, &jwk)
    }

    /// The JWKS document (RFC 7517 §5), rebuilt only when the published set changes.
    pub fn jwks(&self) -> Arc<str> {
        let now = self.clock.now();
        let set = self.current();
        let published: Vec<&LoadedKey> = set.keys.iter().filter(|k| k.published(now)).collect();
        let kids: Vec<String> = published.iter().map(|k| k.key.kid.clone()).collect();
        let mut cache = match self.jwks.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(cached) = cache.as_ref().filter(|c| c.kids == kids) {
            return Arc::clone(&cached.body);
        }
        let keys: Vec<&serde_json::Value> = published.iter().map(|k| &k.public_jwk).collect();
        let body: Arc<str> = serde_json::json!({ "keys": keys }).to_string().into();
        *cache = Some(JwksCache { kids, body: Arc::clone(&body) });
        body
    }

    /// Every stored key with its state now.
    pub fn list(&self) -> Vec<KeyInfo> {
        let now = self.clock.now();
        let set = self.current();
        set.keys
            .iter()
            .map(|k| KeyInfo {
                kid: k.key.kid.clone(),
                alg: k.key.alg.as_str(),
                state: set.state(k, now),
                created_at: k.created_at,
                activates_at: k.activates_at,
                retires_at: k.retires_at,
            })
            .collect()
    }
}

/// A SHA-256 digest, base64url: how secrets and tokens are stored and compared.
pub fn sha256_b64(input: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, input))
}
