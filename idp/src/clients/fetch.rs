//! The one outbound fetch for documents a client registers by reference:
//! its `sector_identifier_uri` (OIDC Registration §5) and its `jwks_uri`
//! (RFC 7591 §2). Same URL rule as the client's other URLs (https, http only
//! on loopback, no credentials, no fragment); no redirects; short timeouts;
//! a capped body. A failure names its cause and never repeats the body.

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

/// An HTTP client for registry documents, cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// `None` if no client with these settings could be built (no TLS
    /// backend): then nothing is fetched, rather than fetched without limits.
    http: Option<reqwest::Client>,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Fetcher {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TIMEOUT)
            .build();
        if let Err(e) = &http {
            tracing::error!(error = %e, "no HTTP client for registry documents");
        }
        Self { http: http.ok() }
    }

    /// GETs `uri` (checked against the URL rule as `field`) and parses it as JSON.
    pub async fn json(&self, field: &str, uri: &str) -> Result<serde_json::Value, FetchError> {
        let url = metadata::check_url(field, uri).map_err(|e| match e {
            super::ClientError::InvalidMetadata(why) => FetchError::Url(why),
            other => FetchError::Url(other.to_string()),
        })?;
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
        let fetcher = Fetcher::new();
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
    async fn a_closed_port_is_named_as_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let got = Fetcher::new().json("jwks_uri", &format!("http://127.0.0.1:{port}/jwks")).await;
        assert_eq!(got, Err(FetchError::Refused));
        assert_eq!(FetchError::Refused.to_string(), "is unreachable (connection refused)");
    }
}
