//! Rate limits on the endpoints worth abusing: ceremony starts (sign-in,
//! sign-up, adding a passkey), recovery (code guessing), dynamic registration,
//! and `/token` (client secret guessing, code grinding). Counted per source
//! address before anything else and, on `/token`, per client once the client
//! authenticated, in fixed windows shared by every replica through
//! `Cache::count_hit`. Over the limit: `429` with
//! `Retry-After`. A cache failure lets the request through (and is logged):
//! the handler behind will meet the same outage and answer it properly.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::config::IpNet;

/// Which budget a request spends, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Passkey ceremonies and recovery: per source address.
    Ceremony,
    /// Dynamic client registration (RFC 7591): per source address.
    Registration,
    /// The token endpoint: per source address, then per authenticated client.
    Token,
}

impl Limited {
    pub fn of(method: &Method, path: &str) -> Option<Self> {
        if method != Method::POST {
            return None;
        }
        match path {
            "/signin/start" | "/signup/start" | "/account/passkeys/start" | "/recover/start" | "/recover/finish" => {
                Some(Self::Ceremony)
            }
            "/register" => Some(Self::Registration),
            crate::oidc::paths::TOKEN => Some(Self::Token),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Ceremony => "ceremony",
            Self::Registration => "registration",
            Self::Token => "token",
        }
    }
}

/// The middleware: one layer over the router, acting only on [`Limited`] routes.
/// It spends the source address's budget; `/token` spends the client's only
/// after the client authenticated ([`spend`], from the token endpoint), since
/// a `client_id` is public and anyone could otherwise lock a service out.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(group) = Limited::of(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let limits = &state.config.rate_limits;
    // Served by `serve`, the peer is always known; a router driven without a
    // listener (unit tests) counts as one unspecified address.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    let address = source_address(peer, request.headers(), &limits.trusted_proxies);
    // A service's back end calls `/token` from one address: it gets the client's budget.
    let per_address = if group == Limited::Token { limits.per_client } else { limits.per_address };
    if let Err(refused) = spend(&state, group, Scope::Address, &address.to_string(), per_address).await {
        return refused.into_response();
    }
    next.run(request).await
}

/// Whose budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The source address ([`source_address`]).
    Address,
    /// An authenticated client.
    Client,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::Client => "client",
        }
    }

    fn key_letter(self) -> char {
        match self {
            Self::Address => 'a',
            Self::Client => 'c',
        }
    }
}

/// A spent budget: `429` with `Retry-After` (seconds to the window's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyRequests {
    pub retry_after: i64,
}

/// Spends one request of `value`'s budget in this window (`limit` 0: none).
/// A cache outage here is not the request's: it goes on unlimited.
pub async fn spend(
    state: &AppState,
    group: Limited,
    scope: Scope,
    value: &str,
    limit: u32,
) -> Result<(), TooManyRequests> {
    if limit == 0 {
        return Ok(());
    }
    let key = format!("{}:{}:{value}", group.name(), scope.key_letter());
    match crate::outage::unwitnessed(state.cache.count_hit(&key, state.config.rate_limits.window)).await {
        Ok(hit) if hit.count > u64::from(limit) => {
            state.metrics.count_rate_limited(group.name(), scope.name());
            let retry_after = (hit.resets_at - state.clock.now()).max(1);
            tracing::info!(group = group.name(), scope = scope.name(), retry_after, "rate limited");
            Err(TooManyRequests { retry_after })
        }
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, group = group.name(), "rate limit not checked");
            Ok(())
        }
    }
}

impl IntoResponse for TooManyRequests {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": "too_many_requests",
            "error_description": "too many requests from this client or address; retry later",
        });
        let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The address the request came from: the peer, unless the peer is a trusted
/// proxy (the ingress controller), in which case the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
pub fn source_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut source = peer;
    for hop in forwarded.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        source = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    source
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = [IpNet::parse("10.0.0.0/8").unwrap()];
        let proxy: IpAddr = "10.1.1.1".parse().unwrap();
        let outsider: IpAddr = "203.0.113.9".parse().unwrap();
        // A client cannot pick its own address.
        assert_eq!(source_address(outsider, &headers("198.51.100.1"), &trusted), outsider);
        // Through the ingress: the nearest untrusted hop, not a spoofed first one.
        assert_eq!(
            source_address(proxy, &headers("1.2.3.4, 198.51.100.7, 10.2.2.2"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(source_address(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(source_address(proxy, &headers("198.51.100.7"), &[]), proxy);
    }

    #[test]
    fn limited_routes() {
        assert_eq!(Limited::of(&Method::POST, "/token"), Some(Limited::Token));
        assert_eq!(Limited::of(&Method::POST, "/signin/start"), Some(Limited::Ceremony));
        assert_eq!(Limited::of(&Method::POST, "/recover/finish"), Some(Limited::Ceremony));
        assert_eq!(Limited::of(&Method::POST, "/register"), Some(Limited::Registration));
        assert_eq!(Limited::of(&Method::GET, "/signin"), None);
        assert_eq!(Limited::of(&Method::POST, "/signin/finish"), None);
    }
}
