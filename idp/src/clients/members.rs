//! Named members of organisations (DESIGN.md "Who verifies"): a citizen
//! account acting for an organisation in a role. Members join only through
//! a single-use, expiring invitation issued by the operator (CLI, admin
//! API) or by one of the organisation's admins; every change is in the
//! administrators' log. No HTTP here.

use serde::Serialize;

use super::admin::AdminAction;
use super::admin::organisation_for;
use super::{Actor, ClientError};
use crate::clock::UnixTime;
use crate::keys::sha256_b64;
use crate::random;
use crate::store::{Acceptance, Db, InvitationRecord, MemberRecord, StoreError};

/// What a member may do for their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages the organisation's members, and its services.
    Admin,
    /// Manages the organisation's services.
    Developer,
    /// Verifies citizens' identities at the organisation's counters.
    Agent,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Developer, Role::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Developer => "developer",
            Self::Agent => "agent",
        }
    }

    pub fn parse(value: &str) -> Result<Self, ClientError> {
        Self::ALL.into_iter().find(|r| r.as_str() == value).ok_or_else(|| {
            ClientError::InvalidMetadata(format!("role {value:?} is not one of admin, developer, agent"))
        })
    }
}

/// A citizen who holds roles in an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub organisation_id: String,
    pub citizen_id: String,
    /// The citizen identifier, grouped as the citizen knows it.
    pub identifier: String,
    pub given_name: String,
    pub family_name: String,
    pub roles: Vec<Role>,
    /// When the first of these roles was granted.
    pub added_at: UnixTime,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InvitationState {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

/// An invitation as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invitation {
    pub invitation_id: String,
    pub organisation_id: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub state: InvitationState,
    pub accepted_at: Option<UnixTime>,
}

impl Invitation {
    fn from_record(r: InvitationRecord, now: UnixTime) -> Result<Self, StoreError> {
        let state = if r.accepted_at.is_some() {
            InvitationState::Accepted
        } else if r.revoked_at.is_some() {
            InvitationState::Revoked
        } else if r.expires_at <= now {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        };
        Ok(Self {
            role: Role::parse(&r.role)
                .map_err(|_| StoreError::Corrupt(format!("invitation {}: role {:?}", r.invitation_id, r.role)))?,
            invitation_id: r.invitation_id,
            organisation_id: r.organisation_id,
            created_by: r.created_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            state,
            accepted_at: r.accepted_at,
        })
    }
}

/// An invitation just issued: its link carries the secret and is shown once.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedInvitation {
    pub link: String,
    #[serde(flatten)]
    pub invitation: Invitation,
}

/// How long an invitation link works unless told otherwise, and at most.
pub const INVITATION_LIFETIME: i64 = 7 * 86_400;
pub const MAX_INVITATION_LIFETIME: i64 = 30 * 86_400;

/// Path of the page where an invitation is accepted (`?token=`: a query is
/// never logged, a path is).
pub const INVITATION_PATH: &str = "/invitation";

/// Why an invitation link does not work, for a page that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvitationError {
    #[error("no invitation has this link")]
    Unknown,
    #[error("the invitation was already used")]
    Used,
    #[error("the invitation has expired")]
    Expired,
    #[error("the invitation was withdrawn")]
    Revoked,
}

/// Issues an invitation to hold `role` in an organisation (by id or
/// official code), valid `lifetime` seconds. The link is `issuer` +
/// [`INVITATION_PATH`] + the secret.
pub async fn invite(
    db: &Db,
    organisation: &str,
    role: Role,
    lifetime: i64,
    issuer: &str,
    actor: &Actor,
    now: UnixTime,
) -> Result<IssuedInvitation, ClientError> {
    if !(60..=MAX_INVITATION_LIFETIME).contains(&lifetime) {
        return Err(ClientError::InvalidMetadata("an invitation lasts between 1 minute and 30 days".into()));
    }
    let organisation = organisation_for(db, organisation).await?;
    let token = random::token::<32>()?;
    let record = InvitationRecord {
        invitation_id: random::id(),
        token_hash: sha256_b64(token.as_bytes()),
        organisation_id: organisation.organisation_id.clone(),
        role: role.as_str().to_owned(),
        created_by: actor.0.clone(),
        created_at: now,
        expires_at: now + lifetime,
        accepted_at: None,
        accepted_by: None,
        revoked_at: None,
    };
    let event = actor.record(
        AdminAction::MemberInvited,
        Some(&organisation.organisation_id),
        &record.invitation_id,
        serde_json::json!({ "role": role, "expires_at": record.expires_at }),
        now,
    );
    db.insert_invitation(&record, &event).await?;
    Ok(IssuedInvitation {
        link: format!("{issuer}{INVITATION_PATH}?token={token}"),
        invitation: Invitation::from_record(record, now)?,
    })
}

/// The invitation a link names, if it can still be accepted (for the page
/// that asks the citizen to confirm).
pub async fn pending_invitation(db: &Db, token: &str, now: UnixTime) -> Result<Invitation, InvitationLookupError> {
    let record = db.invitation_by_hash(&sha256_b64(token.as_bytes())).await?.ok_or(InvitationError::Unknown)?;
    let invitation = Invitation::from_record(record, now)?;
    refusal(invitation.state).map_or(Ok(invitation), |e| Err(e.into()))
}

fn refusal(state: InvitationState) -> Option<InvitationError> {
    match state {
        InvitationState::Pending => None,
        InvitationState::Accepted => Some(InvitationError::Used),
        InvitationState::Expired => Some(InvitationError::Expired),
        InvitationState::Revoked => Some(InvitationError::Revoked),
    }
}

/// A refusal, or the store failing.
#[derive(Debug, thiserror::Error)]
pub enum InvitationLookupError {
    #[error(transparent)]
    Refused(#[from] InvitationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The signed-in citizen accepts an invitation: exactly once, in one
/// transaction with the log entry.
pub async fn accept(
    db: &Db,
    token: &str,
    citizen_id: &str,
    now: UnixTime,
) -> Result<Invitation, InvitationLookupError> {
    let actor = Actor::member(citizen_id);
    let event = actor.record(AdminAction::MemberJoined, None, citizen_id, serde_json::json!({}), now);
    let hash = sha256_b64(token.as_bytes());
    let (record, accepted) = match db.accept_invitation(&hash, citizen_id, now, event).await? {
        Acceptance::Accepted(record) => (record, true),
        Acceptance::Spent(record) => (record, false),
        Acceptance::Unknown => return Err(InvitationError::Unknown.into()),
    };
    let invitation = Invitation::from_record(record, now)?;
    match (accepted, refusal(invitation.state)) {
        (true, _) => Ok(Invitation { state: InvitationState::Accepted, accepted_at: Some(now), ..invitation }),
        // Spent by a concurrent acceptance between our update and our read.
        (false, None) => Err(InvitationError::Used.into()),
        (false, Some(why)) => Err(why.into()),
    }
}

/// An organisation's members, each with all their roles.
pub async fn members(db: &Db, organisation_id: &str) -> Result<Vec<Member>, StoreError> {
    group(db.members_of(organisation_id).await?)
}

/// Every organisation the citizen is a member of, with their roles there.
pub async fn memberships(db: &Db, citizen_id: &str) -> Result<Vec<Member>, StoreError> {
    group(db.memberships_of(citizen_id).await?)
}

/// The organisations in which the citizen holds `role`, read afresh (a
/// member removed loses access at their next request).
pub async fn organisations_where(
    db: &Db,
    citizen_id: &str,
    role: Role,
) -> Result<Vec<super::Organisation>, StoreError> {
    db.organisations_of_member(citizen_id, role.as_str())
        .await?
        .into_iter()
        .map(super::Organisation::from_record)
        .collect()
}

fn group(rows: Vec<MemberRecord>) -> Result<Vec<Member>, StoreError> {
    let mut members: Vec<Member> = Vec::new();
    for row in rows {
        let role = Role::parse(&row.role).map_err(|_| StoreError::Corrupt(format!("member role {:?}", row.role)))?;
        match members.iter_mut().find(|m| m.organisation_id == row.organisation_id && m.citizen_id == row.citizen_id) {
            Some(member) => {
                member.roles.push(role);
                member.added_at = member.added_at.min(row.added_at);
            }
            None => members.push(Member {
                identifier: crate::citizen::CitizenIdentifier::parse(&row.identifier)
                    .map_or_else(|_| row.identifier.clone(), |i| i.to_string()),
                organisation_id: row.organisation_id,
                citizen_id: row.citizen_id,
                given_name: row.given_name,
                family_name: row.family_name,
                roles: vec![role],
                added_at: row.added_at,
            }),
        }
    }
    for member in &mut members {
        member.roles.sort_unstable();
    }
    Ok(members)
}

/// An organisation's invitations, newest first.
pub async fn invitations(db: &Db, organisation_id: &str, now: UnixTime) -> Result<Vec<Invitation>, StoreError> {
    db.invitations_of(organisation_id).await?.into_iter().map(|r| Invitation::from_record(r, now)).collect()
}

/// Removes a member's role (every role when `role` is `None`). The member
/// is named by citizen identifier (grouped or not) or internal id.
pub async fn remove(
    db: &Db,
    organisation: &str,
    member: &str,
    role: Option<Role>,
    actor: &Actor,
    now: UnixTime,
) -> Result<(), ClientError> {
    let organisation = organisation_for(db, organisation).await?;
    let not_found = || ClientError::NotFound(format!("{member:?} is not a member of this organisation"));
    let current = members(db, &organisation.organisation_id).await?;
    let canonical = crate::citizen::CitizenIdentifier::parse(member).ok().map(|i| i.to_string());
    let target = current
        .iter()
        .find(|m| m.citizen_id == member || Some(&m.identifier) == canonical.as_ref())
        .ok_or_else(not_found)?;
    let event = actor.record(
        AdminAction::MemberRemoved,
        Some(&organisation.organisation_id),
        &target.citizen_id,
        serde_json::json!({ "role": role }),
        now,
    );
    let removed =
        db.remove_member(&organisation.organisation_id, &target.citizen_id, role.map(Role::as_str), &event).await?;
    if removed == 0 { Err(not_found()) } else { Ok(()) }
}

/// Withdraws a pending invitation of the organisation.
pub async fn revoke_invitation(
    db: &Db,
    organisation_id: &str,
    invitation_id: &str,
    actor: &Actor,
    now: UnixTime,
) -> Result<(), ClientError> {
    let not_found = || ClientError::NotFound(format!("no invitation {invitation_id:?}"));
    let invitation = db.invitation(invitation_id).await?.ok_or_else(not_found)?;
    if invitation.organisation_id != organisation_id {
        return Err(not_found());
    }
    let event =
        actor.record(AdminAction::InvitationRevoked, Some(organisation_id), invitation_id, serde_json::json!({}), now);
    if db.revoke_invitation(invitation_id, now, &event).await? {
        Ok(())
    } else {
        Err(ClientError::Conflict(format!("invitation {invitation_id:?} is not pending")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_refuse_others() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("owner").is_err());
        assert!(Role::parse("Admin").is_err(), "roles are case-sensitive, as stored");
    }
}
