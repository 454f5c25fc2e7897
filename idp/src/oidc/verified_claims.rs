//! OpenID Connect for Identity Assurance 1.0 (`verified_claims`, §5–6 of
//! the draft the profile follows): a service asks, in the `claims`
//! parameter, for claims together with how they were verified; it gets
//! only claims that were verified, that it asked for and that the granted
//! scopes allow, each group with its verification — trust framework
//! (`eidas`), assurance level, time, and the evidence: a document checked
//! in person (`pipp`) by a named organisation. Document numbers are never
//! released (we do not keep them). Pure: the caller loads the records
//! (`Identity::load_verifications`).

use serde_json::{Map, Value, json};

use crate::citizen::identity::Identity;
use crate::store::VerificationRecord;

pub const TRUST_FRAMEWORK: &str = "eidas";
/// A document checked in person is eIDAS "substantial" (our `eidas2`).
pub const ASSURANCE_LEVEL: &str = "substantial";
pub const EVIDENCE: [&str; 1] = ["document"];
pub const DOCUMENTS: [&str; 3] = ["idcard", "passport", "residence_permit"];
pub const METHODS: [&str; 1] = ["pipp"];
/// Claims that can be verified (the identité pivot).
pub const CLAIMS: [&str; 6] = ["given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry"];

/// Whether the `claims` request asks for `verified_claims` anywhere (the
/// verification records are then worth reading).
pub fn wanted(claims_request: &Value) -> bool {
    request(claims_request, "id_token").is_some() || request(claims_request, "userinfo").is_some()
}

/// The `verified_claims` request of one target (`id_token` or `userinfo`).
pub fn request<'a>(claims_request: &'a Value, target: &str) -> Option<&'a Value> {
    claims_request.get(target)?.get("verified_claims")
}

/// The answer to a `verified_claims` request (an object, or an array of
/// them as the request was), `None` when nothing verified can be given.
/// `allowed` says whether a claim may be released at all (scope, consent).
pub fn answer(request: &Value, identity: &Identity, allowed: &dyn Fn(&str) -> bool) -> Option<Value> {
    let verifications = &identity.verifications;
    match request {
        Value::Array(requests) => {
            let answers: Vec<Value> =
                requests.iter().filter_map(|r| answer_one(r, identity, verifications, allowed)).flatten().collect();
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        Value::Object(_) => {
            let answers = answer_one(request, identity, verifications, allowed)?;
            match answers.len() {
                0 => None,
                1 => answers.into_iter().next(),
                _ => Some(Value::Array(answers)),
            }
        }
        _ => None,
    }
}

/// One request → one element per verification that vouches for some of
/// the claims asked.
fn answer_one(
    request: &Value,
    identity: &Identity,
    verifications: &[VerificationRecord],
    allowed: &dyn Fn(&str) -> bool,
) -> Option<Vec<Value>> {
    let asked = request.get("claims")?.as_object()?;
    if !framework_accepted(request.get("verification")) {
        return Some(Vec::new());
    }
    let mut groups: Vec<(&VerificationRecord, Map<String, Value>)> = Vec::new();
    for name in CLAIMS.iter().filter(|c| asked.contains_key(**c) && allowed(c)) {
        if !identity.verified(name) {
            continue;
        }
        let Some(value) = identity.value(name) else { continue };
        let Some(by) = identity.attributes.iter().find(|a| a.name == *name).and_then(|a| a.verified_by.as_deref())
        else {
            continue;
        };
        let Some(record) = verifications.iter().find(|v| v.verification_id == by) else { continue };
        match groups.iter_mut().find(|(r, _)| r.verification_id == record.verification_id) {
            Some((_, claims)) => {
                claims.insert((*name).into(), value.into());
            }
            None => groups.push((record, Map::from_iter([((*name).to_owned(), value.into())]))),
        }
    }
    Some(
        groups
            .into_iter()
            .map(|(record, claims)| json!({ "verification": verification(record), "claims": claims }))
            .collect(),
    )
}

/// §5.3 constraints on the trust framework: `value` / `values`, or none.
fn framework_accepted(verification: Option<&Value>) -> bool {
    let Some(wanted) = verification.and_then(|v| v.get("trust_framework")).and_then(Value::as_object) else {
        return true;
    };
    if let Some(value) = wanted.get("value") {
        return value == TRUST_FRAMEWORK;
    }
    if let Some(values) = wanted.get("values").and_then(Value::as_array) {
        return values.iter().any(|v| v == TRUST_FRAMEWORK);
    }
    true
}

fn time_of(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn verification(record: &VerificationRecord) -> Value {
    let time = time_of(record.verified_at);
    json!({
        "trust_framework": TRUST_FRAMEWORK,
        "assurance_level": ASSURANCE_LEVEL,
        "time": time,
        "verification_process": record.verification_id,
        "evidence": [{
            "type": "document",
            "method": record.method,
            "verifier": { "organization": record.organisation_name, "txn": record.verification_id },
            "time": time,
            "document_details": {
                "type": record.document_type,
                "issuer": { "country_code": record.document_issuer },
                "date_of_expiry": record.document_expires,
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AttributeRecord, CitizenRecord};

    fn record() -> VerificationRecord {
        VerificationRecord {
            verification_id: "v1".into(),
            citizen_id: "x".into(),
            kind: "verification".into(),
            organisation_id: "o".into(),
            organisation_name: "Mairie de Toulouse".into(),
            agent_id: "a".into(),
            method: "pipp".into(),
            document_type: "idcard".into(),
            document_issuer: "FRA".into(),
            document_hash: "h".into(),
            document_expires: "2031-06-30".into(),
            attributes: "[]".into(),
            verified_at: 1_796_256_000,
        }
    }

    fn identity() -> Identity {
        let attribute = |name: &str, value: &str, by: Option<&str>| AttributeRecord {
            name: name.into(),
            value: value.into(),
            verified_by: by.map(str::to_owned),
            verified_at: by.map(|_| 1),
            updated_at: 1,
        };
        Identity {
            citizen: CitizenRecord {
                id: "x".into(),
                identifier: "0".into(),
                given_name: "Camille".into(),
                family_name: "Martin".into(),
                email: None,
                created_at: 0,
            },
            attributes: vec![
                attribute("given_name", "Camille", Some("v1")),
                attribute("family_name", "Martin", Some("v1")),
                attribute("birthdate", "1990-05-00", Some("v1")),
                attribute("birthcountry", "99100", None),
            ],
            verifications: vec![record()],
        }
    }

    fn ask(claims: Value) -> Value {
        json!({ "verification": { "trust_framework": null }, "claims": claims })
    }

    #[test]
    fn only_verified_claims_asked_for_and_allowed_are_given_with_their_evidence() {
        let all = |_: &str| true;
        let request = ask(json!({"given_name": null, "birthdate": null, "birthcountry": null, "email": null}));
        let answer = answer(&request, &identity(), &all).expect("an answer");
        assert_eq!(
            answer["claims"],
            json!({"given_name": "Camille", "birthdate": "1990-05-00"}),
            "not birthcountry: unverified"
        );
        let verification = &answer["verification"];
        assert_eq!(verification["trust_framework"], "eidas");
        assert_eq!(verification["assurance_level"], "substantial");
        assert_eq!(verification["time"], "2026-12-03T00:00:00Z");
        let evidence = &verification["evidence"][0];
        assert_eq!((evidence["type"].as_str(), evidence["method"].as_str()), (Some("document"), Some("pipp")));
        assert_eq!(evidence["verifier"]["organization"], "Mairie de Toulouse");
        assert_eq!(evidence["document_details"]["type"], "idcard");
        assert_eq!(evidence["document_details"]["issuer"]["country_code"], "FRA");
        assert!(evidence["document_details"].get("document_number").is_none());

        let no_profile = |_: &str| false;
        assert_eq!(super::answer(&request, &identity(), &no_profile), None);
    }

    #[test]
    fn constraints_and_shapes() {
        let all = |_: &str| true;
        let other_framework =
            json!({"verification": {"trust_framework": {"value": "de_aml"}}, "claims": {"given_name": null}});
        assert_eq!(answer(&other_framework, &identity(), &all), None);
        let listed = json!({"verification": {"trust_framework": {"values": ["de_aml", "eidas"]}}, "claims": {"given_name": null}});
        assert!(answer(&listed, &identity(), &all).is_some());
        let array = json!([ask(json!({"given_name": null})), ask(json!({"family_name": null}))]);
        let answered = answer(&array, &identity(), &all).unwrap();
        assert_eq!(answered.as_array().map(Vec::len), Some(2));
        assert_eq!(answer(&ask(json!({"gender": null})), &identity(), &all), None, "nothing verified");
        assert_eq!(answer(&json!("junk"), &identity(), &all), None);
        let mut unrecorded = identity();
        unrecorded.verifications.clear();
        assert_eq!(answer(&ask(json!({"given_name": null})), &unrecorded, &all), None, "no record, no claim");
    }
}
