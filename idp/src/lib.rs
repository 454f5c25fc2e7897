//! Sésame, a federated citizen-identity provider: OpenID Connect with
//! passkeys for territorial public services.

pub mod admin;
pub mod app;
pub mod audit;
pub mod cache;
pub mod citizen;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod console;
pub mod counter;
pub mod endings;
pub mod i18n;
pub mod keys;
pub mod login;
pub mod mail;
pub mod oidc;
pub mod ops;
pub mod outage;
pub mod outbox;
pub mod passkey;
#[cfg(test)]
mod properties;
pub mod random;
pub mod retention;
pub mod scope;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod web;

#[cfg(feature = "test-support")]
pub mod testing;
