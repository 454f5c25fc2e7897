//! Identity verification at a town-hall counter (DESIGN.md "Who verifies"):
//! an agent of an organisation checks an identity document in front of the
//! citizen and records the identity it shows. Each verified attribute
//! records the verification (agent, organisation, method, document type,
//! time); document numbers are kept only as a keyed hash, so one document
//! cannot verify two accounts. One transaction per verification. No HTTP.

use crate::audit::AuditEvent;
use crate::clients::Organisation;
use crate::clients::admin::AdminAction;
use crate::clock::UnixTime;
use crate::keys::Keyring;
use crate::store::{
    AttributeRecord, Db, EventRecord, NewAuditEvent, NewVerification, Recorded, StoreError, VerificationRecord,
};

use super::identity::{INSEE_FRANCE, valid_birthdate};

/// OIDC4IDA method: physical in-person proofing.
pub const METHOD_IN_PERSON: &str = "pipp";

/// The documents an agent checks (OIDC4IDA document types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Carte nationale d'identité.
    Idcard,
    Passport,
    /// Titre de séjour.
    ResidencePermit,
}

impl DocumentType {
    pub const ALL: [DocumentType; 3] = [Self::Idcard, Self::Passport, Self::ResidencePermit];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idcard => "idcard",
            Self::Passport => "passport",
            Self::ResidencePermit => "residence_permit",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == value)
    }
}

/// The document on the counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub kind: DocumentType,
    /// As printed; spaces ignored.
    pub number: String,
    /// Issuing state, ISO 3166-1 alpha-3 (`FRA`), as in the MRZ.
    pub issuer: String,
    /// `YYYY-MM-DD`.
    pub expires_on: String,
}

/// The identity the document shows, as the agent records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentIdentity {
    /// Given names, space-separated, as on the document.
    pub given_name: String,
    pub family_name: String,
    /// `YYYY-MM-DD`, or partial `YYYY-MM-00` / `YYYY-00-00`.
    pub birthdate: String,
    /// `female` or `male` (OIDC Core §5.1).
    pub gender: String,
    /// INSEE country code (`99100` France).
    pub birthcountry: String,
    /// INSEE commune code, for those born in France.
    pub birthplace: Option<String>,
}

/// Who checks: a member with the agent role, for their organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub citizen_id: String,
    pub organisation: Organisation,
}

/// One verification as the agent submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterCheck {
    pub citizen_id: String,
    pub document: Document,
    pub identity: DocumentIdentity,
    /// The agent confirmed that the declared names are to be replaced by
    /// the document's (shown side by side first; never silent).
    pub correct_names: bool,
}

/// A field the agent must correct; the page names each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    DocumentNumber,
    DocumentIssuer,
    DocumentExpiry,
    DocumentExpired,
    GivenName,
    FamilyName,
    Birthdate,
    BirthdateInFuture,
    Gender,
    BirthCountry,
    BirthplaceMissing,
    BirthplaceUnknown,
    BirthplaceAbroad,
}

impl Problem {
    /// The form field at fault.
    pub fn field(self) -> &'static str {
        match self {
            Self::DocumentNumber => "document_number",
            Self::DocumentIssuer => "document_issuer",
            Self::DocumentExpiry | Self::DocumentExpired => "document_expires",
            Self::GivenName => "given_name",
            Self::FamilyName => "family_name",
            Self::Birthdate | Self::BirthdateInFuture => "birthdate",
            Self::Gender => "gender",
            Self::BirthCountry => "birthcountry",
            Self::BirthplaceMissing | Self::BirthplaceUnknown | Self::BirthplaceAbroad => "birthplace",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the form has problems: {0:?}")]
    Invalid(Vec<Problem>),
    /// The document's names differ from the declared ones: the agent must
    /// confirm the correction.
    #[error("the document's names differ from the declared ones")]
    NamesDiffer { declared: (String, String), document: (String, String) },
    #[error("this document already verified another account")]
    DocumentTaken,
    #[error("the citizen's account no longer exists")]
    UnknownCitizen,
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl crate::outage::Failure for VerifyError {
    fn unavailable(&self) -> Option<crate::outage::Dependency> {
        match self {
            Self::Store(e) => e.unavailable(),
            _ => None,
        }
    }
}

/// What a verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub verification_id: String,
    pub attributes: Vec<&'static str>,
}

/// Today's date (UTC) as `YYYY-MM-DD`, from the injected clock.
pub fn date_of(now: UnixTime) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(now).map(|t| t.date()).unwrap_or(time::Date::MIN);
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

fn valid_date(value: &str) -> bool {
    valid_birthdate(value) && !value.ends_with("-00")
}

fn clean_name(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn name_ok(value: &str) -> bool {
    let n = value.chars().count();
    (1..=100).contains(&n) && value.chars().all(|c| c.is_alphabetic() || " -'’.".contains(c))
}

/// Names compared as a document writes them: the MRZ has no accents, no
/// case and `<` for hyphens and apostrophes, so `Dupont-Léger` and
/// `DUPONT LEGER` are the same name.
pub fn same_name(a: &str, b: &str) -> bool {
    fold(a) == fold(b)
}

/// Upper case, no accents, hyphens and apostrophes as spaces (also how
/// place names are looked up by name).
pub fn fold(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        let base = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "A",
            'ç' | 'Ç' => "C",
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "E",
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "I",
            'ñ' | 'Ñ' => "N",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => "O",
            'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "U",
            'ý' | 'ÿ' | 'Ý' | 'Ÿ' => "Y",
            'œ' | 'Œ' => "OE",
            'æ' | 'Æ' => "AE",
            'ß' => "SS",
            '-' | '\'' | '’' | '.' | '<' => " ",
            other => {
                out.extend(other.to_uppercase());
                continue;
            }
        };
        out.push_str(base);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks every field at once (the page shows every problem together).
/// Countries and communes are read from the official geographic code
/// (`citizen::cog`); any code it ever had is a birthplace, since one is born
/// in the commune of that day even if it has since merged.
pub fn check(form: &CounterCheck, today: &str) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    let d = &form.document;
    let number: String = d.number.chars().filter(|c| !c.is_whitespace()).collect();
    if !(1..=20).contains(&number.len()) || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
        problems.push(Problem::DocumentNumber);
    }
    // ICAO state codes: three letters, or fewer (`D` for Germany).
    if !(1..=3).contains(&d.issuer.len()) || !d.issuer.bytes().all(|b| b.is_ascii_uppercase()) {
        problems.push(Problem::DocumentIssuer);
    }
    if !valid_date(&d.expires_on) {
        problems.push(Problem::DocumentExpiry);
    } else if d.expires_on.as_str() < today {
        problems.push(Problem::DocumentExpired);
    }
    let i = &form.identity;
    if !name_ok(&clean_name(&i.given_name)) {
        problems.push(Problem::GivenName);
    }
    if !name_ok(&clean_name(&i.family_name)) {
        problems.push(Problem::FamilyName);
    }
    if !valid_birthdate(&i.birthdate) {
        problems.push(Problem::Birthdate);
    } else if i.birthdate.as_str() > today {
        problems.push(Problem::BirthdateInFuture);
    }
    if !matches!(i.gender.as_str(), "female" | "male") {
        problems.push(Problem::Gender);
    }
    let place = i.birthplace.as_deref().filter(|p| !p.is_empty());
    if super::cog::country(&i.birthcountry).is_none() {
        problems.push(Problem::BirthCountry);
    } else {
        match (i.birthcountry == INSEE_FRANCE, place) {
            (true, None) => problems.push(Problem::BirthplaceMissing),
            (true, Some(code)) if super::cog::commune(code).is_none() => problems.push(Problem::BirthplaceUnknown),
            (false, Some(_)) => problems.push(Problem::BirthplaceAbroad),
            _ => {}
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// Records a counter verification: checked, names compared with the
/// declared ones, the document claimed for this account, every pivot
/// attribute marked verified by this verification — in one transaction.
pub async fn verify_at_counter(
    db: &Db,
    keys: &Keyring,
    agent: &Agent,
    form: &CounterCheck,
    now: UnixTime,
) -> Result<Verified, VerifyError> {
    check(form, &date_of(now)).map_err(VerifyError::Invalid)?;
    let citizen = db.citizen_by_id(&form.citizen_id).await?.ok_or(VerifyError::UnknownCitizen)?;
    let i = &form.identity;
    let (given_name, family_name) = (clean_name(&i.given_name), clean_name(&i.family_name));
    let same = same_name(&citizen.given_name, &given_name) && same_name(&citizen.family_name, &family_name);
    if !same && !form.correct_names {
        return Err(VerifyError::NamesDiffer {
            declared: (citizen.given_name, citizen.family_name),
            document: (given_name, family_name),
        });
    }
    // The declared spelling (accents, case) is kept when it is the same name.
    let names =
        if same { (citizen.given_name.clone(), citizen.family_name.clone()) } else { (given_name, family_name) };
    let verification_id = crate::random::id();
    let mut values: Vec<(&'static str, String)> = vec![
        ("given_name", names.0.clone()),
        ("family_name", names.1.clone()),
        ("birthdate", i.birthdate.clone()),
        ("gender", i.gender.clone()),
        ("birthcountry", i.birthcountry.clone()),
    ];
    if let Some(place) = i.birthplace.as_deref().filter(|p| !p.is_empty()) {
        values.push(("birthplace", place.to_owned()));
    }
    let attributes: Vec<AttributeRecord> = values
        .iter()
        .map(|(name, value)| AttributeRecord {
            name: (*name).to_owned(),
            value: value.clone(),
            verified_by: Some(verification_id.clone()),
            verified_at: Some(now),
            updated_at: now,
        })
        .collect();
    let names_verified: Vec<&'static str> = values.iter().map(|(name, _)| *name).collect();
    let d = &form.document;
    let record = VerificationRecord {
        verification_id: verification_id.clone(),
        attributes: serde_json::to_string(&names_verified).unwrap_or_else(|_| "[]".into()),
        ..counter_record(keys, agent, &form.citizen_id, d, now)
    };
    let history = NewAuditEvent::new(
        &form.citizen_id,
        AuditEvent::IdentityVerified {
            organisation: agent.organisation.name.clone(),
            method: METHOD_IN_PERSON.into(),
            document: d.kind.as_str().into(),
            attributes: names_verified.iter().map(|n| (*n).to_owned()).collect(),
            names_corrected: !same,
        },
        now,
    );
    let log = log_entry(agent, AdminAction::IdentityVerified, &form.citizen_id, d.kind, now);
    let corrected = (!same).then_some((names.0.as_str(), names.1.as_str()));
    let new = NewVerification {
        record: &record,
        attributes: &attributes,
        names: corrected,
        history: &history,
        log: Some(&log),
    };
    match db.record_verification(&new).await? {
        Recorded::Done => Ok(Verified { verification_id, attributes: names_verified }),
        Recorded::DocumentTaken => Err(VerifyError::DocumentTaken),
        Recorded::NoCitizen => Err(VerifyError::UnknownCitizen),
    }
}

/// The record of an agent's document check at a counter: kind
/// `verification`, no attributes (the caller names what it verified).
pub(super) fn counter_record(
    keys: &Keyring,
    agent: &Agent,
    citizen_id: &str,
    document: &Document,
    now: UnixTime,
) -> VerificationRecord {
    VerificationRecord {
        verification_id: crate::random::id(),
        citizen_id: citizen_id.to_owned(),
        kind: "verification".into(),
        organisation_id: agent.organisation.organisation_id.clone(),
        organisation_name: agent.organisation.name.clone(),
        agent_id: agent.citizen_id.clone(),
        method: METHOD_IN_PERSON.into(),
        document_type: document.kind.as_str().into(),
        document_issuer: document.issuer.clone(),
        document_hash: document_digest(keys, document),
        document_expires: document.expires_on.clone(),
        attributes: "[]".into(),
        verified_at: now,
    }
}

/// The keyed hash that stands for a document (its number never stored):
/// the same document typed with spaces or in lower case hashes alike.
pub fn document_digest(keys: &Keyring, document: &Document) -> String {
    let number: String =
        document.number.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    keys.evidence_digest(&["document", document.kind.as_str(), &document.issuer, &number])
}

/// The administrators' log entry of an agent's act on a citizen.
pub(super) fn log_entry(
    agent: &Agent,
    action: AdminAction,
    citizen_id: &str,
    document: DocumentType,
    now: UnixTime,
) -> EventRecord {
    crate::clients::Actor::member(&agent.citizen_id).record(
        action,
        Some(&agent.organisation.organisation_id),
        citizen_id,
        serde_json::json!({ "document": document.as_str(), "method": METHOD_IN_PERSON }),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> CounterCheck {
        CounterCheck {
            citizen_id: "c".into(),
            document: Document {
                kind: DocumentType::Idcard,
                number: "X4RTBPFW4".into(),
                issuer: "FRA".into(),
                expires_on: "2030-01-01".into(),
            },
            identity: DocumentIdentity {
                given_name: "Élodie Marie".into(),
                family_name: "Dupont-Léger".into(),
                birthdate: "1990-05-17".into(),
                gender: "female".into(),
                birthcountry: "99100".into(),
                birthplace: Some("75056".into()),
            },
            correct_names: false,
        }
    }

    #[test]
    fn a_complete_form_passes() {
        assert_eq!(check(&form(), "2026-12-03"), Ok(()));
        let mut abroad = form();
        abroad.identity.birthcountry = "99134".into();
        abroad.identity.birthplace = None;
        assert_eq!(check(&abroad, "2026-12-03"), Ok(()), "no commune abroad");
    }

    #[test]
    fn every_problem_is_named() {
        let today = "2026-12-03";
        let with = |change: fn(&mut CounterCheck)| {
            let mut f = form();
            change(&mut f);
            check(&f, today).err().unwrap_or_default()
        };
        assert_eq!(with(|f| f.document.expires_on = "2026-12-02".into()), [Problem::DocumentExpired]);
        assert_eq!(with(|f| f.document.expires_on = "2026-12-00".into()), [Problem::DocumentExpiry]);
        assert_eq!(with(|f| f.document.number = "X4/RT".into()), [Problem::DocumentNumber]);
        assert_eq!(with(|f| f.document.issuer = "fr".into()), [Problem::DocumentIssuer]);
        assert_eq!(with(|f| f.document.issuer = "FRAN".into()), [Problem::DocumentIssuer]);
        assert_eq!(with(|f| f.document.issuer = "D".into()), [], "Germany's ICAO code");
        assert_eq!(with(|f| f.identity.birthdate = "2027-01-01".into()), [Problem::BirthdateInFuture]);
        assert_eq!(with(|f| f.identity.birthdate = "1990-13-01".into()), [Problem::Birthdate]);
        assert_eq!(with(|f| f.identity.gender = "x".into()), [Problem::Gender]);
        assert_eq!(with(|f| f.identity.birthcountry = "99999".into()), [Problem::BirthCountry]);
        assert_eq!(with(|f| f.identity.birthplace = None), [Problem::BirthplaceMissing]);
        assert_eq!(with(|f| f.identity.birthplace = Some("99999".into())), [Problem::BirthplaceUnknown]);
        assert_eq!(with(|f| f.identity.given_name = "R2-D2".into()), [Problem::GivenName]);
        assert_eq!(with(|f| f.identity.family_name = " ".into()), [Problem::FamilyName]);
        let mut abroad_with_commune = form();
        abroad_with_commune.identity.birthcountry = "99134".into();
        assert_eq!(check(&abroad_with_commune, today), Err(vec![Problem::BirthplaceAbroad]));
        // Partial birth dates are fine; several problems come together.
        assert_eq!(with(|f| f.identity.birthdate = "1990-00-00".into()), []);
        let many = with(|f| {
            f.document.expires_on = "2001-01-01".into();
            f.identity.gender = String::new();
        });
        assert_eq!(many, [Problem::DocumentExpired, Problem::Gender]);
    }

    #[test]
    fn names_compare_as_a_document_writes_them() {
        assert!(same_name("Dupont-Léger", "DUPONT LEGER"));
        assert!(same_name("Élodie  Marie", "ELODIE MARIE"));
        assert!(same_name("N’Diaye", "N DIAYE"));
        assert!(same_name("Lætitia", "LAETITIA"));
        assert!(!same_name("Dupont", "Dupond"));
        assert!(!same_name("Marie", "Marie Claire"));
    }

    #[test]
    fn dates_come_from_the_clock() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(1_796_256_000), "2026-12-03");
    }
}
