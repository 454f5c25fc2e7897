//! What the property tests of untrusted-input parsers share (unit tests
//! beside each parser): 10,000 cases per property, or `PROPTEST_CASES` for
//! the long run (README "Test it"), and arbitrary JSON.

use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property: `PROPTEST_CASES` if set, else 10,000. Failures are
/// reported with their shrunk input, not written to regression files.
pub(crate) fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Any JSON value, nested a few levels, with keys drawn partly from `names`
/// so parsers that look members up by name meet them.
pub(crate) fn json(names: &'static [&'static str]) -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        // Exact binary fractions: serde_json reads long decimals to the
        // nearest float only within one unit (no `float_roundtrip`).
        (any::<i32>(), 0..8).prop_map(|(n, k)| Value::from(f64::from(n) / f64::from(1 << k))),
        any::<String>().prop_map(Value::String),
        "[a-z:/.#*@ ]{0,30}".prop_map(Value::String),
    ];
    let key = prop_oneof![proptest::sample::select(names).prop_map(str::to_owned), "[a-z_#]{0,12}"];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}
