//! OAuth 2.0 scope (RFC 6749 §3.3): one type from the request to storage
//! and tokens. Written everywhere as the space-separated string (JWT `scope`
//! claim, token and introspection answers, database columns).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Scope tokens, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(Vec<String>);

/// The tokens of a space-delimited list (scopes, `acr_values`), empty
/// parts dropped.
pub fn space_separated(text: &str) -> impl Iterator<Item = &str> {
    text.split(' ').filter(|s| !s.is_empty())
}

impl Scope {
    pub fn parse(text: &str) -> Self {
        space_separated(text).collect()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|s| s == token)
    }

    /// Every token of this scope is in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.iter().all(|s| other.contains(s))
    }

    /// The tokens of this scope that `other` also holds.
    pub fn narrowed_to(&self, other: &Scope) -> Scope {
        self.iter().filter(|s| other.contains(s)).collect()
    }

    /// Both scopes' tokens, sorted, each once.
    pub fn union(&self, other: &Scope) -> Scope {
        self.iter().chain(other.iter()).collect::<Scope>().sorted()
    }

    /// Sorted, each token once: how requests and consents keep it.
    pub fn sorted(mut self) -> Scope {
        self.0.sort();
        self.0.dedup();
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The tokens as a list (audit details keep scopes as JSON arrays).
    pub fn as_list(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> FromIterator<&'a str> for Scope {
    fn from_iter<I: IntoIterator<Item = &'a str>>(tokens: I) -> Self {
        Scope(tokens.into_iter().map(str::to_owned).collect())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Reads the space-separated string, and also the list that cached codes and
/// pending authorizations held before this type (written by an older replica
/// during a rolling update).
impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            List(Vec<String>),
        }
        Ok(match Form::deserialize(deserializer)? {
            Form::Text(text) => Scope::parse(&text),
            Form::List(list) => list.iter().map(String::as_str).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;

    #[test]
    fn parses_and_writes_the_space_separated_form() {
        let scope = Scope::parse(" openid  profile email");
        assert_eq!(scope.iter().collect::<Vec<_>>(), ["openid", "profile", "email"]);
        assert_eq!(scope.to_string(), "openid profile email");
        assert_eq!(serde_json::to_value(&scope).unwrap(), "openid profile email");
        assert!(Scope::parse("").is_empty());
    }

    #[test]
    fn reads_both_the_string_and_the_older_list_form() {
        let text: Scope = serde_json::from_str(r#""openid email""#).unwrap();
        let list: Scope = serde_json::from_str(r#"["openid","email"]"#).unwrap();
        assert_eq!(text, list);
    }

    #[test]
    fn narrows_widens_and_compares() {
        let granted = Scope::parse("openid profile offline_access");
        let asked = Scope::parse("profile openid");
        assert!(asked.is_subset_of(&granted));
        assert!(!granted.is_subset_of(&asked));
        assert!(granted.contains("offline_access") && !asked.contains("email"));
        assert_eq!(granted.narrowed_to(&asked).to_string(), "openid profile");
        assert_eq!(asked.union(&Scope::parse("email openid")).to_string(), "email openid profile");
    }
}
