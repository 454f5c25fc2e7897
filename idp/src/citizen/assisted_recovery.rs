//! Assisted recovery at a counter (issue 13): a citizen who lost every
//! passkey and recovery code shows an identity document; the agent checks
//! it against the identity verified on record and hands over a single-use
//! enrolment link (15 minutes). With it the citizen registers a new
//! passkey: the old passkeys, recovery codes and logins end, services are
//! told, fresh recovery codes are shown once. No HTTP.

use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::cache::{Cache, CacheError};
use crate::clients::admin::AdminAction;
use crate::clock::UnixTime;
use crate::endings;
use crate::keys::{Keyring, sha256_b64};
use crate::outage::{Dependency, Failure};
use crate::random::NoRandomness;
use crate::store::{
    CreateCitizenError, Db, NewAuditEvent, NewPasskey, NewVerification, Recorded, StoreError, VerificationRecord,
};

use super::identity::{Identity, Level, identity_level};
use super::recovery::{CODES_PER_CITIZEN, RecoveryCode};
use super::verification::{self, Agent, CounterCheck, Document, DocumentIdentity, Problem, date_of, same_name};
use super::{CitizenIdentifier, IdentifierError};

/// How long an enrolment link may be used.
pub const ENROLMENT_TTL: i64 = 15 * 60;
/// Where the link leads (the token rides in the query: paths are logged).
pub const ENROLMENT_PATH: &str = "/recover/assisted";
/// `identity_verifications.kind` of an assisted recovery.
pub const KIND: &str = "recovery";

/// What the agent submits: who the citizen says they are, and the
/// document with the identity it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCheck {
    /// The citizen identifier, as typed.
    pub identifier: String,
    pub document: Document,
    pub identity: DocumentIdentity,
}

/// The link handed over at the counter (as a link or a QR code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// 256 random bits; kept server-side only as a digest.
    pub token: String,
    pub expires_at: UnixTime,
}

impl Enrolment {
    /// `{issuer}/recover/assisted?token=…`.
    pub fn link(&self, issuer: &str) -> String {
        format!("{}{ENROLMENT_PATH}?token={}", issuer.trim_end_matches('/'), self.token)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AssistedRecoveryError {
    #[error("citizen identifier: {0}")]
    InvalidIdentifier(IdentifierError),
    #[error("no citizen has this identifier")]
    UnknownCitizen,
    /// Only an identity checked before can be checked against.
    #[error("the identity on record was never verified")]
    NeverVerified,
    #[error("the form has problems: {0:?}")]
    Invalid(Vec<Problem>),
    #[error("the document shows another identity than the one verified")]
    IdentityMismatch,
    #[error("this document verified another account")]
    DocumentTaken,
    /// Unknown, used or expired enrolment link.
    #[error("no such enrolment link: unknown, used or expired")]
    LinkUnusable,
    #[error("the new passkey is registered already")]
    CredentialTaken,
    #[error("{0}")]
    NoRandomness(#[from] NoRandomness),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Cache(#[from] CacheError),
}

impl Failure for AssistedRecoveryError {
    fn unavailable(&self) -> Option<Dependency> {
        match self {
            Self::Store(e) => e.unavailable(),
            Self::Cache(e) => e.unavailable(),
            _ => None,
        }
    }
}

/// A live enrolment link, as the ceremony keeps it between start and
/// finish: the citizen it is for and the token's digest (never the token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Link {
    pub citizen_id: String,
    digest: String,
}

impl Link {
    fn key(&self) -> String {
        key_of(&self.digest)
    }
}

fn key_of(digest: &str) -> String {
    format!("assisted-recovery:{digest}")
}

/// Checks the document against the verified identity of the citizen who
/// presents it; records the check (verification row of kind `recovery`,
/// the citizen's history, the administrators' log) in one transaction;
/// then issues the enrolment link. Every refusal writes nothing.
pub async fn start(
    db: &Db,
    keys: &Keyring,
    cache: &Cache,
    agent: &Agent,
    check: &RecoveryCheck,
    now: UnixTime,
) -> Result<Enrolment, AssistedRecoveryError> {
    let identifier = CitizenIdentifier::parse(&check.identifier).map_err(AssistedRecoveryError::InvalidIdentifier)?;
    let citizen = db.citizen_by_identifier(identifier.as_str()).await?.ok_or(AssistedRecoveryError::UnknownCitizen)?;
    let identity = Identity::load(db, &citizen.id).await?.ok_or(AssistedRecoveryError::UnknownCitizen)?;
    if identity_level(&identity) != Level::Eidas2 {
        return Err(AssistedRecoveryError::NeverVerified);
    }
    let form = CounterCheck {
        citizen_id: citizen.id.clone(),
        document: check.document.clone(),
        identity: check.identity.clone(),
        correct_names: false,
    };
    verification::check(&form, &date_of(now)).map_err(AssistedRecoveryError::Invalid)?;
    if !shows_identity(&identity, &check.identity) {
        return Err(AssistedRecoveryError::IdentityMismatch);
    }
    let d = &check.document;
    let record =
        VerificationRecord { kind: KIND.into(), ..verification::counter_record(keys, agent, &citizen.id, d, now) };
    let event = AuditEvent::RecoveryAssisted {
        organisation: agent.organisation.name.clone(),
        document: d.kind.as_str().into(),
    };
    let history = NewAuditEvent::new(&citizen.id, event, now);
    let log = verification::log_entry(agent, AdminAction::IdentityRecovery, &citizen.id, d.kind, now);
    // Drawn before anything is written: no randomness, no record.
    let token = crate::random::token::<32>()?;
    // A verification that verifies nothing new: no attributes, no names.
    let new = NewVerification { record: &record, attributes: &[], names: None, history: &history, log: Some(&log) };
    match db.record_verification(&new).await? {
        Recorded::Done => {}
        Recorded::DocumentTaken => return Err(AssistedRecoveryError::DocumentTaken),
        Recorded::NoCitizen => return Err(AssistedRecoveryError::UnknownCitizen),
    }
    cache.put(&key_of(&sha256_b64(token.as_bytes())), citizen.id.as_bytes(), ENROLMENT_TTL).await?;
    Ok(Enrolment { token, expires_at: now + ENROLMENT_TTL })
}

/// Whether the document shows the identity verified on record: names as a
/// document writes them, the rest exactly.
fn shows_identity(identity: &Identity, shown: &DocumentIdentity) -> bool {
    let same = |name: &str, value: Option<&str>| identity.value(name) == value;
    let place = shown.birthplace.as_deref().filter(|p| !p.is_empty());
    identity.value("given_name").is_some_and(|v| same_name(v, &shown.given_name))
        && identity.value("family_name").is_some_and(|v| same_name(v, &shown.family_name))
        && same("birthdate", Some(&shown.birthdate))
        && same("birthcountry", Some(&shown.birthcountry))
        && same("birthplace", place)
}

/// The live, unused enrolment link this token is (the page and the
/// ceremony's start read it; only [`finish`] uses it up).
pub async fn pending(cache: &Cache, token: &str) -> Result<Option<Link>, CacheError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let digest = sha256_b64(token.as_bytes());
    let citizen_id = cache.get(&key_of(&digest)).await?.and_then(|id| String::from_utf8(id).ok());
    Ok(citizen_id.map(|citizen_id| Link { citizen_id, digest }))
}

/// Uses the link (once), then in one transaction replaces
/// every passkey by `passkey` and every recovery code by a fresh set and
/// ends every login; then each login's services are told. `events` are the
/// passkey's own history lines. Returns the new codes, to be shown once.
pub async fn finish(
    state: &AppState,
    link: &Link,
    passkey: &NewPasskey,
    events: Vec<AuditEvent>,
) -> Result<Vec<RecoveryCode>, AssistedRecoveryError> {
    let rng = ring::rand::SystemRandom::new();
    let codes = RecoveryCode::generate_set(&rng, CODES_PER_CITIZEN).map_err(|_| NoRandomness)?;
    let citizen_id = link.citizen_id.as_str();
    let taken = state.cache.take(&link.key()).await?;
    if taken.as_deref() != Some(citizen_id.as_bytes()) {
        return Err(AssistedRecoveryError::LinkUnusable);
    }
    let now = state.clock.now();
    let hashes: Vec<String> = codes.iter().map(|c| c.hash_for(citizen_id)).collect();
    let mut events: Vec<NewAuditEvent> = events
        .into_iter()
        .chain([AuditEvent::RecoveryCodesIssued { count: codes.len() }])
        .map(|event| NewAuditEvent::new(citizen_id, event, now))
        .collect();
    let notice =
        crate::mail::notice(&state.db, &state.config, citizen_id, &crate::mail::Notice::AssistedRecovery, now).await?;
    if let Some(first) = events.first_mut() {
        first.mail = notice;
    }
    let ended = state.db.live_logins_of(citizen_id, None, now).await?;
    match state.db.recover_citizen_assisted(citizen_id, passkey, &hashes, now, &events).await {
        Ok(true) => {}
        Ok(false) => return Err(AssistedRecoveryError::UnknownCitizen),
        Err(CreateCitizenError::CredentialTaken) => return Err(AssistedRecoveryError::CredentialTaken),
        Err(CreateCitizenError::IdentifierTaken) => return Err(AssistedRecoveryError::UnknownCitizen),
        Err(CreateCitizenError::Store(e)) => return Err(e.into()),
    }
    endings::logins_ended_by_recovery(state, citizen_id, &ended).await;
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AttributeRecord, CitizenRecord};

    fn identity(birthplace: Option<&str>) -> Identity {
        let attribute = |name: &str, value: &str| AttributeRecord {
            name: name.into(),
            value: value.into(),
            verified_by: Some("v".into()),
            verified_at: Some(1),
            updated_at: 1,
        };
        let mut attributes = vec![attribute("birthdate", "1990-05-00"), attribute("birthcountry", "99100")];
        attributes.extend(birthplace.map(|p| attribute("birthplace", p)));
        let citizen = CitizenRecord {
            id: "c".into(),
            identifier: "0".into(),
            given_name: "Élodie Marie".into(),
            family_name: "Dupont-Léger".into(),
            email: None,
            created_at: 0,
        };
        Identity { citizen, attributes, verifications: Vec::new() }
    }

    fn shown() -> DocumentIdentity {
        DocumentIdentity {
            given_name: "ELODIE MARIE".into(),
            family_name: "DUPONT LEGER".into(),
            birthdate: "1990-05-00".into(),
            gender: "female".into(),
            birthcountry: "99100".into(),
            birthplace: Some("75056".into()),
        }
    }

    #[test]
    fn the_document_must_show_the_verified_identity() {
        let record = identity(Some("75056"));
        assert!(shows_identity(&record, &shown()), "names as a document writes them");
        let changed: [fn(&mut DocumentIdentity); 5] = [
            |s| s.given_name = "ELODIE".into(),
            |s| s.family_name = "DUPONT".into(),
            |s| s.birthdate = "1990-05-17".into(),
            |s| s.birthcountry = "99134".into(),
            |s| s.birthplace = Some("69123".into()),
        ];
        for change in changed {
            let mut other = shown();
            change(&mut other);
            assert!(!shows_identity(&record, &other), "{other:?}");
        }
        let mut abroad = shown();
        abroad.birthplace = Some(String::new());
        assert!(shows_identity(&identity(None), &abroad), "no commune on either side");
        assert!(!shows_identity(&identity(None), &shown()));
    }

    #[test]
    fn the_link_carries_the_token_in_its_query() {
        let enrolment = Enrolment { token: "abc".into(), expires_at: 0 };
        assert_eq!(
            enrolment.link("https://sesame.example.fr/"),
            "https://sesame.example.fr/recover/assisted?token=abc"
        );
    }
}
