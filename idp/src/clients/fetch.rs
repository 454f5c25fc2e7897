//! The one outbound fetch for documents a client registers by reference:
//! its `sector_identifier_uri` (OIDC Registration §5) and its `jwks_uri`
//! (RFC 7591 §2). Same URL rule as the client's other URLs (https, http only
//! on loopback, no credentials, no fragment); no redirects; short timeouts;
//! a capped body. A failure names its cause and never repeats the body.
//!
//! Every request to a URL a client registered (these documents, and
//! back-channel logout) goes through [`outbound_client`]: unless the provider
//! itself runs on loopback (development, tests), it never calls a loopback,
//! link-local (cloud metadata) or unspecified address, whether the URL names
//! it or a host name resolves to it — a registrant cannot make the provider
//! probe its own machine.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header;

use super::metadata;

/// Largest document read (both kinds are a few hundred bytes in practice).
pub const MAX_DOCUMENT: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Connection, request and the whole body.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a document could not be read: meant to follow the field and URL in a
/// message (`jwks_uri "https://…" answered HTTP 404`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL breaks the rule for client URLs (the text says how).
    #[error("{0}")]
    Url(String),
    #[error("is unreachable (connection refused)")]
    Refused,
    #[error("is unreachable ({0})")]
    Unreachable(&'static str),
    #[error("did not answer within 5 seconds")]
    Timeout,
    #[error("answered HTTP {0} (a 200 with the document is expected; redirects are not followed)")]
    Status(u16),
    #[error("is larger than 64 KiB")]
    TooLarge,
    #[error("is not JSON")]
    NotJson,
}

/// Addresses outbound requests never reach: unspecified, link-local (cloud
/// metadata services), and loopback unless `allow_loopback`.
pub fn forbidden_address(ip: IpAddr, allow_loopback: bool) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    };
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    };
    ip.is_unspecified() || link_local || (ip.is_loopback() && !allow_loopback)
}

/// Whether `url` names (as a literal) an address outbound requests never
/// reach; host names are checked when they resolve ([`outbound_client`]).
pub fn names_forbidden_address(url: &url::Url, allow_loopback: bool) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(v4)) => forbidden_address(IpAddr::V4(v4), allow_loopback),
        Some(url::Host::Ipv6(v6)) => forbidden_address(IpAddr::V6(v6), allow_loopback),
        _ => false,
    }
}

/// Resolves host names, keeping only addresses outbound requests may reach.
struct GuardedResolver {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| !forbidden_address(a.ip(), allow_loopback)).collect();
            if allowed.is_empty() {
                return Err("the host resolves only to addresses the provider does not call".into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client for URLs clients registered: no redirects, short
/// timeouts, and only addresses [`forbidden_address`] allows.
pub fn outbound_client(allow_loopback: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .dns_resolver(Arc::new(GuardedResolver { allow_loopback }))
        .build()
}

/// An HTTP client for registry documents, cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// `None` if no client with these settings could be built (no TLS
    /// backend): then nothing is fetched, rather than fetched without limits.
    http: Option<reqwest::Client>,
    allow_loopback: bool,
}

impl Fetcher {
    /// `allow_loopback` only when the provider itself runs on loopback.
    pub fn new(allow_loopback: bool) -> Self {
        let http = outbound_client(allow_loopback);
        if let Err(e) = &http {
            tracing::error!(error = %e, "no HTTP client for registry documents");
        }
        Self { http: http.ok(), allow_loopback }
    }

    /// GETs `uri` (checked against the URL rule as `field`) and parses it as JSON.
    pub async fn json(&self, field: &str, uri: &str) -> Result<serde_json::Value, FetchError> {
        let url = metadata::check_url(field, uri).map_err(|e| match e {
            super::ClientError::InvalidMetadata(why) => FetchError::Url(why),
            other => FetchError::Url(other.to_string()),
        })?;
        if names_forbidden_address(&url, self.allow_loopback) {
            return Err(FetchError::Url(format!(
                "{field} {uri:?} names a loopback or link-local address, which the provider does not call"
            )));
        }
        let http = self.http.as_ref().ok_or(FetchError::Unreachable("the provider cannot make HTTP requests"))?;
        let mut response = http
            .get(url)
            .header(header::ACCEPT, "application/json")
            .header(header::CACHE_CONTROL, "no-cache")
            .send()
            .await
            .map_err(|e| failure(&e))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|length| length > MAX_DOCUMENT as u64) {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failure(&e))? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| FetchError::NotJson)
    }
}

/// Names what went wrong, from reqwest's error and the errors beneath it.
fn failure(error: &reqwest::Error) -> FetchError {
    if error.is_timeout() {
        return FetchError::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut text = String::new();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return FetchError::Refused,
                std::io::ErrorKind::TimedOut => return FetchError::Timeout,
                _ => {}
            }
        }
        text.push_str(&cause.to_string().to_ascii_lowercase());
        text.push(' ');
        source = cause.source();
    }
    if text.contains("dns error") || text.contains("failed to lookup") {
        FetchError::Unreachable("host not found")
    } else if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        FetchError::Unreachable("TLS handshake failed")
    } else if error.is_connect() {
        FetchError::Unreachable("cannot connect")
    } else {
        FetchError::Unreachable("connection lost before the whole document was read")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_outside_the_rule_are_never_fetched() {
        let fetcher = Fetcher::new(true);
        for (uri, words) in [
            ("http://mairie.example.fr/sector.json", "must use https"),
            ("https://user:pw@mairie.example.fr/sector.json", "credentials"),
            ("https://mairie.example.fr/sector.json#x", "fragment"),
            ("ftp://mairie.example.fr/sector.json", "must use https"),
            ("sector.json", "absolute URL"),
        ] {
            match fetcher.json("sector_identifier_uri", uri).await {
                Err(FetchError::Url(why)) => assert!(why.contains(words), "{uri}: {why}"),
                other => panic!("{uri}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_provider_in_production_never_calls_its_own_machine() {
        let fetcher = Fetcher::new(false);
        for uri in ["https://127.0.0.1/s.json", "https://[::1]/s.json", "https://169.254.169.254/latest/meta-data"] {
            match fetcher.json("sector_identifier_uri", uri).await {
                Err(FetchError::Url(why)) => assert!(why.contains("does not call"), "{uri}: {why}"),
                other => panic!("{uri}: {other:?}"),
            }
        }
        // A name that resolves to loopback is refused when resolved.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = fetcher.json("jwks_uri", &format!("http://localhost:{port}/jwks")).await;
        assert!(matches!(got, Err(FetchError::Unreachable(_))), "{got:?}");
        assert!(forbidden_address("::ffff:127.0.0.1".parse().unwrap(), false));
        assert!(forbidden_address("0.0.0.0".parse().unwrap(), true));
        assert!(forbidden_address("fe80::1".parse().unwrap(), true));
        assert!(!forbidden_address("127.0.0.1".parse().unwrap(), true));
        assert!(!forbidden_address("192.0.2.10".parse().unwrap(), false));
    }

    #[tokio::test]
    async fn a_closed_port_is_named_as_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let got = Fetcher::new(true).json("jwks_uri", &format!("http://127.0.0.1:{port}/jwks")).await;
        assert_eq!(got, Err(FetchError::Refused));
        assert_eq!(FetchError::Refused.to_string(), "is unreachable (connection refused)");
    }
}
