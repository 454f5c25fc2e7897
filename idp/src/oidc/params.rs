//! Request parameters as the RFCs read them: `application/x-www-form-urlencoded`
//! pairs where a parameter sent twice is an error (RFC 6749 §3.1, §3.2) and an
//! empty value counts as absent.

use std::collections::BTreeMap;

use super::error::OAuthError;

/// Upper bound of any single parameter value we accept.
const MAX_VALUE: usize = 4_096;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses a query string or form body.
    pub fn parse(input: &[u8]) -> Result<Self, OAuthError> {
        let mut map = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(input) {
            if value.len() > MAX_VALUE {
                return Err(OAuthError::invalid_request(format!("parameter {name} is too long")));
            }
            if value.is_empty() {
                continue;
            }
            if map.insert(name.clone().into_owned(), value.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(format!("parameter {name} is repeated")));
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The parameters as a query string (form-urlencoded again).
    pub fn to_query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_ignored() {
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        let err = Params::parse(b"a=1&a=2").unwrap_err();
        assert!(err.description.contains("repeated"));
        assert!(Params::parse(&[b"a=".as_slice(), &vec![b'x'; 5000]].concat()).is_err());
    }

    mod properties {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::*;
        use crate::web::extract::{form_field, query_param};

        proptest! {
            #![proptest_config(crate::properties::config())]

            #[test]
            fn any_body_is_read_or_refused_without_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = Params::parse(&body);
                let _ = form_field(&body, "csrf");
                let _ = query_param(Some(&String::from_utf8_lossy(&body)), "next");
            }

            #[test]
            fn encoded_parameters_read_back(
                params in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..6),
            ) {
                let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
                let read = Params::parse(encoded.as_bytes()).unwrap();
                let sent: BTreeMap<String, String> = params.into_iter().filter(|(_, v)| !v.is_empty()).collect();
                for (name, value) in &sent {
                    prop_assert_eq!(read.get(name), Some(value.as_str()));
                    prop_assert_eq!(form_field(encoded.as_bytes(), name), Some(value.clone()));
                    prop_assert_eq!(query_param(Some(&encoded), name), Some(value.clone()));
                }
                prop_assert_eq!(read, Params(sent));
            }

            #[test]
            fn a_repeated_parameter_is_refused(name in any::<String>(), a in ".+", b in ".+") {
                let encoded =
                    url::form_urlencoded::Serializer::new(String::new()).extend_pairs([(&name, &a), (&name, &b)]).finish();
                prop_assert!(Params::parse(encoded.as_bytes()).is_err());
            }
        }
    }
}
