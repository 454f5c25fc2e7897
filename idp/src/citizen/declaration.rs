//! What the citizen declares on `/account/identity`: names, birth date
//! (partial allowed), gender, birth country and commune (INSEE codes,
//! typed or chosen by name), address (OIDC Core §5.1.1) and phone number
//! (E.164). Checked field by field at once; saved in one transaction where
//! an unchanged value keeps its verification and a changed one loses it.

use serde_json::{Map, Value};

use super::cog;
use super::identity::{INSEE_FRANCE, valid_birthdate};
use super::profile::Profile;
use crate::audit::AuditEvent;
use crate::clock::UnixTime;
use crate::store::{AttributeRecord, Db, NewAuditEvent, StoreError};

/// The form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclarationForm {
    pub given_name: String,
    pub family_name: String,
    pub birth_day: String,
    pub birth_month: String,
    pub birth_year: String,
    pub gender: String,
    pub birthcountry: String,
    pub birthplace: String,
    pub street_address: String,
    pub postal_code: String,
    pub locality: String,
    pub country: String,
    pub phone_number: String,
}

/// A field to correct, with the catalogue key of what is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclareProblem {
    pub field: &'static str,
    pub key: &'static str,
}

/// The checked declaration: names, and each other attribute set or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub given_name: String,
    pub family_name: String,
    pub attributes: Vec<(&'static str, Option<String>)>,
}

const TEXT_MAX: usize = 200;

fn problem(field: &'static str, key: &'static str) -> DeclareProblem {
    DeclareProblem { field, key }
}

/// A birth date that is no date (a month 13, a 31 February, a day without a month).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotADate;

/// `YYYY-MM-DD`, `YYYY-MM-00` or `YYYY-00-00` from three fields, the day
/// and month optional; `Ok(None)` when all three are empty.
pub fn birthdate(day: &str, month: &str, year: &str) -> Result<Option<String>, NotADate> {
    let (day, month, year) = (day.trim(), month.trim(), year.trim());
    if day.is_empty() && month.is_empty() && year.is_empty() {
        return Ok(None);
    }
    let two = |s: &str| if s.is_empty() { Some(0) } else { s.parse::<u8>().ok() };
    let (Some(d), Some(m), Ok(y)) = (two(day), two(month), year.parse::<u16>()) else { return Err(NotADate) };
    let date = format!("{y:04}-{m:02}-{d:02}");
    let real_day =
        d == 0 || time::Month::try_from(m).is_ok_and(|month| d <= time::util::days_in_month(month, i32::from(y)));
    if year.len() == 4 && valid_birthdate(&date) && real_day { Ok(Some(date)) } else { Err(NotADate) }
}

/// A phone number in E.164 (`+33612345678`); a French national number
/// (`06 12 34 56 78`) gets `+33`; spaces, dots, dashes and brackets go.
pub fn e164(typed: &str) -> Option<String> {
    let compact: String = typed.chars().filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '\u{a0}')).collect();
    let number = if let Some(rest) = compact.strip_prefix("00") {
        format!("+{rest}")
    } else if compact.len() == 10 && compact.starts_with('0') && !compact.starts_with("00") {
        format!("+33{}", &compact[1..])
    } else {
        compact
    };
    let digits = number.strip_prefix('+')?;
    let ok = (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    ok.then_some(number)
}

/// The commune a citizen typed: an INSEE code, `Name (department)` as the
/// list offers it, or a name only one commune of today bears.
pub fn commune_typed(typed: &str) -> Result<&'static str, &'static str> {
    let typed = typed.trim();
    if let Some(c) = cog::commune(typed) {
        return Ok(c.code);
    }
    let (name, department) = match typed.rsplit_once(" (") {
        Some((name, rest)) => (name, rest.strip_suffix(')')),
        None => (typed, None),
    };
    let exact: Vec<cog::Commune> = cog::communes_named(name, 50)
        .into_iter()
        .filter(|c| c.name.is_some_and(|n| super::verification::fold(n) == super::verification::fold(name)))
        .filter(|c| department.is_none_or(|d| c.department == d))
        .collect();
    match exact.as_slice() {
        [one] => Ok(one.code),
        [] => Err("declare.birthplace_unknown"),
        _ => Err("declare.birthplace_ambiguous"),
    }
}

fn text(value: &str, field: &'static str, problems: &mut Vec<DeclareProblem>) -> Option<String> {
    let value = value.trim();
    if value.chars().count() > TEXT_MAX || value.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        problems.push(problem(field, "declare.text_invalid"));
        return None;
    }
    (!value.is_empty()).then(|| value.replace("\r\n", "\n"))
}

impl DeclarationForm {
    /// Every problem at once, or the declaration. `today` is `YYYY-MM-DD`.
    pub fn check(&self, today: &str) -> Result<Declaration, Vec<DeclareProblem>> {
        let mut problems = Vec::new();
        let names = Profile::parse(&self.given_name, &self.family_name, None).map_err(|found| {
            for p in found {
                problems.push(problem(p.field(), "declare.name_invalid"));
            }
        });
        let birthdate = match birthdate(&self.birth_day, &self.birth_month, &self.birth_year) {
            Ok(Some(date)) if date.as_str() > today => {
                problems.push(problem("birthdate", "declare.birthdate_future"));
                None
            }
            Ok(date) => date,
            Err(NotADate) => {
                problems.push(problem("birthdate", "declare.birthdate_invalid"));
                None
            }
        };
        let gender = match self.gender.as_str() {
            "" => None,
            "female" | "male" => Some(self.gender.clone()),
            _ => {
                problems.push(problem("gender", "declare.gender_invalid"));
                None
            }
        };
        let country = self.birthcountry.trim();
        let birthcountry = match cog::country_by_code_or_name(country) {
            _ if country.is_empty() => None,
            Some(c) => Some(c.code.to_owned()),
            None => {
                problems.push(problem("birthcountry", "declare.country_unknown"));
                None
            }
        };
        let place = self.birthplace.trim();
        let country_unknown = !country.is_empty() && birthcountry.is_none();
        let birthplace = match (birthcountry.as_deref(), place.is_empty()) {
            (_, true) => None,
            // Judged once the country is known.
            (None, false) if country_unknown => None,
            (Some(INSEE_FRANCE), false) => match commune_typed(place) {
                Ok(code) => Some(code.to_owned()),
                Err(key) => {
                    problems.push(problem("birthplace", key));
                    None
                }
            },
            (_, false) => {
                problems.push(problem("birthplace", "declare.birthplace_abroad"));
                None
            }
        };
        let mut address = Map::new();
        for (name, value) in [
            ("street_address", &self.street_address),
            ("postal_code", &self.postal_code),
            ("locality", &self.locality),
            ("country", &self.country),
        ] {
            if let Some(v) = text(value, name, &mut problems) {
                address.insert(name.into(), Value::String(v));
            }
        }
        if address.get("postal_code").and_then(Value::as_str).is_some_and(|p| {
            p.chars().count() > 16 || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
        }) {
            problems.push(problem("postal_code", "declare.postal_code_invalid"));
        }
        if !address.is_empty() {
            let formatted = ["street_address", "postal_code", "locality", "country"]
                .iter()
                .filter_map(|k| address.get(*k).and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n");
            address.insert("formatted".into(), Value::String(formatted));
        }
        let phone = self.phone_number.trim();
        let phone_number = match e164(phone) {
            _ if phone.is_empty() => None,
            Some(number) => Some(number),
            None => {
                problems.push(problem("phone_number", "declare.phone_invalid"));
                None
            }
        };
        match names {
            Ok(profile) if problems.is_empty() => Ok(Declaration {
                given_name: profile.given_name,
                family_name: profile.family_name,
                attributes: vec![
                    ("birthdate", birthdate),
                    ("gender", gender),
                    ("birthcountry", birthcountry),
                    ("birthplace", birthplace),
                    ("address", (!address.is_empty()).then(|| Value::Object(address).to_string())),
                    ("phone_number", phone_number),
                ],
            }),
            _ => Err(problems),
        }
    }
}

/// Saves a declaration (one transaction); `false` if the account is gone.
pub async fn declare(db: &Db, citizen_id: &str, d: &Declaration, now: UnixTime) -> Result<bool, StoreError> {
    let set: Vec<AttributeRecord> = d
        .attributes
        .iter()
        .filter_map(|(name, value)| {
            Some(AttributeRecord {
                name: (*name).to_owned(),
                value: value.clone()?,
                verified_by: None,
                verified_at: None,
                updated_at: now,
            })
        })
        .collect();
    let removed: Vec<&str> = d.attributes.iter().filter(|(_, v)| v.is_none()).map(|(n, _)| *n).collect();
    let event = NewAuditEvent::new(citizen_id, AuditEvent::IdentityUpdated { verified_by: None }, now);
    db.declare_identity(citizen_id, (&d.given_name, &d.family_name), &set, &removed, &event).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> DeclarationForm {
        DeclarationForm {
            given_name: "Camille".into(),
            family_name: "Martin".into(),
            birth_day: "17".into(),
            birth_month: "5".into(),
            birth_year: "1990".into(),
            gender: "female".into(),
            birthcountry: "France".into(),
            birthplace: "Paris".into(),
            street_address: "1 place de la Mairie".into(),
            postal_code: "75001".into(),
            locality: "Paris".into(),
            country: "France".into(),
            phone_number: "06 12 34 56 78".into(),
        }
    }

    fn problems(edit: impl FnOnce(&mut DeclarationForm)) -> Vec<&'static str> {
        let mut f = form();
        edit(&mut f);
        f.check("2026-12-03").err().unwrap_or_default().iter().map(|p| p.field).collect()
    }

    #[test]
    fn a_full_declaration_is_read_with_codes() {
        let d = form().check("2026-12-03").unwrap();
        let get = |n| d.attributes.iter().find(|(name, _)| *name == n).and_then(|(_, v)| v.clone());
        assert_eq!(get("birthdate").as_deref(), Some("1990-05-17"));
        assert_eq!(get("birthcountry").as_deref(), Some("99100"));
        assert_eq!(get("birthplace").as_deref(), Some("75056"));
        assert_eq!(get("phone_number").as_deref(), Some("+33612345678"));
        let address: Value = serde_json::from_str(&get("address").unwrap()).unwrap();
        assert_eq!(address["postal_code"], "75001");
        assert_eq!(address["formatted"], "1 place de la Mairie\n75001\nParis\nFrance");
    }

    #[test]
    fn partial_dates_and_empty_fields_are_allowed() {
        assert_eq!(birthdate("", "", "1990"), Ok(Some("1990-00-00".into())));
        assert_eq!(birthdate("", "05", "1990"), Ok(Some("1990-05-00".into())));
        assert_eq!(birthdate("", "", ""), Ok(None));
        assert!(birthdate("17", "", "1990").is_err(), "a day without a month");
        assert!(birthdate("31", "02", "1990").is_err());
        assert!(birthdate("1", "1", "90").is_err(), "four-digit years");
        let d = DeclarationForm { given_name: "A".into(), family_name: "B".into(), ..Default::default() };
        assert!(d.check("2026-12-03").unwrap().attributes.iter().all(|(_, v)| v.is_none()));
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(problems(|f| f.birth_year = "2030".into()), ["birthdate"]);
        assert_eq!(problems(|f| f.birth_month = "13".into()), ["birthdate"]);
        assert_eq!(problems(|f| f.birthcountry = "Atlantide".into()), ["birthcountry"]);
        assert_eq!(problems(|f| f.birthplace = "Nulle-Part-sur-Mer".into()), ["birthplace"]);
        assert_eq!(problems(|f| f.birthcountry = "99132".into()), ["birthplace"], "a commune abroad");
        assert_eq!(problems(|f| f.phone_number = "12".into()), ["phone_number"]);
        assert_eq!(problems(|f| f.postal_code = "750<01".into()), ["postal_code"]);
        assert_eq!(problems(|f| f.gender = "x".into()), ["gender"]);
        assert_eq!(problems(|f| f.given_name = String::new()), ["given_name"]);
    }

    #[test]
    fn communes_by_code_name_and_department() {
        assert_eq!(commune_typed("75056"), Ok("75056"));
        assert_eq!(commune_typed("paris"), Ok("75056"));
        assert_eq!(commune_typed("Saint-Denis"), Err("declare.birthplace_ambiguous"));
        assert_eq!(commune_typed("Saint-Denis (93)"), Ok("93066"));
        assert_eq!(e164("+44 20 7946 0958").as_deref(), Some("+442079460958"));
        assert_eq!(e164("0033 6 12 34 56 78").as_deref(), Some("+33612345678"));
        assert_eq!(e164("+0612"), None);
    }
}
