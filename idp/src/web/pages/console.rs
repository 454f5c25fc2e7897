//! The organisation console's pages (members, for now).

use std::fmt::Write as _;

use super::{Frame, page};
use crate::clients::members::{Invitation, InvitationState, Member, Role};
use crate::web::html::{self, esc, when};

pub fn role_key(role: Role) -> &'static str {
    match role {
        Role::Admin => "role.admin",
        Role::Developer => "role.developer",
        Role::Agent => "role.agent",
    }
}

fn state_key(state: InvitationState) -> &'static str {
    match state {
        InvitationState::Pending => "state.pending",
        InvitationState::Accepted => "state.accepted",
        InvitationState::Expired => "state.expired",
        InvitationState::Revoked => "state.revoked",
    }
}

/// What the members page shows.
pub struct MembersView<'a> {
    pub organisation_id: &'a str,
    pub organisation_name: &'a str,
    pub members: &'a [Member],
    pub invitations: &'a [Invitation],
    pub notice: Option<(&'static str, bool)>,
}

pub fn members(frame: &Frame<'_>, view: &MembersView<'_>) -> String {
    let t = |k| frame.lang.t(k);
    let csrf = esc(frame.csrf);
    let org = esc(view.organisation_id);
    let mut body = String::new();
    if let Some((key, is_error)) = view.notice {
        body.push_str(&html::notice(t(key), is_error));
    }
    let _ = write!(
        body,
        r#"<p>{org_label} : <strong>{org_name}</strong></p><h2 id="members-title">{members}</h2>"#,
        org_label = esc(t("console.organisation")),
        org_name = esc(view.organisation_name),
        members = esc(t("console.members")),
    );
    if view.members.is_empty() {
        let _ = write!(body, "<p>{}</p>", esc(t("console.no_members")));
    } else {
        let _ = write!(
            body,
            r#"<table aria-labelledby="members-title"><thead><tr><th scope="col">{name}</th><th scope="col">{identifier}</th><th scope="col">{roles}</th></tr></thead><tbody>"#,
            name = esc(t("console.name")),
            identifier = esc(t("console.identifier")),
            roles = esc(t("console.roles")),
        );
        for m in view.members {
            let mut roles = String::new();
            for role in &m.roles {
                let _ = write!(
                    roles,
                    r#"<form method="post" action="/console/members/remove" class="inline"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="org" value="{org}"><input type="hidden" name="member" value="{member}"><input type="hidden" name="role" value="{role}">{label} <button type="submit" class="secondary" aria-label="{remove} : {label}">{remove}</button></form> "#,
                    member = esc(&m.citizen_id),
                    role = role.as_str(),
                    label = esc(t(role_key(*role))),
                    remove = esc(t("console.remove")),
                );
            }
            let _ = write!(
                body,
                r#"<tr><td>{given} {family}</td><td class="identifier-inline">{identifier}</td><td>{roles}</td></tr>"#,
                given = esc(&m.given_name),
                family = esc(&m.family_name),
                identifier = esc(&m.identifier),
            );
        }
        body.push_str("</tbody></table>");
    }
    let _ = write!(body, r#"<h2 id="invitations-title">{}</h2>"#, esc(t("console.invitations")));
    if view.invitations.is_empty() {
        let _ = write!(body, "<p>{}</p>", esc(t("console.no_invitations")));
    } else {
        let _ = write!(
            body,
            r#"<table aria-labelledby="invitations-title"><thead><tr><th scope="col">{role}</th><th scope="col">{state}</th><th scope="col">{expires}</th><th scope="col"><span class="visually-hidden">{withdraw}</span></th></tr></thead><tbody>"#,
            role = esc(t("console.role")),
            state = esc(t("console.state")),
            expires = esc(t("console.expires")),
            withdraw = esc(t("console.withdraw")),
        );
        for i in view.invitations {
            let action = if i.state == InvitationState::Pending {
                format!(
                    r#"<form method="post" action="/console/members/uninvite" class="inline"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="org" value="{org}"><input type="hidden" name="invitation" value="{id}"><button type="submit" class="secondary">{label}</button></form>"#,
                    id = esc(&i.invitation_id),
                    label = esc(t("console.withdraw")),
                )
            } else {
                String::new()
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
                esc(t(role_key(i.role))),
                esc(t(state_key(i.state))),
                esc(&when(i.expires_at)),
            );
        }
        body.push_str("</tbody></table>");
    }
    let mut options = String::new();
    for role in Role::ALL {
        let _ = write!(options, r#"<option value="{}">{}</option>"#, role.as_str(), esc(t(role_key(role))));
    }
    let _ = write!(
        body,
        r#"<h2>{title}</h2><p>{intro}</p>
<form method="post" action="/console/members/invite"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="org" value="{org}">
<div class="field"><label for="role">{role_label}</label><select id="role" name="role">{options}</select></div>
<button type="submit">{invite}</button></form>"#,
        title = esc(t("console.invite_title")),
        intro = esc(t("console.invite_intro")),
        role_label = esc(t("console.role")),
        invite = esc(t("console.invite")),
    );
    page(frame, "console.members_title", body)
}

/// The invitation link, shown once.
pub fn invitation_link(frame: &Frame<'_>, organisation_id: &str, link: &str) -> String {
    let t = |k| frame.lang.t(k);
    let body = format!(
        r#"<p>{intro}</p><p><code id="invitation-link">{link}</code></p><p><a href="/console/members?org={org}">{back}</a></p>"#,
        intro = esc(t("console.link_intro")),
        link = esc(link),
        org = esc(organisation_id),
        back = esc(t("console.back")),
    );
    page(frame, "console.link_title", body)
}
