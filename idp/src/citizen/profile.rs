//! What a citizen declares at sign-up, checked before anything is stored.

use serde::{Deserialize, Serialize};

/// Declared identity (self-asserted: assurance `eidas1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
}

/// What is wrong with a declared profile, field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileProblem {
    GivenNameMissing,
    FamilyNameMissing,
    /// Control characters or markup-like characters in a name.
    NameInvalid(&'static str),
    EmailInvalid,
}

impl ProfileProblem {
    /// The form field it concerns.
    pub fn field(self) -> &'static str {
        match self {
            Self::GivenNameMissing => "given_name",
            Self::FamilyNameMissing => "family_name",
            Self::NameInvalid(field) => field,
            Self::EmailInvalid => "email",
        }
    }
}

const NAME_MAX: usize = 100;
const EMAIL_MAX: usize = 254;

impl Profile {
    /// Trims and checks the declared values; every problem is reported.
    pub fn parse(given_name: &str, family_name: &str, email: Option<&str>) -> Result<Self, Vec<ProfileProblem>> {
        let mut problems = Vec::new();
        let given_name = normalise(given_name);
        let family_name = normalise(family_name);
        check_name(&given_name, "given_name", ProfileProblem::GivenNameMissing, &mut problems);
        check_name(&family_name, "family_name", ProfileProblem::FamilyNameMissing, &mut problems);
        let email = email.map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned);
        if email.as_deref().is_some_and(|e| !plausible_email(e)) {
            problems.push(ProfileProblem::EmailInvalid);
        }
        if problems.is_empty() { Ok(Self { given_name, family_name, email }) } else { Err(problems) }
    }

    /// How the citizen is named to their authenticator.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// Trims and collapses inner runs of whitespace.
fn normalise(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_name(value: &str, field: &'static str, missing: ProfileProblem, problems: &mut Vec<ProfileProblem>) {
    if value.is_empty() || value.chars().count() > NAME_MAX {
        problems.push(missing);
    } else if value.chars().any(|c| c.is_control() || matches!(c, '<' | '>' | '"' | '\\' | '{' | '}')) {
        problems.push(ProfileProblem::NameInvalid(field));
    }
}

/// One `@`, something before it, a dotted domain after it, no spaces or
/// control characters: deliverability is for a later verification step.
pub fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    email.len() <= EMAIL_MAX
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_values_are_trimmed_and_checked() {
        let p = Profile::parse("  Élodie   Marie ", "Dupont-Léger", Some(" e@example.fr ")).unwrap();
        assert_eq!(p.given_name, "Élodie Marie");
        assert_eq!(p.email.as_deref(), Some("e@example.fr"));
        assert_eq!(Profile::parse("A", "B", Some("")).unwrap().email, None);
        let problems = Profile::parse(" ", "<b>", Some("nope")).unwrap_err();
        assert_eq!(
            problems,
            vec![
                ProfileProblem::GivenNameMissing,
                ProfileProblem::NameInvalid("family_name"),
                ProfileProblem::EmailInvalid
            ]
        );
        assert!(Profile::parse(&"x".repeat(101), "B", None).is_err());
        for bad in ["a@b", "@b.fr", "a@.fr", "a b@c.fr", "a@b@c.fr"] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }
}
