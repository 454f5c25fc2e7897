//! The test authenticator itself, checked against webauthn-rs 0.6 server ceremonies
//! (so a failing end-to-end login points at the provider, not at the tool).

use idp::testing::soft_passkey::{SoftPasskey, SoftPasskeyError};
use serde_json::Value;
use webauthn_rs::prelude::*;

const ORIGIN: &str = "http://localhost:8080";

fn server() -> Webauthn {
    let origin = Url::parse(ORIGIN).unwrap();
    WebauthnBuilder::new("localhost", &origin).unwrap().rp_name("Sésame").build().unwrap()
}

/// Start a registration the way Sésame would: passkey, resident key required.
fn start_registration(wa: &Webauthn, user: Uuid) -> (Value, PasskeyRegistration) {
    let (ccr, state) = wa.start_passkey_registration(user, "alice", "Alice", None).unwrap();
    // `ResidentKeyRequirement` is not re-exported by webauthn-rs: edit the JSON instead.
    let mut options = serde_json::to_value(&ccr).unwrap();
    let sel = &mut options["publicKey"]["authenticatorSelection"];
    sel["residentKey"] = "required".into();
    sel["requireResidentKey"] = true.into();
    (options, state)
}

fn register(wa: &Webauthn, pk: &mut SoftPasskey, user: Uuid) -> Passkey {
    let (options, state) = start_registration(wa, user);
    let response = pk.register(&options, ORIGIN).unwrap();
    let reg: RegisterPublicKeyCredential = serde_json::from_value(response).unwrap();
    wa.finish_passkey_registration(&reg, &state).unwrap()
}

fn counter_of(key: &Passkey) -> u64 {
    serde_json::to_value(key).unwrap()["cred"]["counter"].as_u64().unwrap()
}

#[test]
fn options_json_shape() {
    let wa = server();
    let (options, _) = start_registration(&wa, Uuid::new_v4());
    println!("creation options: {options:#}");
    let pk = &options["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["user"]["id"].as_str().unwrap().len(), 22); // 16-byte UUID, base64url, no pad
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    let (rcr, _) = wa.start_discoverable_authentication().unwrap();
    println!("discoverable request options: {:#}", serde_json::to_value(&rcr).unwrap());
}

#[test]
fn register_then_discoverable_login() {
    let wa = server();
    let user = Uuid::new_v4();
    let mut pk = SoftPasskey::new();
    let mut key = register(&wa, &mut pk, user);
    assert_eq!(pk.credential_ids(), vec![key.cred_id().clone()]);

    for round in 1..=2u64 {
        let (rcr, state) = wa.start_discoverable_authentication().unwrap();
        let options = serde_json::to_value(&rcr).unwrap();
        assert!(options["publicKey"]["allowCredentials"].as_array().unwrap().is_empty());
        let cred: PublicKeyCredential = serde_json::from_value(pk.authenticate(&options, ORIGIN).unwrap()).unwrap();
        let (uid, cred_id) = wa.identify_discoverable_authentication(&cred).unwrap();
        assert_eq!(uid, user);
        assert_eq!(cred_id, key.cred_id().as_slice());
        let res = wa.finish_discoverable_authentication_v2(&cred, state, &key).unwrap();
        assert!(res.user_verified());
        assert!(!res.backup_eligible() && !res.backup_state());
        assert_eq!(res.counter(), round as u32);
        assert_eq!(key.update_credential(&res), Some(true));
        assert_eq!(counter_of(&key), round);
    }
}

#[test]
#[allow(deprecated)]
fn deprecated_discoverable_finish_also_accepts() {
    let wa = server();
    let mut pk = SoftPasskey::synced();
    let key = register(&wa, &mut pk, Uuid::new_v4());
    let (rcr, state) = wa.start_discoverable_authentication().unwrap();
    // the bare inner object is accepted too
    let options = serde_json::to_value(&rcr.public_key).unwrap();
    let cred: PublicKeyCredential = serde_json::from_value(pk.authenticate(&options, ORIGIN).unwrap()).unwrap();
    let res = wa.finish_discoverable_authentication(&cred, state, &[DiscoverableKey::from(&key)]).unwrap();
    assert!(res.backup_eligible() && res.backup_state());
}

#[test]
fn non_discoverable_login_with_allow_credentials() {
    let wa = server();
    let mut pk = SoftPasskey::new();
    let first = register(&wa, &mut pk, Uuid::new_v4());
    let mut second = register(&wa, &mut pk, Uuid::new_v4());
    let (rcr, state) = wa.start_passkey_authentication(std::slice::from_ref(&second)).unwrap();
    let options = serde_json::to_value(&rcr).unwrap();
    let cred: PublicKeyCredential = serde_json::from_value(pk.authenticate(&options, ORIGIN).unwrap()).unwrap();
    assert_eq!(cred.raw_id, *second.cred_id());
    let res = wa.finish_passkey_authentication(&cred, &state).unwrap();
    assert_eq!(second.update_credential(&res), Some(true));

    // a credential the authenticator doesn't hold → NotAllowedError
    let mut other = SoftPasskey::new();
    let (rcr, _) = wa.start_passkey_authentication(&[first]).unwrap();
    let err = other.authenticate(&serde_json::to_value(&rcr).unwrap(), ORIGIN).unwrap_err();
    assert_eq!(err, SoftPasskeyError::NoMatchingCredential);
}

#[test]
fn wrong_origin_is_rejected() {
    let wa = server();
    let mut pk = SoftPasskey::new();
    let (options, state) = start_registration(&wa, Uuid::new_v4());
    let reg: RegisterPublicKeyCredential =
        serde_json::from_value(pk.register(&options, "http://evil.example:8080").unwrap()).unwrap();
    let err = wa.finish_passkey_registration(&reg, &state).unwrap_err();
    assert!(matches!(err, WebauthnError::InvalidRPOrigin), "{err:?}");

    let key = register(&wa, &mut pk, Uuid::new_v4());
    let (rcr, state) = wa.start_discoverable_authentication().unwrap();
    let options = serde_json::to_value(&rcr).unwrap();
    let cred: PublicKeyCredential =
        serde_json::from_value(pk.authenticate(&options, "http://localhost:9999").unwrap()).unwrap();
    let err = wa.finish_discoverable_authentication_v2(&cred, state, &key).unwrap_err();
    assert!(matches!(err, WebauthnError::InvalidRPOrigin), "{err:?}");
}

#[test]
fn replayed_assertion_is_rejected_once_counter_is_stored() {
    let wa = server();
    let mut pk = SoftPasskey::new();
    let mut key = register(&wa, &mut pk, Uuid::new_v4());
    let (rcr, state) = wa.start_discoverable_authentication().unwrap();
    let cred: PublicKeyCredential =
        serde_json::from_value(pk.authenticate(&serde_json::to_value(&rcr).unwrap(), ORIGIN).unwrap()).unwrap();
    let res = wa.finish_discoverable_authentication_v2(&cred, state.clone(), &key).unwrap();
    key.update_credential(&res);

    // Same state, same response, stored counter updated → counter check rejects it.
    let err = wa.finish_discoverable_authentication_v2(&cred, state.clone(), &key).unwrap_err();
    assert!(matches!(err, WebauthnError::CredentialPossibleCompromise), "{err:?}");

    // A fresh challenge with the old response → challenge mismatch.
    let (_, fresh) = wa.start_discoverable_authentication().unwrap();
    let err = wa.finish_discoverable_authentication_v2(&cred, fresh, &key).unwrap_err();
    assert!(matches!(err, WebauthnError::MismatchedChallenge), "{err:?}");
}

/// webauthn-rs itself keeps no record of used challenges: a replay against a stale credential
/// copy with the same (cloned / re-loaded) state succeeds. The server MUST consume the state.
#[test]
fn library_alone_does_not_stop_replay_with_stale_credential() {
    let wa = server();
    let mut pk = SoftPasskey::new();
    let key = register(&wa, &mut pk, Uuid::new_v4());
    let (rcr, state) = wa.start_passkey_authentication(std::slice::from_ref(&key)).unwrap();
    let cred: PublicKeyCredential =
        serde_json::from_value(pk.authenticate(&serde_json::to_value(&rcr).unwrap(), ORIGIN).unwrap()).unwrap();
    assert!(wa.finish_passkey_authentication(&cred, &state).is_ok());
    assert!(wa.finish_passkey_authentication(&cred, &state).is_ok());

    // Registration replay with the same state is likewise accepted by the library.
    let (options, state) = start_registration(&wa, Uuid::new_v4());
    let reg: RegisterPublicKeyCredential = serde_json::from_value(pk.register(&options, ORIGIN).unwrap()).unwrap();
    assert!(wa.finish_passkey_registration(&reg, &state).is_ok());
    assert!(wa.finish_passkey_registration(&reg, &state).is_ok());
}

#[test]
fn counter_set_back_is_rejected() {
    let wa = server();
    let mut pk = SoftPasskey::new();
    let mut key = register(&wa, &mut pk, Uuid::new_v4());
    let id = key.cred_id().clone();
    for _ in 0..3 {
        let (rcr, state) = wa.start_discoverable_authentication().unwrap();
        let cred: PublicKeyCredential =
            serde_json::from_value(pk.authenticate(&serde_json::to_value(&rcr).unwrap(), ORIGIN).unwrap()).unwrap();
        let res = wa.finish_discoverable_authentication_v2(&cred, state, &key).unwrap();
        key.update_credential(&res);
    }
    assert_eq!(pk.sign_count(&id), Some(3));
    assert!(pk.set_sign_count(&id, 1)); // next assertion reports 2 < 3
    let (rcr, state) = wa.start_discoverable_authentication().unwrap();
    let cred: PublicKeyCredential =
        serde_json::from_value(pk.authenticate(&serde_json::to_value(&rcr).unwrap(), ORIGIN).unwrap()).unwrap();
    let err = wa.finish_discoverable_authentication_v2(&cred, state, &key).unwrap_err();
    assert!(matches!(err, WebauthnError::CredentialPossibleCompromise), "{err:?}");
}

#[test]
fn missing_user_verification_is_rejected() {
    let wa = server();
    let mut pk = SoftPasskey::new();
    pk.user_verified = false;
    let (options, state) = start_registration(&wa, Uuid::new_v4());
    let reg: RegisterPublicKeyCredential = serde_json::from_value(pk.register(&options, ORIGIN).unwrap()).unwrap();
    let err = wa.finish_passkey_registration(&reg, &state).unwrap_err();
    assert!(matches!(err, WebauthnError::UserNotVerified), "{err:?}");

    pk.user_verified = true;
    let key = register(&wa, &mut pk, Uuid::new_v4());
    pk.user_verified = false;
    let (rcr, state) = wa.start_discoverable_authentication().unwrap();
    let cred: PublicKeyCredential =
        serde_json::from_value(pk.authenticate(&serde_json::to_value(&rcr).unwrap(), ORIGIN).unwrap()).unwrap();
    let err = wa.finish_discoverable_authentication_v2(&cred, state, &key).unwrap_err();
    assert!(matches!(err, WebauthnError::UserNotVerified), "{err:?}");
}

#[test]
fn backup_eligibility_change_and_tampered_signature_are_rejected() {
    let wa = server();
    let mut pk = SoftPasskey::synced();
    let key = register(&wa, &mut pk, Uuid::new_v4());
    pk.backup_eligible = false;
    pk.backup_state = false;
    let (rcr, state) = wa.start_discoverable_authentication().unwrap();
    let cred: PublicKeyCredential =
        serde_json::from_value(pk.authenticate(&serde_json::to_value(&rcr).unwrap(), ORIGIN).unwrap()).unwrap();
    let err = wa.finish_discoverable_authentication_v2(&cred, state, &key).unwrap_err();
    assert!(matches!(err, WebauthnError::CredentialBackupEligibilityInconsistent), "{err:?}");

    pk.backup_eligible = true;
    let (rcr, state) = wa.start_discoverable_authentication().unwrap();
    let mut json = pk.authenticate(&serde_json::to_value(&rcr).unwrap(), ORIGIN).unwrap();
    // flip a byte of authenticatorData's counter: signature no longer matches
    let data = json["response"]["authenticatorData"].as_str().unwrap().to_owned();
    let mut raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, data).unwrap();
    raw[36] ^= 0x40;
    json["response"]["authenticatorData"] =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw).into();
    let cred: PublicKeyCredential = serde_json::from_value(json).unwrap();
    let err = wa.finish_discoverable_authentication_v2(&cred, state, &key).unwrap_err();
    assert!(matches!(err, WebauthnError::AuthenticationFailure), "{err:?}");
}

#[test]
fn excluded_credential_and_unsupported_alg_are_refused() {
    let wa = server();
    let mut pk = SoftPasskey::new();
    let key = register(&wa, &mut pk, Uuid::new_v4());
    let (ccr, _) = wa.start_passkey_registration(Uuid::new_v4(), "a", "A", Some(vec![key.cred_id().clone()])).unwrap();
    let options = serde_json::to_value(&ccr).unwrap();
    assert_eq!(pk.register(&options, ORIGIN).unwrap_err(), SoftPasskeyError::CredentialExcluded);

    let mut options = options;
    options["publicKey"]["pubKeyCredParams"] = serde_json::json!([{"type": "public-key", "alg": -257}]);
    options["publicKey"]["excludeCredentials"] = Value::Null;
    assert_eq!(pk.register(&options, ORIGIN).unwrap_err(), SoftPasskeyError::UnsupportedAlgorithm);
}

#[test]
fn padded_standard_base64_challenge_is_accepted() {
    let wa = server();
    let mut pk = SoftPasskey::new();
    let (mut options, state) = start_registration(&wa, Uuid::new_v4());
    let url = options["publicKey"]["challenge"].as_str().unwrap().to_owned();
    let mut std = url.replace('-', "+").replace('_', "/");
    while std.len() % 4 != 0 {
        std.push('=');
    }
    options["publicKey"]["challenge"] = std.into();
    let reg: RegisterPublicKeyCredential = serde_json::from_value(pk.register(&options, ORIGIN).unwrap()).unwrap();
    wa.finish_passkey_registration(&reg, &state).unwrap();
}
