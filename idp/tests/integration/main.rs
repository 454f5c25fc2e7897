//! Integration tests: the real provider on an ephemeral port, spoken to over
//! HTTP, on SQLite (default) or PostgreSQL + Redis (SESAME_TEST_* set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account_identity;
mod account_mail;
mod account_notices;
mod account_security;
mod admin_api;
mod assisted_recovery;
mod binary;
mod browser;
mod cache;
mod counter;
mod cross_site;
mod developers;
mod discovery;
mod federation;
mod keys;
mod logout;
mod members;
mod oidc_attacks;
mod oidc_client_auth;
mod oidc_conformance;
mod oidc_consent;
mod oidc_flow;
mod oidc_sessions;
mod oidc_support;
mod ops;
mod outages;
mod passkey_attacks;
mod passkeys;
mod pkce_exemption;
mod rate_limits;
mod recovery;
mod registration;
mod registration_clients;
mod registration_documents;
mod replicas;
mod retention;
mod schema;
mod sessions;
mod soft_passkey;
mod transparency;
mod verification;
