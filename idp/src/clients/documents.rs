//! Documents a client registers by reference, and the rules they follow:
//! the sector identifier document (OIDC Core §8.1, OIDC Registration §5),
//! checked at registration and whenever it or the redirect URIs change; and
//! the JWK Set at `jwks_uri` (RFC 7591 §2), checked at registration and read
//! at client authentication through the cache, shared by every replica.

use serde_json::Value;

use super::fetch::{FetchError, Fetcher};
use super::{Client, ClientError, NewClient};
use crate::cache::{Cache, CacheError};
use crate::keys::sha256_b64;

/// Most keys in a client's JWK Set, inline or fetched.
pub const MAX_KEYS: usize = 10;
/// Largest JWK Set, as JSON text.
pub const MAX_JWKS: usize = 16 * 1024;
/// How long a fetched key set is used before it is fetched again.
pub const JWKS_TTL: i64 = 300;
/// An assertion naming a key the cached set lacks triggers a refetch, at most
/// once per this many seconds per client (key rotation at the client, not a
/// lever to make the provider hammer its URL).
pub const JWKS_REFETCH_INTERVAL: i64 = 60;
/// After a failed fetch, the failure is answered from the cache this long:
/// a client whose server is down costs one fetch per interval, not one per
/// `/token` attempt.
pub const JWKS_FAILURE_MEMORY: i64 = 10;

/// The sector identifier document: a JSON array of strings listing every
/// redirect URI of the client (OIDC Registration §5).
pub fn check_sector_document(document: &Value, redirect_uris: &[String]) -> Result<(), String> {
    let listed: Vec<&str> = document
        .as_array()
        .and_then(|items| items.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
        .ok_or_else(|| "is not a JSON array of strings".to_owned())?;
    match redirect_uris.iter().find(|uri| !listed.contains(&uri.as_str())) {
        Some(missing) => Err(format!("does not list the redirect URI {missing:?}")),
        None => Ok(()),
    }
}

/// A JWK Set of public keys: the same rules for `jwks` and for what
/// `jwks_uri` serves. The reason reads after the field's name.
pub fn check_jwks(set: &Value) -> Result<(), String> {
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "must be a JSON Web Key Set {\"keys\": [...]}".to_owned())?;
    if keys.is_empty() {
        return Err("holds no key".into());
    }
    if keys.len() > MAX_KEYS || set.to_string().len() > MAX_JWKS {
        return Err(format!("holds more than {MAX_KEYS} keys or 16 KiB"));
    }
    for key in keys {
        if key.get("kty").and_then(Value::as_str).is_none() {
            return Err("has a key without kty".into());
        }
        if key.get("d").is_some() || key.get("k").is_some() {
            return Err("must hold public keys only (found private or symmetric key material)".into());
        }
    }
    Ok(())
}

fn refused(field: &str, uri: &str, why: impl std::fmt::Display) -> ClientError {
    ClientError::InvalidMetadata(format!("{field} {uri:?} {why}"))
}

fn not_fetched(field: &str, uri: &str, error: FetchError) -> ClientError {
    match error {
        // A refusal of the URL itself already names the field and the URL.
        FetchError::Url(why) => ClientError::InvalidMetadata(why),
        other => refused(field, uri, other),
    }
}

/// Fetches and checks the documents `new` refers to. For an update,
/// `current` is the client as stored: a document is fetched again only
/// when what it must agree with changed (so renaming a client never
/// depends on a third-party server).
pub(super) async fn check_references(
    new: &NewClient,
    current: Option<&Client>,
    fetcher: &Fetcher,
) -> Result<(), ClientError> {
    if let Some(uri) = &new.extra.sector_identifier_uri {
        let unchanged = current.is_some_and(|c| {
            c.metadata.sector_identifier_uri.as_ref() == Some(uri) && c.redirect_uris == new.redirect_uris
        });
        if !unchanged {
            let field = "sector_identifier_uri";
            let document = fetcher.json(field, uri).await.map_err(|e| not_fetched(field, uri, e))?;
            check_sector_document(&document, &new.redirect_uris).map_err(|why| refused(field, uri, why))?;
        }
    }
    if let Some(uri) = &new.jwks_uri {
        let unchanged = current.is_some_and(|c| c.jwks_uri.as_ref() == Some(uri));
        if !unchanged {
            let field = "jwks_uri";
            let set = fetcher.json(field, uri).await.map_err(|e| not_fetched(field, uri, e))?;
            check_jwks(&set).map_err(|why| refused(field, uri, why))?;
        }
    }
    Ok(())
}

/// Why a client's published keys are not at hand.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The URL could not be read, or what it serves is not a public JWK Set.
    #[error("the client's jwks_uri {uri:?} {why}")]
    Unusable { uri: String, why: String },
    #[error(transparent)]
    Cache(#[from] CacheError),
}

fn cache_key(client_id: &str, uri: &str) -> String {
    // The URL in the key: a client moving its keys elsewhere is read afresh.
    format!("client-jwks:{client_id}:{}", sha256_b64(uri.as_bytes()))
}

fn failure_key(client_id: &str, uri: &str) -> String {
    format!("client-jwks-failed:{client_id}:{}", sha256_b64(uri.as_bytes()))
}

async fn fetch_and_keep(cache: &Cache, fetcher: &Fetcher, client_id: &str, uri: &str) -> Result<Value, KeysError> {
    let unusable = |why: String| KeysError::Unusable { uri: uri.to_owned(), why };
    let checked = match fetcher.json("jwks_uri", uri).await {
        Ok(set) => check_jwks(&set).map(|()| set),
        Err(e) => Err(e.to_string()),
    };
    match checked {
        Ok(set) => {
            cache.put(&cache_key(client_id, uri), set.to_string().as_bytes(), JWKS_TTL).await?;
            Ok(set)
        }
        Err(why) => {
            cache.put(&failure_key(client_id, uri), why.as_bytes(), JWKS_FAILURE_MEMORY).await?;
            Err(unusable(why))
        }
    }
}

/// The key set a client publishes at `uri`: from the cache while it is
/// fresh, else fetched (and kept `JWKS_TTL` seconds). `true` with it when
/// it was fetched just now.
pub async fn published_keys(
    cache: &Cache,
    fetcher: &Fetcher,
    client_id: &str,
    uri: &str,
) -> Result<(Value, bool), KeysError> {
    if let Some(bytes) = cache.get(&cache_key(client_id, uri)).await?
        && let Ok(set) = serde_json::from_slice::<Value>(&bytes)
    {
        return Ok((set, false));
    }
    if let Some(why) = cache.get(&failure_key(client_id, uri)).await? {
        let why = String::from_utf8_lossy(&why);
        return Err(KeysError::Unusable { uri: uri.to_owned(), why: format!("{why} (tried less than 10 s ago)") });
    }
    Ok((fetch_and_keep(cache, fetcher, client_id, uri).await?, true))
}

/// Fetches the set again because an assertion named a key the cached set
/// lacks, unless that was already done in the last `JWKS_REFETCH_INTERVAL`
/// seconds (by any replica): `None` then.
pub async fn refetch_keys(
    cache: &Cache,
    fetcher: &Fetcher,
    client_id: &str,
    uri: &str,
) -> Result<Option<Value>, KeysError> {
    let guard = format!("client-jwks-refetch:{client_id}:{}", sha256_b64(uri.as_bytes()));
    if !cache.put_if_absent(&guard, b"", JWKS_REFETCH_INTERVAL).await? {
        return Ok(None);
    }
    Ok(Some(fetch_and_keep(cache, fetcher, client_id, uri).await?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_sector_document_lists_every_redirect_uri() {
        let uris = vec!["https://a.example.fr/cb".to_owned(), "https://b.example.fr/cb".to_owned()];
        let document = json!(["https://a.example.fr/cb", "https://b.example.fr/cb", "https://c.example.fr/cb"]);
        assert_eq!(check_sector_document(&document, &uris), Ok(()));
        assert_eq!(
            check_sector_document(&json!(["https://a.example.fr/cb"]), &uris),
            Err("does not list the redirect URI \"https://b.example.fr/cb\"".into())
        );
        // Exact strings: no prefix, no trailing-slash or case leniency.
        assert!(check_sector_document(&json!(["https://a.example.fr/cb/", "https://B.example.fr/cb"]), &uris).is_err());
        for wrong in [json!({"redirect_uris": []}), json!(["https://a.example.fr/cb", 1]), json!("x"), json!(null)] {
            assert_eq!(check_sector_document(&wrong, &uris), Err("is not a JSON array of strings".into()), "{wrong}");
        }
        assert_eq!(check_sector_document(&json!([]), &[]), Ok(()));
    }

    #[test]
    fn a_key_set_holds_a_few_public_keys() {
        let public = json!({"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "k1"});
        assert_eq!(check_jwks(&json!({"keys": [public]})), Ok(()));
        let cases = [
            (json!([public]), "must be a JSON Web Key Set"),
            (json!({"keys": {}}), "must be a JSON Web Key Set"),
            (json!({"keys": []}), "holds no key"),
            (json!({"keys": vec![public.clone(); 11]}), "more than 10 keys"),
            (json!({"keys": [{"kty": "EC", "x": "a".repeat(17_000)}]}), "16 KiB"),
            (json!({"keys": [{"crv": "P-256"}]}), "without kty"),
            (json!({"keys": [public, {"kty": "EC", "d": "private"}]}), "public keys only"),
            (json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}), "public keys only"),
        ];
        for (set, words) in cases {
            let why = check_jwks(&set).unwrap_err();
            assert!(why.contains(words), "{set}: {why}");
        }
    }
}
