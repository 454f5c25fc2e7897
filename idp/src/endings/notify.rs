//! Telling services that a login ended (OIDC Back-Channel Logout 1.0 §2.4–2.5):
//! one signed logout token per service and login, stored in the durable
//! outbox before the citizen gets an answer, so a crash loses nothing. The
//! outbox is delivered by `oidc::logout::backchannel`. Front-channel logout
//! (OIDC Front-Channel Logout 1.0 §2) URLs are built here too.

use serde::Serialize;

use super::EndingError;
use crate::app::AppState;
use crate::clients::{self, Client};
use crate::config::LOGOUT_TOKEN_TTL;
use crate::oidc::grant::subject_for;
use crate::random;
use crate::store::LogoutDelivery;

/// The `events` member of a logout token.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

#[derive(Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    sid: &'a str,
    events: serde_json::Value,
}

/// Who must hear of a logout: a service, where it listens, and whose login ended.
pub struct Notice<'a> {
    pub client: &'a Client,
    pub uri: &'a str,
    pub citizen_id: &'a str,
    pub sid: &'a str,
}

/// Signs one logout token per notice and stores them all (one transaction).
/// A service that can no longer compute the citizen's `sub` (a public
/// subject of a deleted account) is skipped: there is nothing to name.
pub async fn enqueue(state: &AppState, reason: &str, notices: &[Notice<'_>]) -> Result<usize, EndingError> {
    let now = state.clock.now();
    let mut deliveries = Vec::with_capacity(notices.len());
    for notice in notices {
        let Some(sub) = subject_for(state, notice.client, notice.citizen_id).await? else {
            tracing::warn!(client_id = %notice.client.client_id, "no subject left to name in a logout token");
            continue;
        };
        let jti = random::id();
        let claims = LogoutClaims {
            iss: &state.config.issuer,
            sub: &sub,
            aud: &notice.client.client_id,
            iat: now,
            exp: now + LOGOUT_TOKEN_TTL,
            jti: &jti,
            sid: notice.sid,
            events: serde_json::json!({ EVENT: {} }),
        };
        let token = state.keys.sign(notice.client.id_token_signed_response_alg, "logout+jwt", &claims)?;
        deliveries.push(LogoutDelivery {
            delivery_id: random::id(),
            client_id: notice.client.client_id.clone(),
            uri: notice.uri.to_owned(),
            logout_token: token,
            jti,
            reason: reason.to_owned(),
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            delivered_at: None,
            gave_up_at: None,
            last_error: None,
        });
    }
    state.db.enqueue_logout_deliveries(&deliveries).await?;
    Ok(deliveries.len())
}

/// The services that took part in some logins of one citizen, read once each.
pub(super) struct Audience {
    clients: Vec<Client>,
}

impl Audience {
    pub async fn of(state: &AppState, client_ids: &[&str]) -> Result<Self, EndingError> {
        let mut clients: Vec<Client> = Vec::new();
        for id in client_ids {
            if !clients.iter().any(|c| c.client_id == *id)
                && let Some(client) = clients::find(&state.db, id).await?
            {
                clients.push(client);
            }
        }
        Ok(Self { clients })
    }

    /// Queues a back-channel notice for each (service, login) pair whose
    /// service listens for them.
    pub async fn notify(
        &self,
        state: &AppState,
        reason: &str,
        citizen_id: &str,
        logins: &[(&str, &str)],
    ) -> Result<usize, EndingError> {
        let notices: Vec<Notice<'_>> = logins
            .iter()
            .filter_map(|(client_id, sid)| {
                let client = self.clients.iter().find(|c| c.client_id == *client_id)?;
                let uri = client.metadata.backchannel_logout_uri.as_deref()?;
                Some(Notice { client, uri, citizen_id, sid })
            })
            .collect();
        enqueue(state, reason, &notices).await
    }

    /// The front-channel logout URLs of these services for login `sid`,
    /// with `iss` and `sid` (Front-Channel Logout §2).
    pub fn frontchannel_urls(&self, issuer: &str, sid: &str) -> Vec<String> {
        let issuer: String = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect();
        self.clients
            .iter()
            .filter_map(|c| c.metadata.frontchannel_logout_uri.as_deref())
            .map(|uri| {
                let separator = if uri.contains('?') { '&' } else { '?' };
                format!("{uri}{separator}iss={issuer}&sid={sid}")
            })
            .collect()
    }
}
