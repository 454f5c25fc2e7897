//! The one outbound fetch for documents a client registers by reference:
//! its `sector_identifier_uri` (OIDC Registration §5) and its `jwks_uri`
//! (RFC 7591 §2). Same URL rule as the client's other URLs (https, http only
//! on loopback, no credentials, no fragment); no redirects; short timeouts;
//! a capped body; only the addresses [`OutboundPolicy`] permits. A failure
//! says what the registrant can act on (an HTTP status, not JSON, too large);
//! a network failure is one generic message, its cause only in the log, so
//! registration is no port scanner. The body is never repeated.

use reqwest::header;

use super::metadata;
use super::outbound::OutboundPolicy;

/// Largest document read (both kinds are a few hundred bytes in practice).
pub const MAX_DOCUMENT: usize = 64 * 1024;

/// Why a document could not be read: meant to follow the field and URL in a
/// message (`jwks_uri "https://…" answered HTTP 404`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL breaks the rule for client URLs (the text says how).
    #[error("{0}")]
    Url(String),
    /// No document came back over the network (refused, timed out, no such
    /// host, TLS, cut short): which one is logged, never told.
    #[error("could not be fetched (no answer from that address)")]
    Unreachable,
    #[error("answered HTTP {0} (a 200 with the document is expected; redirects are not followed)")]
    Status(u16),
    #[error("is larger than 64 KiB")]
    TooLarge,
    #[error("is not JSON")]
    NotJson,
}

/// An HTTP client for registry documents, cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// `None` if no client with these settings could be built (no TLS
    /// backend): then nothing is fetched, rather than fetched without limits.
    http: Option<reqwest::Client>,
    policy: OutboundPolicy,
}

impl Fetcher {
    pub fn new(policy: OutboundPolicy) -> Self {
        let http = policy.client();
        if let Err(e) = &http {
            tracing::error!(error = %e, "no HTTP client for registry documents");
        }
        Self { http: http.ok(), policy }
    }

    /// GETs `uri` (checked against the URL rule as `field`) and parses it as JSON.
    pub async fn json(&self, field: &str, uri: &str) -> Result<serde_json::Value, FetchError> {
        let url = metadata::check_url(field, uri).map_err(|e| match e {
            super::ClientError::InvalidMetadata(why) => FetchError::Url(why),
            other => FetchError::Url(other.to_string()),
        })?;
        if self.policy.refuses_literal(&url) {
            return Err(FetchError::Url(format!(
                "{field} {uri:?} names a loopback, private or link-local address, which the provider does not call"
            )));
        }
        let Some(http) = self.http.as_ref() else {
            tracing::error!("no HTTP client for registry documents");
            return Err(FetchError::Unreachable);
        };
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

/// Logs what went wrong (reqwest's error and the errors beneath it) and
/// answers the one generic failure.
fn failure(error: &reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut causes = Vec::new();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let url = error.url().map(|u| u.as_str()).unwrap_or_default();
    tracing::info!(url, error = causes.join(": "), "registry document not fetched");
    FetchError::Unreachable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_outside_the_rule_are_never_fetched() {
        let fetcher = Fetcher::new(OutboundPolicy { allow_loopback: true, allowed: vec![] });
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
    async fn a_provider_in_production_never_calls_its_own_machine_or_network() {
        let fetcher = Fetcher::new(OutboundPolicy::default());
        for uri in [
            "https://127.0.0.1/s.json",
            "https://[::1]/s.json",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/s.json",
            "https://[64:ff9b::a00:1]/s.json",
        ] {
            match fetcher.json("sector_identifier_uri", uri).await {
                Err(FetchError::Url(why)) => assert!(why.contains("does not call"), "{uri}: {why}"),
                other => panic!("{uri}: {other:?}"),
            }
        }
        // A name that resolves to loopback is refused when resolved.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = fetcher.json("jwks_uri", &format!("http://localhost:{port}/jwks")).await;
        assert_eq!(got, Err(FetchError::Unreachable));
    }

    #[tokio::test]
    async fn network_failures_are_one_message_that_names_no_cause() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let on_loopback = OutboundPolicy { allow_loopback: true, allowed: vec![] };
        let got = Fetcher::new(on_loopback).json("jwks_uri", &format!("http://127.0.0.1:{port}/jwks")).await;
        assert_eq!(got, Err(FetchError::Unreachable));
        let told = FetchError::Unreachable.to_string();
        for cause in ["refused", "TLS", "timeout", "host"] {
            assert!(!told.contains(cause), "{told}");
        }
    }
}
