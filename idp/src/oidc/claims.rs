//! Which identity claims a grant releases (OIDC Core §5.4 scopes, §5.5 the
//! `claims` request): only those of scopes the client was registered for and
//! the citizen consented to, plus individually requested ones in the same
//! bounds.

use super::grant::Grant;
use crate::store::CitizenRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    IdToken,
    UserInfo,
}

/// The scope that allows a claim.
fn scope_of(claim: &str) -> Option<&'static str> {
    Some(match claim {
        "given_name" | "family_name" => "profile",
        "email" | "email_verified" => "email",
        _ => return None,
    })
}

fn value_of(claim: &str, citizen: &CitizenRecord) -> Option<serde_json::Value> {
    match claim {
        "given_name" => Some(citizen.given_name.clone().into()),
        "family_name" => Some(citizen.family_name.clone().into()),
        "email" => citizen.email.clone().map(Into::into),
        // Self-declared at sign-up; nobody has verified it yet.
        "email_verified" => citizen.email.as_ref().map(|_| false.into()),
        _ => None,
    }
}

pub const RELEASABLE: [&str; 4] = ["given_name", "family_name", "email", "email_verified"];

/// Claims to add for `target`. For UserInfo: every claim of the granted
/// scopes. For the ID token (code flow): only claims the `claims` request
/// names for it (§5.4: scope claims go to UserInfo).
pub fn released(grant: &Grant, citizen: &CitizenRecord, target: Target) -> Vec<(&'static str, serde_json::Value)> {
    let member = match target {
        Target::IdToken => "id_token",
        Target::UserInfo => "userinfo",
    };
    let requested = grant.claims.get(member).and_then(|m| m.as_object());
    RELEASABLE
        .into_iter()
        .filter(|claim| scope_of(claim).is_some_and(|scope| grant.has_scope(scope)))
        .filter(|claim| target == Target::UserInfo || requested.is_some_and(|r| r.contains_key(*claim)))
        .filter_map(|claim| value_of(claim, citizen).map(|v| (claim, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(scope: &[&str], claims: serde_json::Value) -> Grant {
        Grant {
            grant_id: "g".into(),
            client_id: "c".into(),
            citizen_id: "x".into(),
            sid: "s".into(),
            scope: scope.iter().map(|s| (*s).to_owned()).collect(),
            claims,
            auth_time: 0,
            acr: "eidas1".into(),
            amr: vec![],
        }
    }

    fn citizen() -> CitizenRecord {
        CitizenRecord {
            id: "x".into(),
            identifier: "0".into(),
            given_name: "Camille".into(),
            family_name: "Martin".into(),
            email: Some("c@example.fr".into()),
            created_at: 0,
        }
    }

    #[test]
    fn scopes_decide_what_userinfo_releases() {
        let names =
            |g: &Grant| released(g, &citizen(), Target::UserInfo).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        assert!(names(&grant(&["openid"], serde_json::Value::Null)).is_empty());
        assert_eq!(names(&grant(&["openid", "profile"], serde_json::Value::Null)), ["given_name", "family_name"]);
        assert_eq!(names(&grant(&["openid", "email"], serde_json::Value::Null)), ["email", "email_verified"]);
    }

    #[test]
    fn the_id_token_gets_only_requested_claims_within_scope() {
        let claims = serde_json::json!({"id_token": {"given_name": null, "email": {"essential": true}}});
        let released = released(&grant(&["openid", "profile"], claims), &citizen(), Target::IdToken);
        assert_eq!(released, vec![("given_name", serde_json::json!("Camille"))], "email not in scope");
    }
}
