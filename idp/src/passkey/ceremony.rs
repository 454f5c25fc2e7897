//! The five ceremonies, start and finish, with their state kept server-side
//! (`Cache`: Redis or SQL), keyed by the challenge, bound to the browser
//! session that started it, taken exactly once, expiring after
//! [`CEREMONY_TTL`]. webauthn-rs keeps no record of used challenges: the
//! single `take` here is what stops a replay.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
    WebauthnError,
};

use super::{CEREMONY_TTL, PasskeyError, amr, passkey_facts, relying_party};
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::citizen::assisted_recovery::{self, Link};
use crate::citizen::identity::Level;
use crate::citizen::recovery::{CODES_PER_CITIZEN, RecoveryCode};
use crate::citizen::{CitizenIdentifier, Profile};
use crate::endings;
use crate::mail::{self, Notice};
use crate::store::{CitizenRecord, CreateCitizenError, NewAuditEvent, NewPasskey, PasskeyUse};

/// What was started, and by which browser session.
#[derive(Serialize, Deserialize)]
struct Pending {
    binding: String,
    step: Step,
}

#[derive(Serialize, Deserialize)]
enum Step {
    SignUp { citizen_id: Uuid, profile: Profile, state: PasskeyRegistration },
    AddPasskey { citizen_id: String, name: String, state: PasskeyRegistration },
    Recover { citizen_id: String, code_hash: String, state: PasskeyRegistration },
    AssistedRecover { link: Link, identifier: String, state: PasskeyRegistration },
    SignIn { state: DiscoverableAuthentication },
}

/// A successful ceremony that signs the citizen in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub citizen_id: String,
    pub amr: Vec<String>,
    /// The highest `acr` this login may have, whatever the identity and
    /// the authenticator prove (an assisted recovery is `eidas1`).
    pub acr_at_most: Option<Level>,
    /// The passkey used or just enrolled (credential id).
    pub passkey: Option<String>,
}

/// A completed assisted recovery: the login, and the codes shown once.
#[derive(Debug, Clone)]
pub struct AssistedRecovered {
    pub login: Login,
    pub identifier: String,
    pub recovery_codes: Vec<RecoveryCode>,
}

/// A completed sign-up: the login, and what is shown to the citizen once.
#[derive(Debug, Clone)]
pub struct SignedUp {
    pub login: Login,
    pub identifier: CitizenIdentifier,
    pub recovery_codes: Vec<RecoveryCode>,
}

fn key(challenge: &str) -> String {
    format!("ceremony:{challenge}")
}

/// Stores the state under the challenge of `options` and returns the options.
async fn remember(state: &AppState, binding: &str, options: Value, step: Step) -> Result<Value, PasskeyError> {
    let challenge = options["publicKey"]["challenge"]
        .as_str()
        .ok_or_else(|| PasskeyError::Internal("options without a challenge".into()))?
        .to_owned();
    let pending = serde_json::to_vec(&Pending { binding: binding.to_owned(), step })
        .map_err(|e| PasskeyError::Internal(e.to_string()))?;
    state.cache.put(&key(&challenge), &pending, CEREMONY_TTL).await?;
    Ok(options)
}

/// Takes (once) the state whose challenge the credential's clientDataJSON
/// names, if this browser session started it.
async fn recall(state: &AppState, binding: &str, credential: &Value) -> Result<Step, PasskeyError> {
    let client_data = credential["response"]["clientDataJSON"]
        .as_str()
        .and_then(|c| URL_SAFE_NO_PAD.decode(c.trim_end_matches('=')).ok())
        .ok_or(PasskeyError::InvalidCredential("clientDataJSON is not base64url"))?;
    let client_data: Value = serde_json::from_slice(&client_data)
        .map_err(|_| PasskeyError::InvalidCredential("clientDataJSON is not JSON"))?;
    let challenge = client_data["challenge"]
        .as_str()
        .filter(|c| !c.is_empty() && c.len() <= 128)
        .ok_or(PasskeyError::InvalidCredential("clientDataJSON has no challenge"))?;
    let raw = state.cache.take(&key(challenge)).await?.ok_or(PasskeyError::CeremonyExpired)?;
    let pending: Pending = serde_json::from_slice(&raw).map_err(|e| PasskeyError::Internal(e.to_string()))?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(pending.binding.as_bytes(), binding.as_bytes())) {
        return Err(PasskeyError::WrongSession);
    }
    Ok(pending.step)
}

/// Creation options for a discoverable, user-verified passkey: webauthn-rs
/// asks for `residentKey: discouraged`, we require it.
fn creation_options(
    state: &AppState,
    user: Uuid,
    name: &str,
    display: &str,
    exclude: Option<Vec<webauthn_rs::prelude::CredentialID>>,
) -> Result<(Value, PasskeyRegistration), PasskeyError> {
    let rp = relying_party(&state.config)?;
    let (ccr, reg) = rp.start_passkey_registration(user, name, display, exclude).map_err(PasskeyError::Verification)?;
    let mut options = serde_json::to_value(&ccr).map_err(|e| PasskeyError::Internal(e.to_string()))?;
    let selection = &mut options["publicKey"]["authenticatorSelection"];
    selection["residentKey"] = "required".into();
    selection["requireResidentKey"] = true.into();
    selection["userVerification"] = "required".into();
    options["publicKey"]["attestation"] = "none".into();
    Ok((options, reg))
}

/// The passkey a registration ceremony created, once verified.
fn registered(state: &AppState, credential: &Value, reg: &PasskeyRegistration) -> Result<Passkey, PasskeyError> {
    let credential: RegisterPublicKeyCredential = serde_json::from_value(credential.clone())
        .map_err(|_| PasskeyError::InvalidCredential("not a registration"))?;
    relying_party(&state.config)?.finish_passkey_registration(&credential, reg).map_err(verification)
}

fn verification(e: WebauthnError) -> PasskeyError {
    match e {
        WebauthnError::CredentialPossibleCompromise => PasskeyError::CounterRegression,
        other => PasskeyError::Verification(other),
    }
}

fn new_passkey(passkey: &Passkey, name: &str, now: i64) -> Result<NewPasskey, PasskeyError> {
    let (sign_count, backup_eligible, backup_state) = passkey_facts(passkey);
    Ok(NewPasskey {
        credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
        name: name.to_owned(),
        passkey_json: serde_json::to_string(passkey).map_err(|e| PasskeyError::Internal(e.to_string()))?,
        sign_count,
        backup_eligible,
        backup_state,
        created_at: now,
    })
}

fn passkey_added(stored: &NewPasskey) -> AuditEvent {
    AuditEvent::PasskeyAdded { credential_id: stored.credential_id.clone(), synced: stored.backup_eligible }
}

// --- sign-up ---------------------------------------------------------------

/// Checks the declared profile and starts the registration. Nothing is
/// stored but the ceremony state: the citizen exists only once it finishes.
pub async fn start_sign_up(state: &AppState, binding: &str, profile: Profile) -> Result<Value, PasskeyError> {
    let citizen_id = Uuid::new_v4();
    let display = profile.display_name();
    let (options, reg) = creation_options(state, citizen_id, &display, &display, None)?;
    remember(state, binding, options, Step::SignUp { citizen_id, profile, state: reg }).await
}

/// Verifies the new passkey and creates the citizen, the passkey, the
/// recovery codes and the audit events in one transaction.
/// `device` names the passkey (the browser it was created in) until renamed.
pub async fn finish_sign_up(
    state: &AppState,
    binding: &str,
    credential: &Value,
    device: &str,
) -> Result<SignedUp, PasskeyError> {
    let Step::SignUp { citizen_id, profile, state: reg } = recall(state, binding, credential).await? else {
        return Err(PasskeyError::InvalidCredential("not a sign-up"));
    };
    let passkey = registered(state, credential, &reg)?;
    let now = state.clock.now();
    let citizen_id = citizen_id.to_string();
    let stored = new_passkey(&passkey, device, now)?;
    let rng = SystemRandom::new();
    let codes =
        RecoveryCode::generate_set(&rng, CODES_PER_CITIZEN).map_err(|e| PasskeyError::Internal(e.to_string()))?;
    let hashes: Vec<String> = codes.iter().map(|c| c.hash_for(&citizen_id)).collect();
    let events = [AuditEvent::SignedUp, passkey_added(&stored), AuditEvent::RecoveryCodesIssued { count: codes.len() }]
        .map(|event| NewAuditEvent::new(&citizen_id, event, now));
    // 80 random bits: a collision is astronomically unlikely, but never reuse.
    for _ in 0..3 {
        let identifier = CitizenIdentifier::generate(&rng).map_err(|e| PasskeyError::Internal(e.to_string()))?;
        let record = CitizenRecord {
            id: citizen_id.clone(),
            identifier: identifier.as_str().to_owned(),
            given_name: profile.given_name.clone(),
            family_name: profile.family_name.clone(),
            email: profile.email.clone(),
            created_at: now,
        };
        match state.db.create_citizen(&record, &stored, &hashes, &events).await {
            Ok(()) => {
                let login = Login {
                    citizen_id,
                    amr: amr(stored.backup_eligible, true),
                    acr_at_most: None,
                    passkey: Some(stored.credential_id.clone()),
                };
                return Ok(SignedUp { login, identifier, recovery_codes: codes });
            }
            Err(CreateCitizenError::IdentifierTaken) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(PasskeyError::Internal("could not draw an unused citizen identifier".into()))
}

// --- sign-in (discoverable, usernameless) ----------------------------------

/// Starts a usernameless sign-in. The options carry no `mediation`: the
/// page asks for `conditional` (autofill) or nothing (button) itself.
pub async fn start_sign_in(state: &AppState, binding: &str) -> Result<Value, PasskeyError> {
    let (rcr, auth) =
        relying_party(&state.config)?.start_discoverable_authentication().map_err(PasskeyError::Verification)?;
    let mut options = serde_json::to_value(&rcr).map_err(|e| PasskeyError::Internal(e.to_string()))?;
    if let Some(object) = options.as_object_mut() {
        object.remove("mediation");
    }
    remember(state, binding, options, Step::SignIn { state: auth }).await
}

/// Verifies the assertion against the stored passkey it names, then stores
/// the new counter and flags (refusing a counter that went backwards).
pub async fn finish_sign_in(state: &AppState, binding: &str, credential: &Value) -> Result<Login, PasskeyError> {
    let Step::SignIn { state: auth } = recall(state, binding, credential).await? else {
        return Err(PasskeyError::InvalidCredential("not a sign-in"));
    };
    let assertion: PublicKeyCredential =
        serde_json::from_value(credential.clone()).map_err(|_| PasskeyError::InvalidCredential("not an assertion"))?;
    let rp = relying_party(&state.config)?;
    let (user, credential_id) = rp.identify_discoverable_authentication(&assertion).map_err(verification)?;
    let credential_id = URL_SAFE_NO_PAD.encode(credential_id);
    let record = state.db.passkey_by_credential_id(&credential_id).await?.ok_or(PasskeyError::UnknownCredential)?;
    if record.citizen_id != user.to_string() {
        return Err(PasskeyError::UnknownCredential);
    }
    let mut passkey: Passkey =
        serde_json::from_str(&record.passkey_json).map_err(|e| PasskeyError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let result = match rp.finish_discoverable_authentication_v2(&assertion, auth, &passkey) {
        Ok(result) => result,
        Err(e) => {
            let e = verification(e);
            if matches!(e, PasskeyError::CounterRegression) {
                let event = AuditEvent::CounterRegression { credential_id };
                state.db.append_audit_event(&NewAuditEvent::new(&record.citizen_id, event, now)).await?;
            }
            return Err(e);
        }
    };
    passkey.update_credential(&result);
    let json = serde_json::to_string(&passkey).map_err(|e| PasskeyError::Internal(e.to_string()))?;
    let written = state
        .db
        .record_passkey_use(&PasskeyUse {
            credential_id: &credential_id,
            previous_sign_count: record.sign_count,
            passkey_json: &json,
            sign_count: i64::from(result.counter()),
            backup_state: result.backup_state(),
            backup_eligible: result.backup_eligible(),
            at: now,
        })
        .await?;
    if !written {
        // Another sign-in with this credential won the race: its counter wins.
        return Err(PasskeyError::CounterRegression);
    }
    let amr = amr(result.backup_eligible(), result.user_verified());
    Ok(Login { citizen_id: record.citizen_id, amr, acr_at_most: None, passkey: Some(credential_id) })
}

// --- another passkey for a signed-in citizen -------------------------------

pub async fn start_add_passkey(
    state: &AppState,
    binding: &str,
    citizen: &CitizenRecord,
    name: &str,
) -> Result<Value, PasskeyError> {
    let user = Uuid::parse_str(&citizen.id).map_err(|e| PasskeyError::Internal(e.to_string()))?;
    let existing = state.db.passkeys_of(&citizen.id).await?;
    let exclude = existing.iter().filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok()).collect();
    let display = format!("{} {}", citizen.given_name, citizen.family_name);
    let (options, reg) = creation_options(state, user, &display, &display, Some(exclude))?;
    let step = Step::AddPasskey { citizen_id: citizen.id.clone(), name: name.to_owned(), state: reg };
    remember(state, binding, options, step).await
}

/// Adds the passkey to the citizen who started the ceremony, who must
/// still be the one signed in (`signed_in`).
pub async fn finish_add_passkey(
    state: &AppState,
    binding: &str,
    signed_in: &str,
    credential: &Value,
    device: &str,
) -> Result<(), PasskeyError> {
    let Step::AddPasskey { citizen_id, name, state: reg } = recall(state, binding, credential).await? else {
        return Err(PasskeyError::InvalidCredential("not a passkey addition"));
    };
    if citizen_id != signed_in {
        return Err(PasskeyError::WrongSession);
    }
    let passkey = registered(state, credential, &reg)?;
    let now = state.clock.now();
    let mut stored = new_passkey(&passkey, &name, now)?;
    if stored.name.is_empty() {
        device.clone_into(&mut stored.name);
    }
    let notice = mail::notice(&state.db, &state.config, &citizen_id, &Notice::PasskeyAdded, now).await?;
    let event = NewAuditEvent::new(&citizen_id, passkey_added(&stored), now).with_mail(notice);
    if !state.db.add_passkey(&citizen_id, &stored, &event).await? {
        return Err(PasskeyError::CredentialTaken);
    }
    Ok(())
}

// --- recovery ---------------------------------------------------------------

/// Checks the identifier and an unused recovery code, then starts the
/// registration of a replacement passkey. The code is used only at finish.
/// `known_marks`: the browser's known-browser marks (`web::known_browser`).
pub async fn start_recovery(
    state: &AppState,
    binding: &str,
    identifier: &str,
    code: &str,
    known_marks: &[&str],
) -> Result<Value, PasskeyError> {
    let identifier = CitizenIdentifier::parse(identifier).map_err(PasskeyError::InvalidIdentifier)?;
    let code = RecoveryCode::parse(code).map_err(|_| PasskeyError::InvalidRecoveryCode)?;
    limit_recovery_attempts(state, &identifier, known_marks).await?;
    let citizen = state.db.citizen_by_identifier(identifier.as_str()).await?.ok_or(PasskeyError::RecoveryRefused)?;
    let code_hash = code.hash_for(&citizen.id);
    if !state.db.recovery_code_usable(&citizen.id, &code_hash).await? {
        let event = AuditEvent::RecoveryRefused { reason: "wrong or used code".into() };
        state.db.append_audit_event(&NewAuditEvent::new(&citizen.id, event, state.clock.now())).await?;
        return Err(PasskeyError::RecoveryRefused);
    }
    let (options, reg) = replacement_options(state, &citizen)?;
    remember(state, binding, options, Step::Recover { citizen_id: citizen.id, code_hash, state: reg }).await
}

/// Creation options for a passkey that will replace all of the citizen's.
fn replacement_options(
    state: &AppState,
    citizen: &CitizenRecord,
) -> Result<(Value, PasskeyRegistration), PasskeyError> {
    let user = Uuid::parse_str(&citizen.id).map_err(|e| PasskeyError::Internal(e.to_string()))?;
    let display = format!("{} {}", citizen.given_name, citizen.family_name);
    creation_options(state, user, &display, &display, None)
}

/// Recovery-code attempts against one citizen, whatever the source address
/// (per-address limits alone let a botnet spread its guesses), counted in the
/// shared rate-limit windows so every replica spends one budget. Counted
/// before the citizen is looked up, so unknown identifiers spend it alike;
/// the key holds a digest, never the identifier. A browser that signed in as
/// this citizen before (`known_marks`) is not counted: whoever knows an
/// identifier cannot lock its owner out. The first refusal of a window goes
/// to the citizen's history, shown on `/account`.
async fn limit_recovery_attempts(
    state: &AppState,
    identifier: &CitizenIdentifier,
    known_marks: &[&str],
) -> Result<(), PasskeyError> {
    let limits = &state.config.rate_limits;
    if limits.recovery_per_citizen == 0 || state.keys.is_known_browser(known_marks, identifier.as_str()) {
        return Ok(());
    }
    let key = format!("recovery:citizen:{}", crate::keys::sha256_b64(identifier.as_str().as_bytes()));
    let hit = state.cache.count_hit(&key, limits.window).await?;
    if hit.count <= u64::from(limits.recovery_per_citizen) {
        return Ok(());
    }
    state.metrics.count_rate_limited("recovery", "citizen");
    let now = state.clock.now();
    let retry_after = (hit.resets_at - now).max(1);
    tracing::info!(retry_after, "recovery attempts limited for one citizen");
    if hit.count == u64::from(limits.recovery_per_citizen) + 1
        && let Some(citizen) = state.db.citizen_by_identifier(identifier.as_str()).await?
    {
        state.db.append_audit_event(&NewAuditEvent::new(&citizen.id, AuditEvent::RecoveryLimited, now)).await?;
    }
    Err(PasskeyError::TooManyAttempts { retry_after })
}

/// Uses the code (once), replaces the citizen's passkeys by the new one and
/// ends their other logins, in one transaction. The login is capped
/// ([`recovery_login`]).
pub async fn finish_recovery(
    state: &AppState,
    binding: &str,
    credential: &Value,
    device: &str,
) -> Result<Login, PasskeyError> {
    let Step::Recover { citizen_id, code_hash, state: reg } = recall(state, binding, credential).await? else {
        return Err(PasskeyError::InvalidCredential("not a recovery"));
    };
    let passkey = registered(state, credential, &reg)?;
    let now = state.clock.now();
    let stored = new_passkey(&passkey, device, now)?;
    let mut events =
        [AuditEvent::RecoveryUsed, AuditEvent::PasskeysRevoked { reason: "recovery".into() }, passkey_added(&stored)]
            .map(|event| NewAuditEvent::new(&citizen_id, event, now));
    events[0].mail = mail::notice(&state.db, &state.config, &citizen_id, &Notice::RecoveryCodeUsed, now).await?;
    let ended = state.db.live_logins_of(&citizen_id, None, now).await?;
    if !state.db.recover_citizen(&citizen_id, &code_hash, &stored, now, &events).await? {
        return Err(PasskeyError::RecoveryRefused);
    }
    endings::logins_ended_by_recovery(state, &citizen_id, &ended).await;
    Ok(recovery_login(citizen_id, &stored))
}

/// The login a recovery opens: one recovery code (or a counter's link) and a
/// passkey enrolled seconds earlier prove less than an ordinary sign-in, so
/// it is `eidas1` without `mfa` (RFC 8176) until the next ordinary passkey
/// sign-in computes `acr` and `amr` as always.
fn recovery_login(citizen_id: String, stored: &NewPasskey) -> Login {
    let amr = amr(stored.backup_eligible, true).into_iter().filter(|m| m != "mfa").collect();
    Login { citizen_id, amr, acr_at_most: Some(Level::Eidas1), passkey: Some(stored.credential_id.clone()) }
}

// --- assisted recovery (the enrolment link from a counter) --------------------

/// Reads the enrolment link (not used up yet) and starts the registration
/// of the passkey that will replace every other.
pub async fn start_assisted_recovery(state: &AppState, binding: &str, token: &str) -> Result<Value, PasskeyError> {
    let link = assisted_recovery::pending(&state.cache, token).await?.ok_or(PasskeyError::LinkUnusable)?;
    let citizen = state.db.citizen_by_id(&link.citizen_id).await?.ok_or(PasskeyError::LinkUnusable)?;
    let (options, reg) = replacement_options(state, &citizen)?;
    let identifier = citizen.identifier;
    remember(state, binding, options, Step::AssistedRecover { link, identifier, state: reg }).await
}

/// Verifies the new passkey, then uses the link up and replaces passkeys,
/// recovery codes and logins (`assisted_recovery::finish`). The login is
/// `eidas1` without `mfa`: the next ordinary sign-in proves the rest.
pub async fn finish_assisted_recovery(
    state: &AppState,
    binding: &str,
    credential: &Value,
    device: &str,
) -> Result<AssistedRecovered, PasskeyError> {
    let Step::AssistedRecover { link, identifier, state: reg } = recall(state, binding, credential).await? else {
        return Err(PasskeyError::InvalidCredential("not an assisted recovery"));
    };
    let passkey = registered(state, credential, &reg)?;
    let stored = new_passkey(&passkey, device, state.clock.now())?;
    let events = vec![AuditEvent::PasskeysRevoked { reason: "assisted_recovery".into() }, passkey_added(&stored)];
    let recovery_codes = assisted_recovery::finish(state, &link, &stored, events).await?;
    Ok(AssistedRecovered { login: recovery_login(link.citizen_id, &stored), identifier, recovery_codes })
}
