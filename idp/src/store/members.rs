//! Organisation members and their invitations. An invitation's secret is
//! looked up by digest only; accepting one is a single transaction.

use sqlx::Row as _;

use super::registry::insert_event;
use super::{Db, EventRecord, OrganisationRecord, StoreError};
use crate::clock::UnixTime;

/// One role a citizen holds in an organisation, with who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub organisation_id: String,
    pub citizen_id: String,
    pub role: String,
    pub added_at: UnixTime,
    pub added_by: String,
    /// The citizen's identifier and names (from `citizens`).
    pub identifier: String,
    pub given_name: String,
    pub family_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    pub invitation_id: String,
    pub token_hash: String,
    pub organisation_id: String,
    pub role: String,
    pub created_by: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub accepted_at: Option<UnixTime>,
    pub accepted_by: Option<String>,
    pub revoked_at: Option<UnixTime>,
}

/// What happened to an acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// The citizen now holds the role (or already did).
    Accepted(InvitationRecord),
    /// No invitation has this secret.
    Unknown,
    /// Accepted before, revoked, or expired: the record says which.
    Spent(InvitationRecord),
}

const MEMBER_COLUMNS: &str = "m.organisation_id, m.citizen_id, m.role, m.added_at, m.added_by, \
     c.identifier, c.given_name, c.family_name";
const INVITATION_COLUMNS: &str = "invitation_id, token_hash, organisation_id, role, created_by, created_at, \
     expires_at, accepted_at, accepted_by, revoked_at";

fn member_from_row(r: &sqlx::any::AnyRow) -> Result<MemberRecord, StoreError> {
    Ok(MemberRecord {
        organisation_id: r.try_get("organisation_id")?,
        citizen_id: r.try_get("citizen_id")?,
        role: r.try_get("role")?,
        added_at: r.try_get("added_at")?,
        added_by: r.try_get("added_by")?,
        identifier: r.try_get("identifier")?,
        given_name: r.try_get("given_name")?,
        family_name: r.try_get("family_name")?,
    })
}

fn invitation_from_row(r: &sqlx::any::AnyRow) -> Result<InvitationRecord, StoreError> {
    Ok(InvitationRecord {
        invitation_id: r.try_get("invitation_id")?,
        token_hash: r.try_get("token_hash")?,
        organisation_id: r.try_get("organisation_id")?,
        role: r.try_get("role")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        accepted_at: r.try_get("accepted_at")?,
        accepted_by: r.try_get("accepted_by")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Db {
    /// The members of an organisation, one row per role, by name.
    pub async fn members_of(&self, organisation_id: &str) -> Result<Vec<MemberRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMBER_COLUMNS} FROM organisation_members m JOIN citizens c ON c.id = m.citizen_id \
             WHERE m.organisation_id = $1 AND c.deleted_at IS NULL \
             ORDER BY c.family_name, c.given_name, m.citizen_id, m.role"
        )))
        .bind(organisation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(member_from_row).collect()
    }

    /// Every role the citizen holds, in every organisation.
    pub async fn memberships_of(&self, citizen_id: &str) -> Result<Vec<MemberRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMBER_COLUMNS} FROM organisation_members m JOIN citizens c ON c.id = m.citizen_id \
             WHERE m.citizen_id = $1 AND c.deleted_at IS NULL ORDER BY m.organisation_id, m.role"
        )))
        .bind(citizen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(member_from_row).collect()
    }

    /// The organisations in which the citizen holds `role`, by name (one query:
    /// every counter and console page reads it).
    pub async fn organisations_of_member(
        &self,
        citizen_id: &str,
        role: &str,
    ) -> Result<Vec<OrganisationRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.organisation_id, o.name, o.kind, o.official_code, o.contacts, o.created_at \
             FROM organisations o JOIN organisation_members m ON m.organisation_id = o.organisation_id \
             WHERE m.citizen_id = $1 AND m.role = $2 ORDER BY o.name, o.organisation_id",
        )
        .bind(citizen_id)
        .bind(role)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(super::registry::organisation_from_row).collect()
    }

    /// Removes roles of a member (every role when `role` is `None`), with
    /// the log entry; returns how many roles were removed (none: nothing logged).
    pub async fn remove_member(
        &self,
        organisation_id: &str,
        citizen_id: &str,
        role: Option<&str>,
        event: &EventRecord,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let removed = match role {
            Some(role) => sqlx::query(
                "DELETE FROM organisation_members WHERE organisation_id = $1 AND citizen_id = $2 AND role = $3",
            )
            .bind(organisation_id)
            .bind(citizen_id)
            .bind(role)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            None => sqlx::query("DELETE FROM organisation_members WHERE organisation_id = $1 AND citizen_id = $2")
                .bind(organisation_id)
                .bind(citizen_id)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
        };
        if removed == 0 {
            tx.rollback().await?;
            return Ok(0);
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(removed)
    }

    pub async fn insert_invitation(
        &self,
        invitation: &InvitationRecord,
        event: &EventRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO member_invitations (invitation_id, token_hash, organisation_id, role, created_by, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&invitation.invitation_id)
        .bind(&invitation.token_hash)
        .bind(&invitation.organisation_id)
        .bind(&invitation.role)
        .bind(&invitation.created_by)
        .bind(invitation.created_at)
        .bind(invitation.expires_at)
        .execute(&mut *tx)
        .await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn invitation_by_hash(&self, token_hash: &str) -> Result<Option<InvitationRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM member_invitations WHERE token_hash = $1"
        )))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    pub async fn invitation(&self, invitation_id: &str) -> Result<Option<InvitationRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM member_invitations WHERE invitation_id = $1"
        )))
        .bind(invitation_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    /// An organisation's invitations, newest first.
    pub async fn invitations_of(&self, organisation_id: &str) -> Result<Vec<InvitationRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM member_invitations WHERE organisation_id = $1 \
             ORDER BY created_at DESC, invitation_id"
        )))
        .bind(organisation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(invitation_from_row).collect()
    }

    /// Accepts an invitation for `citizen_id`: spends it (exactly one of
    /// concurrent acceptances wins), grants the role and logs both, in one
    /// transaction. `event` is completed with the invitation's organisation.
    pub async fn accept_invitation(
        &self,
        token_hash: &str,
        citizen_id: &str,
        now: UnixTime,
        mut event: EventRecord,
    ) -> Result<Acceptance, StoreError> {
        let mut tx = self.pool.begin().await?;
        let spent = sqlx::query(
            "UPDATE member_invitations SET accepted_at = $1, accepted_by = $2 WHERE token_hash = $3 \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(citizen_id)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM member_invitations WHERE token_hash = $1"
        )))
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(invitation) = row.as_ref().map(invitation_from_row).transpose()? else {
            tx.rollback().await?;
            return Ok(Acceptance::Unknown);
        };
        if spent != 1 {
            tx.rollback().await?;
            return Ok(Acceptance::Spent(invitation));
        }
        sqlx::query(
            "INSERT INTO organisation_members (organisation_id, citizen_id, role, added_at, added_by) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (organisation_id, citizen_id, role) DO NOTHING",
        )
        .bind(&invitation.organisation_id)
        .bind(citizen_id)
        .bind(&invitation.role)
        .bind(now)
        .bind(&invitation.created_by)
        .execute(&mut *tx)
        .await?;
        event.organisation_id = Some(invitation.organisation_id.clone());
        insert_event(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(Acceptance::Accepted(invitation))
    }

    /// Revokes a pending invitation, with the log entry; false when it was
    /// not pending.
    pub async fn revoke_invitation(
        &self,
        invitation_id: &str,
        now: UnixTime,
        event: &EventRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let revoked = sqlx::query(
            "UPDATE member_invitations SET revoked_at = $1 WHERE invitation_id = $2 \
             AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(invitation_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if revoked != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}
