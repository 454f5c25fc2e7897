//! Citizens: the identity record, the citizen identifier, recovery codes,
//! and the citizen's own account pages.

pub mod account;
pub mod account_email;
pub mod account_identity;
pub mod assisted_recovery;
pub mod cog;
pub mod counter;
pub mod declaration;
pub mod email;
pub mod identifier;
pub mod identity;
pub mod invitation;
pub mod mrz;
pub mod profile;
pub mod recovery;
pub mod transparency;
pub mod verification;

pub use identifier::{CitizenIdentifier, IdentifierError};
pub use profile::{Profile, ProfileProblem};
pub use recovery::RecoveryCode;
