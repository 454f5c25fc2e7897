//! Signing keys: encryption at rest, the master-key check, rotation.

use idp::keys::{Alg, KeyError, KeyState, Keyring, MasterKey, verify};
use idp::testing::{FixtureRsa, TestApp};

fn jwks_kids(body: &str) -> Vec<String> {
    let jwks: serde_json::Value = serde_json::from_str(body).unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn private_keys_are_stored_encrypted() {
    let app = TestApp::spawn().await;
    let stored = app.state.db.signing_keys().await.unwrap();
    assert_eq!(stored.len(), 4);
    for key in &stored {
        // PKCS#8 DER starts with a SEQUENCE tag; ciphertext (nonce first) almost never does twice.
        assert!(
            !key.private_key.windows(5).any(|w| w == b"\x02\x01\x00\x30\x13"),
            "{} looks like plain PKCS#8",
            key.kid
        );
        assert!(!key.public_jwk.contains("\"d\""), "no private member in the public JWK");
        let alg = Alg::parse(&key.alg).unwrap();
        assert!(
            idp::keys::SigningKey::from_pkcs8(alg, &key.private_key).is_err(),
            "{} is not usable as stored",
            key.kid
        );
    }
}

#[tokio::test]
async fn a_wrong_master_key_is_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let before = app.state.db.signing_keys().await.unwrap();
    let wrong = MasterKey::from_bytes(&[42; 32], "SESAME_MASTER_KEY").unwrap();
    let result = Keyring::open(
        app.state.db.clone(),
        wrong,
        app.state.clock.clone(),
        app.state.config.lifetimes,
        &FixtureRsa::default(),
    )
    .await;
    let error = result.unwrap_err();
    assert!(matches!(error, KeyError::WrongMasterKey(_)), "{error}");
    assert!(error.to_string().contains("does not match"), "{error}");
    assert_eq!(app.state.db.signing_keys().await.unwrap(), before, "no key generated or changed");
}

#[tokio::test]
async fn a_second_replica_shares_the_keys() {
    let app = TestApp::spawn().await;
    let idp::config::MasterKeySource::Given(master) = app.state.config.master_key.clone() else {
        panic!("tests give a master key");
    };
    check_replica(&app, master).await;
}

async fn check_replica(app: &TestApp, master: [u8; 32]) {
    let replica = Keyring::open(
        app.state.db.clone(),
        MasterKey::from_bytes(&master, "test").unwrap(),
        app.state.clock.clone(),
        app.state.config.lifetimes,
        &FixtureRsa::default(),
    )
    .await
    .unwrap();
    assert_eq!(app.state.db.signing_keys().await.unwrap().len(), 4, "no second set of keys");
    let token = replica.sign(Alg::ES256, "JWT", &serde_json::json!({"a": 1})).unwrap();
    let jwk = app.state.keys.published_jwk(&kid_of(&token)).unwrap();
    verify(&token, &jwk).unwrap();
}

#[tokio::test]
async fn rotation_publishes_before_use_and_retires_after_expiry() {
    let app = TestApp::spawn().await;
    let keys = &app.state.keys;
    let lifetimes = app.state.config.lifetimes;
    let old = keys.active_kid(Alg::ES256).unwrap();
    let publish_for = 3_600;

    let new = keys.rotate(&[Alg::ES256], publish_for, &FixtureRsa::default()).await.unwrap().remove(0);
    // Published at once…
    let kids = jwks_kids(&app.get("/jwks").await.text().await.unwrap());
    assert!(kids.contains(&new) && kids.contains(&old), "{kids:?}");
    // …but not signing yet.
    assert_eq!(kid_of(&keys.sign(Alg::ES256, "JWT", &1).unwrap()), old);
    let state_of = |kid: &str| keys.list().into_iter().find(|k| k.kid == kid).unwrap().state;
    assert_eq!(state_of(&new), KeyState::Next);
    assert_eq!(state_of(&old), KeyState::Active);
    // Other algorithms are untouched.
    assert_eq!(keys.list().iter().filter(|k| k.alg == "RS256").count(), 1);

    app.clock.advance(publish_for - 1);
    assert_eq!(kid_of(&keys.sign(Alg::ES256, "JWT", &1).unwrap()), old, "one second before activation");
    app.clock.advance(1);
    let token = keys.sign(Alg::ES256, "JWT", &1).unwrap();
    assert_eq!(kid_of(&token), new, "signs from its activation on");
    assert_eq!(state_of(&old), KeyState::Retiring);

    // The old key stays published until the longest token it signed has expired.
    let last_old_token_expiry = lifetimes.longest_signed_token();
    app.clock.advance(last_old_token_expiry - 1);
    assert!(jwks_kids(&app.get("/jwks").await.text().await.unwrap()).contains(&old), "still needed");
    app.clock.advance(1);
    let kids = jwks_kids(&app.get("/jwks").await.text().await.unwrap());
    assert!(!kids.contains(&old) && kids.contains(&new), "{kids:?}");
    assert_eq!(state_of(&old), KeyState::Retired);

    // The next rotation purges the retired key's private material.
    keys.rotate(&[Alg::ES256], publish_for, &FixtureRsa::default()).await.unwrap();
    let stored = app.state.db.signing_keys().await.unwrap();
    assert!(stored.iter().all(|k| k.kid != old), "retired key purged");
    assert!(stored.iter().any(|k| k.kid == new));
}

#[tokio::test]
async fn rsa_rotation_uses_distinct_keys_per_algorithm() {
    let app = TestApp::spawn().await;
    // The app used fixtures 1–2 at start; take the next ones so the new keys differ.
    let rsa = FixtureRsa::starting_at(2);
    let kids = app.state.keys.rotate(&[Alg::RS256, Alg::PS256], 0, &rsa).await.unwrap();
    assert_eq!(kids.len(), 2);
    assert_ne!(kids[0], kids[1]);
    for alg in [Alg::RS256, Alg::PS256] {
        let token = app.state.keys.sign(alg, "JWT", &serde_json::json!({})).unwrap();
        assert!(kids.contains(&kid_of(&token)), "{alg:?} signs with its new key at once (publish_for = 0)");
        verify(&token, &app.state.keys.published_jwk(&kid_of(&token)).unwrap()).unwrap();
    }
}
