//! How registry commands print: aligned tables for people, JSON for scripts.

use serde::Serialize;

use crate::clients::admin::{IssuedToken, TokenInfo};
use crate::clients::members::{Invitation, IssuedInvitation, Member};
use crate::clients::{Client, Organisation, Registered};
use crate::store::EventRecord;

fn json<T: Serialize + ?Sized>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

pub fn organisation(org: &Organisation, services: &[Client], as_json: bool) {
    if as_json {
        let mut value = serde_json::to_value(org).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            let ids: Vec<&str> = services.iter().map(|c| c.client_id.as_str()).collect();
            map.insert("clients".into(), serde_json::json!(ids));
        }
        return json(&value);
    }
    println!("organisation   {}", org.organisation_id);
    println!("  name         {}", org.name);
    println!("  kind         {}", org.kind);
    println!("  code         {}", org.official_code);
    println!("  contacts     {}", org.contacts.join(", "));
    for c in services {
        println!("  client       {} ({})", c.client_id, c.client_name);
    }
}

pub fn organisations(list: &[Organisation], as_json: bool) {
    if as_json {
        return json(list);
    }
    println!("{:<34} {:<17} {:<10} NAME", "ORGANISATION ID", "KIND", "CODE");
    for o in list {
        println!("{:<34} {:<17} {:<10} {}", o.organisation_id, o.kind, o.official_code, o.name);
    }
}

pub fn clients(list: &[Client], as_json: bool) {
    if as_json {
        return json(list);
    }
    println!("{:<24} {:<20} {:<34} {:<30} REDIRECT URIS", "CLIENT ID", "AUTH METHOD", "ORGANISATION", "NAME");
    for c in list {
        println!(
            "{:<24} {:<20} {:<34} {:<30} {}",
            c.client_id,
            c.token_endpoint_auth_method.as_str(),
            c.organisation_id.as_deref().unwrap_or("-"),
            c.client_name,
            c.redirect_uris.join(" ")
        );
    }
}

pub fn client(c: &Client, as_json: bool) {
    let value = serde_json::to_value(c).unwrap_or_default();
    if as_json {
        return json(&value);
    }
    if let Some(map) = value.as_object() {
        for (name, value) in map {
            println!("{name:<38} {value}");
        }
    }
}

pub fn registered(r: &Registered, as_json: bool) {
    if as_json {
        let mut value = serde_json::to_value(&r.client).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            if let Some(secret) = &r.client_secret {
                map.insert("client_secret".into(), secret.clone().into());
            }
            if let Some(token) = &r.registration_access_token {
                map.insert("registration_access_token".into(), token.clone().into());
            }
        }
        return json(&value);
    }
    println!("{:?}", r.client.client_name);
    println!("  client_id                  {}", r.client.client_id);
    println!("  organisation               {}", r.client.organisation_id.as_deref().unwrap_or("-"));
    if let Some(secret) = &r.client_secret {
        println!("  client_secret              {secret}");
    }
    if let Some(token) = &r.registration_access_token {
        println!("  registration_access_token  {token}");
    }
    if r.client_secret.is_some() || r.registration_access_token.is_some() {
        println!("  (shown only now; stored as hashes)");
    }
}

pub fn rotated(c: &Client, secret: &str, as_json: bool) {
    if as_json {
        return json(&serde_json::json!({
            "client_id": c.client_id,
            "client_secret": secret,
            "previous_secret_expires_at": c.previous_secret_expires_at,
        }));
    }
    println!("new secret for {} ({})", c.client_id, c.client_name);
    println!("  client_secret  {secret}");
    println!(
        "  the previous secret is accepted until {} (unix time)",
        c.previous_secret_expires_at.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
    );
}

pub fn issued(t: &IssuedToken, what: &str, as_json: bool) {
    if as_json {
        return json(t);
    }
    println!("{what} {}", t.info.token_id);
    println!("  token          {}", t.token);
    println!("  organisation   {}", t.info.organisation_id.as_deref().unwrap_or("all (global)"));
    println!("  expires_at     {}", t.info.expires_at);
    if t.info.single_use {
        println!("  single use");
    }
    println!("  (shown only now; stored as a hash)");
}

pub fn tokens(list: &[TokenInfo], now: i64, as_json: bool) {
    if as_json {
        return json(list);
    }
    println!("{:<34} {:<34} {:<8} {:>12} DESCRIPTION", "TOKEN ID", "ORGANISATION", "STATE", "EXPIRES AT");
    for t in list {
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else if t.used_at.is_some() && t.single_use {
            "used"
        } else if t.expires_at <= now {
            "expired"
        } else {
            "valid"
        };
        println!(
            "{:<34} {:<34} {:<8} {:>12} {}",
            t.token_id,
            t.organisation_id.as_deref().unwrap_or("all"),
            state,
            t.expires_at,
            t.description
        );
    }
}

pub fn events(list: &[EventRecord], as_json: bool) {
    if as_json {
        let values: Vec<serde_json::Value> = list
            .iter()
            .map(|e| {
                serde_json::json!({
                    "event_id": e.event_id, "at": e.at, "actor": e.actor, "action": e.action,
                    "organisation_id": e.organisation_id, "target": e.target,
                    "detail": serde_json::from_str::<serde_json::Value>(&e.detail).unwrap_or_default(),
                })
            })
            .collect();
        return json(&values);
    }
    println!("{:>12} {:<30} {:<48} TARGET", "AT", "ACTION", "ACTOR");
    for e in list {
        println!("{:>12} {:<30} {:<48} {}", e.at, e.action, e.actor, e.target);
    }
}

pub fn invitation(i: &IssuedInvitation, as_json: bool) {
    if as_json {
        return json(i);
    }
    println!("invitation {}", i.invitation.invitation_id);
    println!("  role           {}", i.invitation.role.as_str());
    println!("  organisation   {}", i.invitation.organisation_id);
    println!("  expires_at     {}", i.invitation.expires_at);
    println!("  link           {}", i.link);
    println!("  (single use; shown only now: send it to the person, who opens it signed in with their passkey)");
}

pub fn members(list: &[Member], invitations: &[Invitation], as_json: bool) {
    if as_json {
        return json(&serde_json::json!({ "members": list, "invitations": invitations }));
    }
    println!("{:<22} {:<28} {:<24} NAME", "CITIZEN IDENTIFIER", "ROLES", "SINCE");
    for m in list {
        let roles: Vec<&str> = m.roles.iter().map(|r| r.as_str()).collect();
        println!("{:<22} {:<28} {:<24} {} {}", m.identifier, roles.join(", "), m.added_at, m.given_name, m.family_name);
    }
    if !invitations.is_empty() {
        println!();
        println!("{:<34} {:<10} {:<9} {:>12} CREATED BY", "INVITATION ID", "ROLE", "STATE", "EXPIRES AT");
        for i in invitations {
            let state = serde_json::to_value(i.state).ok().and_then(|v| v.as_str().map(str::to_owned));
            println!(
                "{:<34} {:<10} {:<9} {:>12} {}",
                i.invitation_id,
                i.role.as_str(),
                state.unwrap_or_default(),
                i.expires_at,
                i.created_by
            );
        }
    }
}
