//! The citizen's audit log (DESIGN.md "audit/": append-only; what each
//! citizen can read of it): every kind of event and its details, as one
//! type. A row keeps the dotted `kind` and the other fields as a JSON
//! `details` object, exactly as rows written before this type; reading
//! tolerates kinds this version does not know and details with fields
//! missing (older rows), as the account page always did.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum AuditEvent {
    #[serde(rename = "citizen.signed_up")]
    SignedUp,
    #[serde(rename = "session.signed_in")]
    SignedIn {
        #[serde(default)]
        device: String,
        #[serde(default)]
        amr: Vec<String>,
        /// The passkey used (credential id), for telling a new device.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passkey: Option<String>,
    },
    /// The citizen signed their other sessions out.
    #[serde(rename = "session.others_ended")]
    OtherSessionsEnded {
        #[serde(default)]
        count: u64,
    },
    #[serde(rename = "passkey.added")]
    PasskeyAdded {
        #[serde(default)]
        credential_id: String,
        /// Backup-eligible: may be synchronised between devices.
        #[serde(default)]
        synced: bool,
    },
    #[serde(rename = "passkey.renamed")]
    PasskeyRenamed {
        #[serde(default)]
        credential_id: String,
    },
    #[serde(rename = "passkey.removed")]
    PasskeyRemoved {
        #[serde(default)]
        credential_id: String,
    },
    #[serde(rename = "passkey.revoked_all")]
    PasskeysRevoked {
        #[serde(default)]
        reason: String,
    },
    /// An assertion whose counter went backwards (a cloned authenticator?).
    #[serde(rename = "passkey.counter_regression")]
    CounterRegression {
        #[serde(default)]
        credential_id: String,
    },
    #[serde(rename = "recovery.codes_issued")]
    RecoveryCodesIssued {
        #[serde(default)]
        count: usize,
    },
    #[serde(rename = "recovery.used")]
    RecoveryUsed,
    #[serde(rename = "recovery.refused")]
    RecoveryRefused {
        #[serde(default)]
        reason: String,
    },
    /// Recovery attempts with the citizen's identifier passed the
    /// per-citizen limit (recorded once per window); the citizen's own
    /// browsers still get through.
    #[serde(rename = "recovery.limited")]
    RecoveryLimited,
    #[serde(rename = "consent.granted")]
    ConsentGranted {
        #[serde(default)]
        client_id: String,
        #[serde(default)]
        client_name: String,
        /// What this consent added (kept as a JSON list).
        #[serde(default)]
        scope: Vec<String>,
    },
    #[serde(rename = "consent.revoked")]
    ConsentRevoked {
        #[serde(default)]
        client_id: String,
        /// `None` when the service was deleted meanwhile.
        #[serde(default)]
        client_name: Option<String>,
    },
    /// Claims given to a service (DESIGN.md "Transparency": who received
    /// what, when, at which assurance level).
    #[serde(rename = "claims.released")]
    ClaimsReleased {
        #[serde(default)]
        client_id: String,
        #[serde(default)]
        client_name: String,
        /// `id_token` or `userinfo`.
        #[serde(default)]
        to: String,
        #[serde(default)]
        scope: Vec<String>,
        #[serde(default)]
        claims: Vec<String>,
        #[serde(default)]
        acr: String,
    },
    #[serde(rename = "identity.updated")]
    IdentityUpdated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verified_by: Option<String>,
    },
    /// An agent checked an identity document at a counter.
    #[serde(rename = "identity.verified")]
    IdentityVerified {
        /// The organisation, as named then.
        #[serde(default)]
        organisation: String,
        /// OIDC4IDA method (`pipp`).
        #[serde(default)]
        method: String,
        /// `idcard`, `passport`, `residence_permit`.
        #[serde(default)]
        document: String,
        #[serde(default)]
        attributes: Vec<String>,
        /// The declared names were replaced by the document's.
        #[serde(default)]
        names_corrected: bool,
    },
    /// An agent checked the document against the verified identity and
    /// handed over an enrolment link (assisted recovery).
    #[serde(rename = "recovery.assisted")]
    RecoveryAssisted {
        /// The organisation, as named then.
        #[serde(default)]
        organisation: String,
        #[serde(default)]
        document: String,
    },
}

impl AuditEvent {
    /// The stored form: the dotted kind, and the details as a JSON object
    /// (keys sorted, as `serde_json` writes maps).
    pub fn to_columns(&self) -> Result<(String, String), serde_json::Error> {
        let mut value = serde_json::to_value(self)?;
        match value.as_object_mut().and_then(|fields| fields.remove("kind")) {
            Some(Value::String(kind)) => Ok((kind, value.to_string())),
            _ => Err(serde::ser::Error::custom("an audit event is written as an object with its kind")),
        }
    }

    /// Reads a stored row back: `None` for a kind this version does not know
    /// (or details that are not an object).
    pub fn from_columns(kind: &str, details: &str) -> Option<Self> {
        let mut value: Value = serde_json::from_str(details).ok()?;
        value.as_object_mut()?.insert("kind".into(), kind.into());
        serde_json::from_value(value).ok()
    }
}

/// One event of each kind, for tests that must cover them all.
#[cfg(test)]
pub(crate) fn one_of_each() -> Vec<AuditEvent> {
    use AuditEvent as E;
    let id = || "id".to_owned();
    vec![
        E::SignedUp,
        E::SignedIn { device: "Firefox · Linux".into(), amr: vec!["hwk".into()], passkey: Some(id()) },
        E::OtherSessionsEnded { count: 2 },
        E::PasskeyAdded { credential_id: id(), synced: true },
        E::PasskeyRenamed { credential_id: id() },
        E::PasskeyRemoved { credential_id: id() },
        E::PasskeysRevoked { reason: "recovery".into() },
        E::CounterRegression { credential_id: id() },
        E::RecoveryCodesIssued { count: 10 },
        E::RecoveryUsed,
        E::RecoveryRefused { reason: "wrong or used code".into() },
        E::RecoveryLimited,
        E::ConsentGranted { client_id: id(), client_name: "Mairie".into(), scope: vec!["openid".into()] },
        E::ConsentRevoked { client_id: id(), client_name: None },
        E::ClaimsReleased {
            client_id: id(),
            client_name: "Mairie".into(),
            to: "userinfo".into(),
            scope: vec!["openid".into(), "profile".into()],
            claims: vec!["given_name".into()],
            acr: "eidas1".into(),
        },
        E::IdentityUpdated { verified_by: Some("agent:mairie".into()) },
        E::IdentityVerified {
            organisation: "Mairie".into(),
            method: "pipp".into(),
            document: "idcard".into(),
            attributes: vec!["given_name".into()],
            names_corrected: false,
        },
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The rows this type writes are the rows written before it, byte for byte.
    #[test]
    fn rows_keep_their_kinds_and_details() {
        let row = |event: AuditEvent| event.to_columns().unwrap();
        assert_eq!(row(AuditEvent::SignedUp), ("citizen.signed_up".into(), "{}".into()));
        assert_eq!(row(AuditEvent::RecoveryUsed), ("recovery.used".into(), "{}".into()));
        let added = AuditEvent::PasskeyAdded { credential_id: "abc".into(), synced: false };
        let expected = json!({"credential_id": "abc", "synced": false}).to_string();
        assert_eq!(row(added), ("passkey.added".into(), expected));
        let revoked = AuditEvent::ConsentRevoked { client_id: "c".into(), client_name: None };
        let expected = json!({"client_id": "c", "client_name": Option::<&str>::None}).to_string();
        assert_eq!(row(revoked), ("consent.revoked".into(), expected));
        let released = AuditEvent::ClaimsReleased {
            client_id: "id".into(),
            client_name: "Mairie".into(),
            to: "userinfo".into(),
            scope: vec!["openid".into(), "profile".into()],
            claims: vec!["given_name".into()],
            acr: "eidas1".into(),
        };
        let expected = json!({
            "client_id": "id", "client_name": "Mairie", "to": "userinfo",
            "scope": ["openid", "profile"], "claims": ["given_name"], "acr": "eidas1",
        });
        assert_eq!(row(released), ("claims.released".into(), expected.to_string()));
        let count = AuditEvent::RecoveryCodesIssued { count: 10 };
        assert_eq!(row(count), ("recovery.codes_issued".into(), r#"{"count":10}"#.into()));
    }

    #[test]
    fn every_kind_reads_back_and_unknown_kinds_are_tolerated() {
        for event in one_of_each() {
            let (kind, details) = event.to_columns().unwrap();
            assert_eq!(AuditEvent::from_columns(&kind, &details), Some(event), "{kind}");
        }
        assert_eq!(AuditEvent::from_columns("anything.else", "{}"), None);
        assert_eq!(AuditEvent::from_columns("citizen.signed_up", "not json"), None);
        let older = AuditEvent::from_columns("consent.granted", r#"{"client_name":"Mairie"}"#);
        let expected =
            AuditEvent::ConsentGranted { client_id: String::new(), client_name: "Mairie".into(), scope: vec![] };
        assert_eq!(older, Some(expected));
        let unverified = AuditEvent::from_columns("identity.updated", "{}");
        assert_eq!(unverified, Some(AuditEvent::IdentityUpdated { verified_by: None }));
        assert_eq!(unverified.unwrap().to_columns().unwrap().1, "{}");
    }
}
