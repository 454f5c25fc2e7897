//! The identity record ("identité pivot" and contact attributes) with the
//! verification of each attribute, and the assurance levels it supports
//! (DESIGN.md "Assurance"): a session's `acr` is the lower of the
//! identity's level and the authenticator's.

use crate::store::{AttributeRecord, CitizenRecord, Db, StoreError, VerificationRecord};

/// The attributes that must be verified for an identity to reach `eidas2`
/// (`birthplace` too when born in France).
pub const PIVOT: [&str; 5] = ["given_name", "family_name", "birthdate", "gender", "birthcountry"];
/// INSEE code of France in the country code list.
pub const INSEE_FRANCE: &str = "99100";

/// A citizen's record with every attribute and its verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub citizen: CitizenRecord,
    pub attributes: Vec<AttributeRecord>,
    /// The verifications the attributes name (`verified_by`): loaded only
    /// where they are released ([`Identity::load_verifications`]).
    pub verifications: Vec<VerificationRecord>,
}

impl Identity {
    /// The citizen's record and attributes; `None` for an unknown or deleted account.
    pub async fn load(db: &Db, citizen_id: &str) -> Result<Option<Self>, StoreError> {
        let Some(citizen) = db.citizen_by_id(citizen_id).await? else { return Ok(None) };
        let attributes = db.attributes_of(citizen_id).await?;
        Ok(Some(Self { citizen, attributes, verifications: Vec::new() }))
    }

    /// Reads the verification records too (for `verified_claims`).
    pub async fn load_verifications(&mut self, db: &Db) -> Result<(), StoreError> {
        self.verifications = db.verifications_of(&self.citizen.id).await?;
        Ok(())
    }

    /// The current value of an attribute: the `citizens` columns for the
    /// sign-up names and email, the attribute rows for the rest.
    pub fn value(&self, name: &str) -> Option<&str> {
        match name {
            "given_name" => Some(self.citizen.given_name.as_str()),
            "family_name" => Some(self.citizen.family_name.as_str()),
            "email" => self.citizen.email.as_deref(),
            _ => self.attributes.iter().find(|a| a.name == name).map(|a| a.value.as_str()),
        }
    }

    /// Verified by someone trusted, for the value it has now (a corrected
    /// name is unverified until checked again).
    pub fn verified(&self, name: &str) -> bool {
        let Some(current) = self.value(name) else { return false };
        self.attributes
            .iter()
            .any(|a| a.name == name && a.verified_by.is_some() && a.verified_at.is_some() && a.value == current)
    }
}

/// eIDAS assurance levels, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Eidas1,
    Eidas2,
    Eidas3,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eidas1 => "eidas1",
            Self::Eidas2 => "eidas2",
            Self::Eidas3 => "eidas3",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Eidas1, Self::Eidas2, Self::Eidas3].into_iter().find(|l| l.as_str() == value)
    }
}

/// `eidas2` when every pivot attribute is verified (by a counter agent or a
/// trusted provider), else `eidas1` (self-declared). `eidas3` is reserved.
pub fn identity_level(identity: &Identity) -> Level {
    let born_in_france = identity.value("birthcountry") == Some(INSEE_FRANCE);
    let pivot_verified =
        PIVOT.iter().all(|name| identity.verified(name)) && (!born_in_france || identity.verified("birthplace"));
    if pivot_verified { Level::Eidas2 } else { Level::Eidas1 }
}

/// A user-verified passkey (possession + biometric or PIN, `amr` `user`)
/// is `eidas2`; without user verification `eidas1`. `eidas3` needs an
/// allow-listed hardware authenticator, not offered yet.
pub fn authenticator_level(amr: &[String]) -> Level {
    if amr.iter().any(|m| m == "user") { Level::Eidas2 } else { Level::Eidas1 }
}

/// The `acr` of a session: never above what was proven on either side.
pub fn session_acr(identity: &Identity, amr: &[String]) -> Level {
    identity_level(identity).min(authenticator_level(amr))
}

/// A birthdate as the pivot writes it: `YYYY-MM-DD`, or partial with
/// unknown parts as zeros (`YYYY-MM-00`, `YYYY-00-00`).
pub fn valid_birthdate(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let [year, month, day] = parts.as_slice() else { return false };
    let number = |s: &str, len| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    if !(number(year, 4) && number(month, 2) && number(day, 2)) {
        return false;
    }
    let (month, day) = (month.parse::<u8>().unwrap_or(99), day.parse::<u8>().unwrap_or(99));
    month <= 12 && day <= 31 && (month != 0 || day == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(verified: &[&str], born_in: &str) -> Identity {
        let attribute = |name: &str, value: &str| AttributeRecord {
            name: name.into(),
            value: value.into(),
            verified_by: verified.contains(&name).then(|| "agent:mairie-test".to_owned()),
            verified_at: verified.contains(&name).then_some(1),
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
                attribute("given_name", "Camille"),
                attribute("family_name", "Martin"),
                attribute("birthdate", "1990-05-00"),
                attribute("gender", "female"),
                attribute("birthcountry", born_in),
                attribute("birthplace", "75056"),
            ],
            verifications: Vec::new(),
        }
    }

    const ALL: [&str; 6] = ["given_name", "family_name", "birthdate", "gender", "birthcountry", "birthplace"];

    fn amr(methods: &[&str]) -> Vec<String> {
        methods.iter().map(|m| (*m).to_owned()).collect()
    }

    #[test]
    fn acr_is_the_lower_of_identity_and_authenticator() {
        let verified = identity(&ALL, INSEE_FRANCE);
        let declared = identity(&[], INSEE_FRANCE);
        let uv = amr(&["hwk", "user", "mfa"]);
        let synced_uv = amr(&["swk", "user", "mfa"]);
        let no_uv = amr(&["hwk"]);
        assert_eq!(session_acr(&verified, &uv), Level::Eidas2);
        assert_eq!(session_acr(&verified, &synced_uv), Level::Eidas2);
        assert_eq!(session_acr(&verified, &no_uv), Level::Eidas1, "authenticator caps");
        assert_eq!(session_acr(&declared, &uv), Level::Eidas1, "identity caps");
        assert_eq!(session_acr(&declared, &no_uv), Level::Eidas1);
    }

    #[test]
    fn every_pivot_attribute_must_be_verified() {
        for missing in ALL {
            let some: Vec<&str> = ALL.into_iter().filter(|a| *a != missing).collect();
            assert_eq!(identity_level(&identity(&some, INSEE_FRANCE)), Level::Eidas1, "{missing} unverified");
        }
        let abroad: Vec<&str> = ALL.into_iter().filter(|a| *a != "birthplace").collect();
        assert_eq!(identity_level(&identity(&abroad, "99134")), Level::Eidas2, "no commune abroad");
    }

    #[test]
    fn a_corrected_name_is_unverified_until_checked_again() {
        let mut corrected = identity(&ALL, INSEE_FRANCE);
        corrected.citizen.given_name = "Camille-Marie".into();
        assert!(!corrected.verified("given_name"));
        assert_eq!(identity_level(&corrected), Level::Eidas1);
    }

    #[test]
    fn birthdates_may_be_partial() {
        for ok in ["1990-05-17", "1990-05-00", "1990-00-00"] {
            assert!(valid_birthdate(ok), "{ok}");
        }
        for bad in ["1990-00-17", "1990-13-01", "90-05-17", "1990/05/17", "1990-05-32", ""] {
            assert!(!valid_birthdate(bad), "{bad}");
        }
    }
}
