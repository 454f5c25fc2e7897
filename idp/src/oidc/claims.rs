//! Which identity claims a grant releases (OIDC Core §5.4 scopes, §5.5 the
//! `claims` request): only those of scopes the client was registered for and
//! the citizen consented to, plus individually requested ones in the same
//! bounds. One pure function, [`released`].

use serde_json::Value;

use super::grant::Grant;
use crate::citizen::identity::Identity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    IdToken,
    UserInfo,
}

impl Target {
    pub fn member(self) -> &'static str {
        match self {
            Self::IdToken => "id_token",
            Self::UserInfo => "userinfo",
        }
    }
}

/// Every claim we can release, in the order they are written.
pub const RELEASABLE: [&str; 12] = [
    "given_name",
    "family_name",
    "birthdate",
    "gender",
    "birthplace",
    "birthcountry",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
    "citizen_identifier",
];

/// The scope that allows a claim.
pub fn scope_of(claim: &str) -> Option<&'static str> {
    Some(match claim {
        "given_name" | "family_name" | "birthdate" | "gender" | "birthplace" | "birthcountry" => "profile",
        "email" | "email_verified" => "email",
        "phone_number" | "phone_number_verified" => "phone",
        "address" => "address",
        "citizen_identifier" => "citizen_identifier",
        _ => return None,
    })
}

fn value_of(claim: &str, identity: &Identity) -> Option<Value> {
    let present = |name: &str| identity.value(name).filter(|v| !v.is_empty());
    match claim {
        "given_name" | "family_name" | "birthdate" | "gender" | "birthplace" | "birthcountry" | "email"
        | "phone_number" => present(claim).map(Into::into),
        "email_verified" => present("email").map(|_| identity.verified("email").into()),
        "phone_number_verified" => present("phone_number").map(|_| identity.verified("phone_number").into()),
        // Stored as the JSON object of OIDC Core §5.1.1.
        "address" => present("address").map(|text| {
            serde_json::from_str::<Value>(text)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| serde_json::json!({ "formatted": text }))
        }),
        "citizen_identifier" => Some(identity.citizen.identifier.clone().into()),
        _ => None,
    }
}

/// §5.5.1: a request naming `value` or `values` asks for the claim only
/// with one of those values.
fn matches_request(request: Option<&Value>, value: &Value) -> bool {
    let Some(request) = request.and_then(Value::as_object) else { return true };
    if let Some(wanted) = request.get("value") {
        return wanted == value;
    }
    if let Some(wanted) = request.get("values").and_then(Value::as_array) {
        return wanted.contains(value);
    }
    true
}

/// Claims to add for `target`. For UserInfo: every claim of the granted
/// scopes. For the ID token (code flow): only claims the `claims` request
/// names for it (§5.4: scope claims go to UserInfo). `citizen_identifier`
/// only when the client is `entitled` (public subjects, set by an
/// administrator). Essential or not, a claim we cannot release is left out
/// (§5.5.1: not an error).
pub fn released(grant: &Grant, identity: &Identity, entitled: bool, target: Target) -> Vec<(&'static str, Value)> {
    let requested = grant.claims.get(target.member()).and_then(Value::as_object);
    RELEASABLE
        .into_iter()
        .filter(|claim| scope_of(claim).is_some_and(|scope| grant.scope.contains(scope)))
        .filter(|claim| *claim != "citizen_identifier" || entitled)
        .filter(|claim| target == Target::UserInfo || requested.is_some_and(|r| r.contains_key(*claim)))
        .filter_map(|claim| value_of(claim, identity).map(|v| (claim, v)))
        .filter(|(claim, value)| matches_request(requested.and_then(|r| r.get(*claim)), value))
        .chain(verified(grant, identity, target))
        .collect()
}

/// `verified_claims` (Identity Assurance), when the request asks for it
/// here: within the same scopes as the plain claims.
fn verified(grant: &Grant, identity: &Identity, target: Target) -> Option<(&'static str, Value)> {
    let request = super::verified_claims::request(&grant.claims, target.member())?;
    let allowed = |claim: &str| scope_of(claim).is_some_and(|scope| grant.scope.contains(scope));
    super::verified_claims::answer(request, identity, &allowed).map(|answer| ("verified_claims", answer))
}

/// The names of what was released, for the audit log.
pub fn names(released: &[(&'static str, Value)]) -> Vec<&'static str> {
    released.iter().map(|(name, _)| *name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AttributeRecord, CitizenRecord};

    fn grant(scope: &[&str], claims: Value) -> Grant {
        Grant {
            grant_id: "g".into(),
            client_id: "c".into(),
            citizen_id: "x".into(),
            sid: "s".into(),
            scope: scope.iter().copied().collect(),
            claims,
            auth_time: 0,
            acr: "eidas1".into(),
            amr: vec![],
        }
    }

    fn identity() -> Identity {
        let attribute = |name: &str, value: &str, verified: bool| AttributeRecord {
            name: name.into(),
            value: value.into(),
            verified_by: verified.then(|| "agent".to_owned()),
            verified_at: verified.then_some(1),
            updated_at: 1,
        };
        Identity {
            citizen: CitizenRecord {
                id: "x".into(),
                identifier: "0123456789ABCDEFX".into(),
                given_name: "Camille".into(),
                family_name: "Martin".into(),
                email: Some("c@example.fr".into()),
                created_at: 0,
            },
            attributes: vec![
                attribute("birthdate", "1990-05-00", true),
                attribute("gender", "female", true),
                attribute("birthplace", "75056", true),
                attribute("birthcountry", "99100", true),
                attribute("email", "c@example.fr", true),
                attribute("phone_number", "+33612345678", false),
                attribute("address", r#"{"locality":"Paris","postal_code":"75001"}"#, false),
            ],
            verifications: Vec::new(),
        }
    }

    fn names_for(g: &Grant, entitled: bool, target: Target) -> Vec<&'static str> {
        names(&released(g, &identity(), entitled, target))
    }

    #[test]
    fn scopes_decide_what_userinfo_releases() {
        let ui = |scope: &[&str]| names_for(&grant(scope, Value::Null), false, Target::UserInfo);
        assert!(ui(&["openid"]).is_empty());
        assert_eq!(
            ui(&["openid", "profile"]),
            ["given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry"]
        );
        assert_eq!(ui(&["openid", "email"]), ["email", "email_verified"]);
        assert_eq!(ui(&["openid", "phone"]), ["phone_number", "phone_number_verified"]);
        assert_eq!(ui(&["openid", "address"]), ["address"]);
        let released = released(
            &grant(&["openid", "email", "phone", "address"], Value::Null),
            &identity(),
            false,
            Target::UserInfo,
        );
        let get = |n: &str| released.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        assert_eq!(get("email_verified"), Some(Value::Bool(true)), "verified email");
        assert_eq!(get("phone_number_verified"), Some(Value::Bool(false)));
        assert_eq!(get("address").unwrap()["locality"], "Paris");
    }

    #[test]
    fn the_citizen_identifier_goes_to_entitled_clients_only() {
        let g = grant(&["openid", "citizen_identifier"], Value::Null);
        assert!(names_for(&g, false, Target::UserInfo).is_empty());
        assert_eq!(names_for(&g, true, Target::UserInfo), ["citizen_identifier"]);
    }

    #[test]
    fn the_id_token_gets_only_requested_claims_within_scope() {
        let claims = serde_json::json!({"id_token": {"given_name": null, "email": {"essential": true}}});
        let released = released(&grant(&["openid", "profile"], claims), &identity(), false, Target::IdToken);
        assert_eq!(released, vec![("given_name", serde_json::json!("Camille"))], "email not in scope");
    }

    #[test]
    fn essential_and_value_requests() {
        let claims = serde_json::json!({
            "id_token": {"birthdate": {"essential": true}, "gender": {"value": "male"}, "birthcountry": {"values": ["99100", "99134"]}},
            "userinfo": {"given_name": {"value": "Camille"}, "family_name": {"values": ["Dupont"]}}
        });
        let g = grant(&["openid", "profile"], claims);
        assert_eq!(names_for(&g, false, Target::IdToken), ["birthdate", "birthcountry"], "gender value differs");
        let ui = names_for(&g, false, Target::UserInfo);
        assert!(ui.contains(&"given_name") && !ui.contains(&"family_name"), "{ui:?}");
        assert!(ui.contains(&"birthdate"), "scope claims still go to UserInfo");
    }
}
