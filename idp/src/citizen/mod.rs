//! Citizens: the identity record and the citizen identifier.

pub mod identifier;

pub use identifier::{CitizenIdentifier, IdentifierError};
