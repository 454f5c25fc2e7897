//! Back-channel logout delivery (OIDC Back-Channel Logout 1.0 §2.5): the
//! logout tokens `endings::notify` queued durably are delivered by
//! whichever replica claims them, retried with backoff, never forever.

use crate::app::AppState;
use crate::clients::admin::{Actor, AdminAction};
use crate::clients::outbound::OutboundPolicy;
use crate::config::LOGOUT_TOKEN_TTL;
use crate::oidc::error::OAuthError;
use crate::store::LogoutDelivery;

/// Deliveries claimed per pass.
const BATCH: i64 = 20;
/// Per delivery: connect + answer.
const TIMEOUT: u64 = 5;
/// How long a replica holds a claimed batch: longer than the batch can take.
const LEASE: i64 = BATCH * TIMEOUT as i64 + 30;

/// The HTTP client deliveries use: the one for every URL a client
/// registered (`clients::outbound`: no redirects, short timeouts, never the
/// provider's machine or internal networks unless the operator allows them).
pub fn http_client(config: &crate::config::Config) -> Result<reqwest::Client, OAuthError> {
    OutboundPolicy::of(config).client().map_err(OAuthError::server)
}

/// One pass: claim what is due, POST each token, record the outcome.
/// Returns how many deliveries were attempted.
pub async fn deliver_due(state: &AppState, http: &reqwest::Client, owner: &str) -> Result<usize, OAuthError> {
    let now = state.clock.now();
    let lease_until = now + LEASE;
    let claimed = state.db.claim_logout_deliveries(owner, now, lease_until, BATCH).await?;
    let policy = OutboundPolicy::of(&state.config);
    for delivery in &claimed {
        if state.clock.now() >= lease_until {
            // Our lease is over: another replica may hold these now.
            break;
        }
        // Signed afresh for each attempt (same jti): a retry after the first
        // token's two minutes is still valid, and never signed by a retired key.
        let token = resign(state, &delivery.logout_token)?;
        let target = url::Url::parse(&delivery.uri).ok().filter(|u| !policy.refuses_literal(u));
        let outcome = match target {
            Some(target) => Some(
                http.post(target)
                    .header("cache-control", "no-store")
                    .form(&[("logout_token", token.as_str())])
                    .send()
                    .await,
            ),
            None => None,
        };
        let now = state.clock.now();
        match outcome {
            Some(Ok(response)) if response.status().is_success() => {
                state.db.mark_logout_delivered(&delivery.delivery_id, owner, now).await?;
                record_outcome(state, delivery, AdminAction::LogoutDelivered, delivery.attempts + 1, None).await;
                tracing::info!(client_id = %delivery.client_id, attempts = delivery.attempts + 1, "back-channel logout delivered");
            }
            failed => {
                let error = match failed {
                    Some(Ok(response)) => format!("HTTP {}", response.status().as_u16()),
                    // The organisation reads this: one word, the cause only in our log.
                    Some(Err(e)) => {
                        tracing::info!(client_id = %delivery.client_id, error = %e, "back-channel logout not sent");
                        "unreachable".to_owned()
                    }
                    None => "refused: an address the provider does not call".to_owned(),
                };
                let attempts = delivery.attempts + 1;
                let next = crate::outbox::next_attempt(attempts, now);
                state.db.mark_logout_failed(&delivery.delivery_id, owner, &error, next, now).await?;
                if next.is_none() {
                    record_outcome(state, delivery, AdminAction::LogoutGivenUp, attempts, Some(&error)).await;
                    tracing::warn!(client_id = %delivery.client_id, %error, "back-channel logout given up");
                } else {
                    tracing::info!(client_id = %delivery.client_id, %error, attempts, "back-channel logout will be retried");
                }
            }
        }
    }
    Ok(claimed.len())
}

/// The final outcome of a delivery, in the registry's action log where the
/// service's organisation and the operators read it (`/admin/api/events`).
async fn record_outcome(
    state: &AppState,
    delivery: &LogoutDelivery,
    action: AdminAction,
    attempts: i64,
    error: Option<&str>,
) {
    let organisation_id = match crate::clients::find(&state.db, &delivery.client_id).await {
        Ok(Some(client)) => client.organisation_id,
        _ => None,
    };
    let detail =
        serde_json::json!({"reason": delivery.reason, "uri": delivery.uri, "attempts": attempts, "error": error});
    let event = Actor::logout_outbox().record(
        action,
        organisation_id.as_deref(),
        &delivery.client_id,
        detail,
        state.clock.now(),
    );
    if let Err(e) = state.db.insert_admin_event(&event).await {
        tracing::warn!(error = %e, "could not record a logout delivery outcome");
    }
}

/// The stored logout token's claims with `iat`/`exp` from now, signed again
/// with the same algorithm (the client's).
fn resign(state: &AppState, stored: &str) -> Result<String, OAuthError> {
    let part = |i: usize| {
        crate::keys::segment(stored, i).ok_or_else(|| OAuthError::server("stored logout token is malformed"))
    };
    let header = part(0)?;
    let mut claims = part(1)?;
    let alg = header
        .get("alg")
        .and_then(|a| a.as_str())
        .and_then(crate::keys::Alg::parse)
        .ok_or_else(|| OAuthError::server("stored logout token has no algorithm"))?;
    let now = state.clock.now();
    if let Some(map) = claims.as_object_mut() {
        map.insert("iat".into(), now.into());
        map.insert("exp".into(), (now + LOGOUT_TOKEN_TTL).into());
    }
    Ok(state.keys.sign(alg, "logout+jwt", &claims)?)
}

/// Delivers forever, every `SESAME_LOGOUT_DELIVERY_INTERVAL` (one task per replica).
pub async fn run(state: AppState) {
    let http = match http_client(&state.config) {
        Ok(http) => http,
        Err(e) => {
            tracing::error!(error = %e.description, "no HTTP client: this replica delivers no back-channel logout");
            return;
        }
    };
    crate::outbox::run_every(state.config.logout_delivery_interval, |owner| {
        let (state, http) = (&state, &http);
        async move {
            if let Err(e) = deliver_due(state, http, &owner).await {
                tracing::warn!(error = %e.description, "back-channel logout pass failed");
            }
        }
    })
    .await;
}
