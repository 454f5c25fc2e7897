//! What the citizen sees of their data (DESIGN.md "Transparency"): the
//! services they consented to and what each received, their activity, and
//! everything stored about them as one export. Taking consent back and
//! deleting the account are endings (`crate::endings`). No HTTP here.

use serde_json::{Value, json};

use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::clients::metadata::ExtraMetadata;
use crate::i18n::Lang;
use crate::outage::{Dependency, Failure};
use crate::scope::Scope;
use crate::store::{AuditEntry, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum TransparencyError {
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl Failure for TransparencyError {
    fn unavailable(&self) -> Option<Dependency> {
        match self {
            Self::Store(e) => e.unavailable(),
        }
    }
}

/// A service the citizen consented to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedService {
    pub client_id: String,
    pub client_name: String,
    pub scope: Scope,
    pub granted_at: i64,
    /// When it last received claims, and which.
    pub last_release: Option<(i64, Vec<String>)>,
}

/// One line of the activity history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// `None` for a kind this version does not know.
    pub event: Option<AuditEvent>,
    pub at: i64,
    /// The service concerned (consents, releases).
    pub service: Option<String>,
    /// Browser summary (sign-ins).
    pub device: Option<String>,
    /// Claims released, or scopes consented.
    pub items: Vec<String>,
    /// Assurance level of a release.
    pub acr: Option<String>,
}

/// How many events the account page lists (the export has them all).
pub const ACTIVITY_SHOWN: usize = 50;

/// The activity history, newest first, from the audit events.
pub fn activity(entries: &[AuditEntry]) -> Vec<Activity> {
    entries
        .iter()
        .rev()
        .take(ACTIVITY_SHOWN)
        .map(|entry| {
            let event = entry.event();
            let mut line =
                Activity { event: None, at: entry.at, service: None, device: None, items: Vec::new(), acr: None };
            match &event {
                Some(AuditEvent::ClaimsReleased { client_name, claims, acr, .. }) => {
                    line.service = Some(client_name.clone());
                    line.items = claims.clone();
                    line.acr = Some(acr.clone());
                }
                Some(AuditEvent::ConsentGranted { client_name, scope, .. }) => {
                    line.service = Some(client_name.clone());
                    line.items = scope.clone();
                }
                Some(AuditEvent::ConsentRevoked { client_name, .. }) => line.service = client_name.clone(),
                Some(AuditEvent::SignedIn { device, .. }) => line.device = Some(device.clone()),
                _ => {}
            }
            Activity { event, ..line }
        })
        .collect()
}

/// The services the citizen consented to, with their last release.
pub async fn connected_services(
    state: &AppState,
    citizen_id: &str,
    events: &[AuditEntry],
    lang: Lang,
) -> Result<Vec<ConnectedService>, TransparencyError> {
    let consents = state.db.consents_of(citizen_id).await?;
    Ok(consents
        .into_iter()
        .map(|c| {
            let last_release = events.iter().rev().find_map(|e| match e.event() {
                Some(AuditEvent::ClaimsReleased { client_id, claims, .. }) if client_id == c.client_id => {
                    Some((e.at, claims))
                }
                _ => None,
            });
            ConnectedService {
                scope: c.scope,
                client_id: c.client_id,
                // The name the service registered for the citizen's language.
                client_name: serde_json::from_str::<ExtraMetadata>(&c.client_metadata)
                    .ok()
                    .and_then(|m| m.name_in(lang).map(str::to_owned))
                    .unwrap_or(c.client_name),
                granted_at: c.granted_at,
                last_release,
            }
        })
        .collect())
}

/// Everything stored about the citizen, as one JSON document; `None` for
/// an unknown or deleted account. Secrets and their digests (passkey
/// records' internals, recovery-code and refresh-token digests) are left
/// out: they identify nothing and prove nothing to the citizen.
pub async fn export(state: &AppState, citizen_id: &str) -> Result<Option<Value>, TransparencyError> {
    let db = &state.db;
    let Some(citizen) = db.citizen_by_id(citizen_id).await? else { return Ok(None) };
    let attributes = db.attributes_of(citizen_id).await?;
    let passkeys = db.passkeys_of(citizen_id).await?;
    let codes = db.recovery_codes_of(citizen_id).await?;
    let logins = db.login_history_of(citizen_id).await?;
    let consents = db.consents_of(citizen_id).await?;
    let grants = db.grants_of(citizen_id).await?;
    let tokens = db.refresh_tokens_of(citizen_id).await?;
    let events = db.audit_events_of(citizen_id).await?;
    let verifications = db.verifications_of(citizen_id).await?;
    let memberships = db.memberships_of(citizen_id).await?;
    let mail = db.mail_of(citizen_id).await?;
    let challenge = db.email_challenge(citizen_id).await?;
    let identifier = super::CitizenIdentifier::parse(&citizen.identifier)
        .map_or_else(|_| citizen.identifier.clone(), |i| i.to_string());
    Ok(Some(json!({
        "exported_at": state.clock.now(),
        "citizen": {
            "id": citizen.id,
            "identifier": identifier,
            "given_name": citizen.given_name,
            "family_name": citizen.family_name,
            "email": citizen.email,
            "created_at": citizen.created_at,
        },
        "attributes": attributes.iter().map(|a| json!({
            "name": a.name, "value": a.value, "verified_by": a.verified_by,
            "verified_at": a.verified_at, "updated_at": a.updated_at,
        })).collect::<Vec<_>>(),
        "passkeys": passkeys.iter().map(|p| json!({
            "credential_id": p.credential_id, "name": p.name, "created_at": p.created_at,
            "last_used_at": p.last_used_at, "synced": p.backup_eligible, "backed_up": p.backup_state,
            "sign_count": p.sign_count,
        })).collect::<Vec<_>>(),
        "recovery_codes": codes.iter().map(|c| json!({"created_at": c.created_at, "used_at": c.used_at})).collect::<Vec<_>>(),
        "login_sessions": logins.iter().map(|l| json!({
            "sid": l.sid, "device": l.device, "amr": l.amr, "created_at": l.created_at,
            "expires_at": l.expires_at, "ended_at": l.revoked_at,
        })).collect::<Vec<_>>(),
        "consents": consents.iter().map(|c| json!({
            "client_id": c.client_id, "service": c.client_name, "scope": c.scope, "granted_at": c.granted_at,
        })).collect::<Vec<_>>(),
        "grants": grants.iter().map(|g| json!({
            "grant_id": g.grant_id, "client_id": g.client_id, "sid": g.sid, "scope": g.scope,
            "claims_request": serde_json::from_str::<Value>(&g.claims).unwrap_or(Value::Null),
            "auth_time": g.auth_time, "acr": g.acr,
            "amr": serde_json::from_str::<Value>(&g.amr).unwrap_or(Value::Null),
            "created_at": g.created_at, "revoked_at": g.revoked_at,
        })).collect::<Vec<_>>(),
        "refresh_tokens": tokens.iter().map(|t| json!({
            "family_id": t.family_id, "grant_id": t.grant_id, "client_id": t.client_id, "scope": t.scope,
            "offline": t.offline, "created_at": t.created_at, "expires_at": t.expires_at,
            "rotated_at": t.rotated_at, "revoked_at": t.revoked_at,
        })).collect::<Vec<_>>(),
        // Mail as sent (recipient, subject, when), its bodies left out: a
        // code in them is a secret until used.
        "mail_outbox": mail.iter().map(|m| json!({
            "recipient": m.recipient, "kind": m.kind, "subject": m.subject, "created_at": m.created_at,
            "delivered_at": m.delivered_at, "gave_up_at": m.gave_up_at,
        })).collect::<Vec<_>>(),
        "email_challenges": challenge.iter().map(|c| json!({
            "email": c.email, "expires_at": c.expires_at, "sends": c.sends, "spent": c.code_hash.is_empty(),
        })).collect::<Vec<_>>(),
        "verifications": verifications.iter().map(|v| json!({
            "verification_id": v.verification_id, "kind": v.kind, "organisation": v.organisation_name,
            "method": v.method, "document_type": v.document_type, "document_issuer": v.document_issuer,
            "document_expires": v.document_expires,
            "attributes": serde_json::from_str::<Value>(&v.attributes).unwrap_or(Value::Null),
            "verified_at": v.verified_at,
        })).collect::<Vec<_>>(),
        "memberships": memberships.iter().map(|m| json!({
            "organisation_id": m.organisation_id, "role": m.role, "added_at": m.added_at,
        })).collect::<Vec<_>>(),
        // As stored, whatever the kind: the export is every row kept.
        "audit_events": events.iter().map(|e| json!({
            "id": e.id, "kind": e.kind, "details": e.details_json(), "at": e.at,
        })).collect::<Vec<_>>(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, kind: &str, details: Value) -> AuditEntry {
        AuditEntry { id, citizen_id: "x".into(), kind: kind.into(), details: details.to_string(), at: id }
    }

    #[test]
    fn activity_is_newest_first_with_its_details() {
        let events = vec![
            event(1, "session.signed_in", json!({"device": "Firefox · Linux", "amr": ["hwk"]})),
            event(2, "consent.granted", json!({"client_name": "Mairie", "scope": ["openid", "profile"]})),
            event(3, "claims.released", json!({"client_name": "Mairie", "claims": ["given_name"], "acr": "eidas1"})),
        ];
        let list = activity(&events);
        assert!(matches!(list[0].event, Some(AuditEvent::ClaimsReleased { .. })), "{list:?}");
        assert!(matches!(list[1].event, Some(AuditEvent::ConsentGranted { .. })), "{list:?}");
        assert!(matches!(list[2].event, Some(AuditEvent::SignedIn { .. })), "{list:?}");
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].items, ["given_name"]);
        assert_eq!(list[0].acr.as_deref(), Some("eidas1"));
        assert_eq!(list[1].items, ["openid", "profile"]);
        assert_eq!(list[2].device.as_deref(), Some("Firefox · Linux"));
    }
}
