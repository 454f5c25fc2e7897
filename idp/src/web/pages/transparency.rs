//! The account page's transparency sections: connected services (revoke),
//! activity history, export and deletion; and the page after deletion.
//! Every dynamic value escaped, every string from the catalogue.

use std::fmt::Write as _;

use super::Frame;
use super::consent::scope_key;
use crate::audit::AuditEvent;
use crate::citizen::transparency::{Activity, ConnectedService};
use crate::i18n::Lang;
use crate::scope::Scope;
use crate::store::{AttributeRecord, VerificationRecord};
use crate::web::html::{Page, esc, layout, when};

/// Catalogue key of an activity (`None`: a kind this version does not know).
pub fn activity_key(event: Option<&AuditEvent>) -> &'static str {
    use AuditEvent as E;
    let Some(event) = event else { return "activity.other" };
    match event {
        E::SignedUp => "activity.signed_up",
        E::SignedIn { .. } => "activity.signed_in",
        E::OtherSessionsEnded { .. } => "activity.others_ended",
        E::PasskeyAdded { .. } => "activity.passkey_added",
        E::PasskeyRenamed { .. } => "activity.passkey_renamed",
        E::PasskeyRemoved { .. } => "activity.passkey_removed",
        E::PasskeysRevoked { .. } => "activity.passkeys_revoked",
        E::CounterRegression { .. } => "activity.counter_regression",
        E::RecoveryCodesIssued { .. } => "activity.codes_issued",
        E::RecoveryUsed => "activity.recovery_used",
        E::RecoveryRefused { .. } => "activity.recovery_refused",
        E::RecoveryLimited => "activity.recovery_limited",
        E::ConsentGranted { .. } => "activity.consent_granted",
        E::ConsentRevoked { .. } => "activity.consent_revoked",
        E::ClaimsReleased { .. } => "activity.claims_released",
        E::IdentityUpdated { .. } => "activity.identity_updated",
        E::IdentityVerified { method, .. } if method == "email" => "activity.email_verified",
        E::IdentityVerified { .. } => "activity.identity_verified",
        E::RecoveryAssisted { .. } => "activity.recovery_assisted",
    }
}

/// Catalogue key naming a claim in plain words.
pub fn claim_key(claim: &str) -> Option<&'static str> {
    Some(match claim {
        "given_name" => "claim.given_name",
        "family_name" => "claim.family_name",
        "birthdate" => "claim.birthdate",
        "gender" => "claim.gender",
        "birthplace" => "claim.birthplace",
        "birthcountry" => "claim.birthcountry",
        "email" => "claim.email",
        "email_verified" => "claim.email_verified",
        "phone_number" => "claim.phone_number",
        "phone_number_verified" => "claim.phone_number_verified",
        "address" => "claim.address",
        "citizen_identifier" => "claim.citizen_identifier",
        _ => return None,
    })
}

fn claim_list(lang: Lang, claims: &[String]) -> String {
    claims.iter().map(|c| claim_key(c).map_or_else(|| esc(c), |k| esc(lang.t(k)))).collect::<Vec<_>>().join(", ")
}

/// Each scope in plain words (the consent page's wording), unknown ones as sent.
fn scope_list(lang: Lang, scopes: &Scope) -> String {
    scopes.iter().map(|s| format!("<li>{}</li>", scope_key(s).map_or_else(|| esc(s), |key| esc(lang.t(key))))).collect()
}

/// `<dt>`/`<dd>` rows of the identity record's other attributes, each
/// with who verified it and when (or "declared by you").
pub fn attribute_rows(lang: Lang, attributes: &[AttributeRecord], verifications: &[VerificationRecord]) -> String {
    let mut rows = String::new();
    for a in attributes {
        let (label, value) = match claim_key(&a.name) {
            Some(key) if !matches!(a.name.as_str(), "given_name" | "family_name" | "email") => (lang.t(key), &a.value),
            _ => continue,
        };
        let status = match (&a.verified_by, a.verified_at) {
            (Some(by), Some(at)) => {
                // A verification names its organisation; older rows name the verifier as text.
                let who = verifications
                    .iter()
                    .find(|v| &v.verification_id == by)
                    .map_or(by.as_str(), |v| v.organisation_name.as_str());
                format!("{} {} · {}", esc(lang.t("account.verified_by")), esc(who), esc(&when(at)))
            }
            _ => esc(lang.t("account.self_declared")),
        };
        let _ = write!(rows, "<dt>{}</dt><dd>{} <span class=\"hint\">({status})</span></dd>", esc(label), esc(value));
    }
    rows
}

/// Every check of the citizen's identity at a counter, and every assisted
/// recovery: who (organisation, in the role of counter agent), what, when.
pub fn verifications(lang: Lang, verifications: &[VerificationRecord]) -> String {
    let t = |k| lang.t(k);
    let mut out = format!(r#"<h2 id="verifications-title">{}</h2>"#, esc(t("account.verifications")));
    if verifications.is_empty() {
        let _ = write!(out, "<p>{}</p>", esc(t("account.verifications_none")));
        return out;
    }
    out.push_str(r#"<ul aria-labelledby="verifications-title">"#);
    for v in verifications {
        let document = match v.document_type.as_str() {
            "idcard" => t("doc.idcard"),
            "passport" => t("doc.passport"),
            "residence_permit" => t("doc.residence_permit"),
            other => other,
        };
        if v.kind == "email" {
            let _ = write!(out, "<li>{} — {}</li>", esc(&when(v.verified_at)), esc(t("account.verification_email")));
            continue;
        }
        let what = if v.kind == "recovery" {
            esc(t("account.verification_recovery"))
        } else {
            let names: Vec<String> = serde_json::from_str(&v.attributes).unwrap_or_default();
            claim_list(lang, &names)
        };
        let _ = write!(
            out,
            "<li>{when} — {org} ({role}) · {document} · {what}</li>",
            when = esc(&when(v.verified_at)),
            org = esc(&v.organisation_name),
            role = esc(t("role.agent")),
            document = esc(document),
        );
    }
    out.push_str("</ul>");
    out
}

/// Connected services, activity, export and deletion.
pub fn sections(frame: &Frame<'_>, services: &[ConnectedService], activity: &[Activity]) -> String {
    let lang = frame.lang;
    let t = |k| lang.t(k);
    let csrf = esc(frame.csrf);
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<h2 id="services-title">{title}</h2><p>{intro}</p>"#,
        title = esc(t("account.services")),
        intro = esc(t("account.services_intro")),
    );
    if services.is_empty() {
        let _ = write!(body, r#"<p id="no-services">{}</p>"#, esc(t("account.services_none")));
    } else {
        body.push_str(r#"<ul class="cards" aria-labelledby="services-title" id="services">"#);
        for s in services {
            let last = match &s.last_release {
                Some((at, claims)) if !claims.is_empty() => {
                    format!("{} ({})", esc(&when(*at)), claim_list(lang, claims))
                }
                Some((at, _)) => esc(&when(*at)),
                None => esc(t("account.service_never")),
            };
            let _ = write!(
                body,
                r#"<li class="service"><h3>{name}</h3><p>{since_label} {since}</p><p>{scopes_label}</p><ul>{scopes}</ul><p>{last_label} {last}</p>
<form method="post" action="/account/services/revoke"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="client_id" value="{id}"><button type="submit" class="danger">{revoke} <span class="visually-hidden">{name}</span></button></form></li>"#,
                name = esc(&s.client_name),
                since_label = esc(t("account.service_since")),
                since = esc(&when(s.granted_at)),
                scopes_label = esc(t("account.service_scopes")),
                scopes = scope_list(lang, &s.scope),
                last_label = esc(t("account.service_last")),
                id = esc(&s.client_id),
                revoke = esc(t("account.revoke")),
            );
        }
        body.push_str("</ul>");
    }

    let _ = write!(
        body,
        r#"<h2 id="activity-title">{title}</h2><p>{intro}</p><ul class="activity" aria-labelledby="activity-title" id="activity">"#,
        title = esc(t("account.activity")),
        intro = esc(t("account.activity_intro")),
    );
    for a in activity {
        let mut line = esc(t(activity_key(a.event.as_ref())));
        if let Some(service) = &a.service {
            let _ = write!(line, " — {}", esc(service));
        }
        if let Some(device) = &a.device {
            let _ = write!(line, " — {}", esc(device));
        }
        if !a.items.is_empty() {
            let items = if matches!(a.event, Some(AuditEvent::ClaimsReleased { .. })) {
                claim_list(lang, &a.items)
            } else {
                a.items.iter().map(|i| esc(i)).collect::<Vec<_>>().join(", ")
            };
            let _ = write!(line, " ({items})");
        }
        if let Some(acr) = &a.acr {
            let _ = write!(line, " · {} {}", esc(t("account.level")), esc(acr));
        }
        let _ = write!(body, r#"<li><time>{}</time> {line}</li>"#, esc(&when(a.at)));
    }
    let _ = write!(
        body,
        r#"</ul>
<h2>{data_title}</h2>
<p>{export_intro}</p>
<form method="post" action="/account/export"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="secondary">{export}</button></form>
<h3>{delete_title}</h3>
<p>{delete_intro}</p>
<form method="post" action="/account/delete"><input type="hidden" name="csrf" value="{csrf}"><div class="field"><input type="checkbox" id="delete-confirm" name="confirm" value="yes" required><label for="delete-confirm">{confirm}</label></div><button type="submit" class="danger">{delete}</button></form>"#,
        data_title = esc(t("account.data")),
        export_intro = esc(t("account.export_intro")),
        export = esc(t("account.export")),
        delete_title = esc(t("account.delete_title")),
        delete_intro = esc(t("account.delete_intro")),
        confirm = esc(t("account.delete_confirm")),
        delete = esc(t("account.delete")),
    );
    body
}

/// Shown once the account is deleted (the browser is signed out).
pub fn account_deleted(lang: Lang) -> String {
    let body = format!(
        r#"<p role="status">{done}</p><p>{identifier}</p><p><a href="/signup">{again}</a></p>"#,
        done = esc(lang.t("deleted.done")),
        identifier = esc(lang.t("deleted.identifier")),
        again = esc(lang.t("deleted.signup")),
    );
    layout(&Page {
        lang,
        title: lang.t("deleted.title"),
        body,
        csrf: "",
        signed_in: false,
        path: "/signin",
        refresh_to: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_exists_in_both_languages() {
        let events = crate::audit::one_of_each();
        let keys = events
            .iter()
            .map(Some)
            .chain([None])
            .map(activity_key)
            .chain(crate::oidc::claims::RELEASABLE.iter().map(|c| claim_key(c).unwrap_or("missing")));
        for key in keys {
            for lang in [Lang::Fr, Lang::En] {
                assert_ne!(lang.t(key), key, "{key} in {lang:?}");
            }
        }
    }

    #[test]
    fn service_names_and_details_are_escaped() {
        let evil = "<img src=x onerror=alert(1)>";
        let frame = Frame { lang: Lang::En, csrf: "c", signed_in: true, path: "/account" };
        let services = vec![ConnectedService {
            client_id: evil.into(),
            client_name: evil.into(),
            scope: ["openid", evil].into_iter().collect(),
            granted_at: 0,
            last_release: Some((0, vec![evil.into()])),
        }];
        let released = AuditEvent::ClaimsReleased {
            client_id: evil.into(),
            client_name: evil.into(),
            to: "userinfo".into(),
            scope: vec![evil.into()],
            claims: vec![evil.into()],
            acr: evil.into(),
        };
        let activity = vec![Activity {
            event: Some(released),
            at: 0,
            service: Some(evil.into()),
            device: Some(evil.into()),
            items: vec![evil.into()],
            acr: Some(evil.into()),
        }];
        let html = sections(&frame, &services, &activity);
        assert!(!html.contains("<img"), "{html}");
        let attributes = [AttributeRecord {
            name: "birthplace".into(),
            value: evil.into(),
            verified_by: Some(evil.into()),
            verified_at: Some(0),
            updated_at: 0,
        }];
        let rows = attribute_rows(Lang::Fr, &attributes, &[]);
        assert!(rows.contains("lieu de naissance") && !rows.contains("<img"), "{rows}");
    }
}
