//! End-to-end tests across the provider and the relying-party example live in
//! `tests/tests/`; shared helpers will live here.
