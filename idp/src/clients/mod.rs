//! The registry of territorial services (OAuth clients): their metadata,
//! validated once at registration, and their credentials.

use base64::Engine as _;
use serde::Serialize;

use crate::clock::UnixTime;
use crate::keys::{Alg, sha256_b64};
use crate::store::{ClientRecord, Db, StoreError};

/// How a client authenticates at the token endpoint (OIDC Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    /// Public clients (apps that cannot keep a secret); PKCE protects them.
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] =
        [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost, AuthMethod::PrivateKeyJwt, AuthMethod::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == value)
    }

    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
pub const GRANT_TYPES: [&str; 3] = [GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_CLIENT_CREDENTIALS];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    Pairwise,
    /// The citizen identifier itself: only for clients an administrator entitled.
    Public,
}

/// A registered client, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Client {
    pub client_id: String,
    #[serde(skip)]
    pub secret_hash: Option<String>,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    pub scope: Vec<String>,
    pub id_token_signed_response_alg: Alg,
    pub userinfo_signed_response_alg: Option<Alg>,
    pub subject_type: SubjectType,
    pub sector: String,
    pub jwks: Option<serde_json::Value>,
    /// OIDC Back-Channel Logout 1.0 §2.2.
    pub backchannel_logout_uri: Option<String>,
    /// OIDC Front-Channel Logout 1.0 §2.
    pub frontchannel_logout_uri: Option<String>,
    pub created_at: UnixTime,
}

impl Serialize for Alg {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Client {
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scope.iter().any(|s| s == scope)
    }

    pub fn is_confidential(&self) -> bool {
        self.token_endpoint_auth_method != AuthMethod::None
    }

    /// Constant-time check of a presented secret against the stored digest.
    pub fn secret_matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        let Some(stored) = &self.secret_hash else { return false };
        sha256_b64(presented.as_bytes()).as_bytes().ct_eq(stored.as_bytes()).into()
    }

    fn from_record(r: ClientRecord) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("client {}: {what}", r.client_id));
        let json_list = |text: &str, what: &str| -> Result<Vec<String>, StoreError> {
            serde_json::from_str(text).map_err(|_| corrupt(what))
        };
        Ok(Client {
            redirect_uris: json_list(&r.redirect_uris, "redirect_uris")?,
            post_logout_redirect_uris: json_list(&r.post_logout_redirect_uris, "post_logout_redirect_uris")?,
            grant_types: json_list(&r.grant_types, "grant_types")?,
            token_endpoint_auth_method: AuthMethod::parse(&r.token_endpoint_auth_method)
                .ok_or_else(|| corrupt("token_endpoint_auth_method"))?,
            scope: r.scope.split_whitespace().map(str::to_owned).collect(),
            id_token_signed_response_alg: Alg::parse(&r.id_token_signed_response_alg)
                .ok_or_else(|| corrupt("id_token_signed_response_alg"))?,
            userinfo_signed_response_alg: match &r.userinfo_signed_response_alg {
                Some(a) => Some(Alg::parse(a).ok_or_else(|| corrupt("userinfo_signed_response_alg"))?),
                None => None,
            },
            subject_type: match r.subject_type.as_str() {
                "public" => SubjectType::Public,
                "pairwise" => SubjectType::Pairwise,
                _ => return Err(corrupt("subject_type")),
            },
            jwks: match &r.jwks {
                Some(text) => Some(serde_json::from_str(text).map_err(|_| corrupt("jwks"))?),
                None => None,
            },
            // Registration metadata (logout URIs) arrives with the registry.
            backchannel_logout_uri: None,
            frontchannel_logout_uri: None,
            client_id: r.client_id,
            secret_hash: r.client_secret_hash,
            client_name: r.client_name,
            sector: r.sector,
            created_at: r.created_at,
        })
    }
}

/// What an administrator (CLI) or a developer (registration) asks for.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub scope: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    pub jwks: Option<serde_json::Value>,
    /// Only an administrator may set this.
    pub public_subject: bool,
}

/// Why client metadata was refused (RFC 7591 §3.2.2 codes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    #[error("invalid_client_metadata: {0}")]
    InvalidMetadata(String),
    #[error(transparent)]
    Store(#[from] StoreErrorText),
}

/// A store error carried as text (so `ClientError` stays `Clone + Eq`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreErrorText(pub String);

impl From<StoreError> for ClientError {
    fn from(e: StoreError) -> Self {
        ClientError::Store(StoreErrorText(e.to_string()))
    }
}

/// Scopes a client may be registered for.
pub const KNOWN_SCOPES: [&str; 7] =
    ["openid", "profile", "email", "phone", "address", "offline_access", "citizen_identifier"];

/// A redirect URI we accept: absolute, https (http only on loopback), no
/// fragment, no wildcard, no credentials (RFC 6749 §3.1.2, OAuth BCP §2.1).
pub fn check_redirect_uri(uri: &str) -> Result<url::Url, ClientError> {
    let bad = |why: &str| ClientError::InvalidRedirectUri(format!("{uri:?} {why}"));
    if uri.len() > 2_000 {
        return Err(bad("is longer than 2000 characters"));
    }
    let url = url::Url::parse(uri).map_err(|_| bad("is not an absolute URL"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(bad("must not contain a fragment (#…)"));
    }
    if uri.contains('*') {
        return Err(bad("must not contain a wildcard"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    let host = url.host_str().ok_or_else(|| bad("has no host"))?;
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(bad("must use https (http is allowed only for 127.0.0.1, [::1] and localhost)")),
        _ => Err(bad("must use https")),
    }
}

fn random_token(bytes: usize) -> Result<String, ClientError> {
    let mut buffer = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buffer)
        .map_err(|_| ClientError::InvalidMetadata("no randomness available".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer))
}

/// A client just registered, with its secret in clear: shown once.
#[derive(Debug, Clone)]
pub struct Registered {
    pub client: Client,
    pub client_secret: Option<String>,
}

/// Validates and stores a new client. Defaults: confidential
/// (`client_secret_basic`), `authorization_code` + `refresh_token`,
/// scope `openid`, ID tokens in ES256, pairwise subjects.
pub async fn register(db: &Db, new: NewClient, now: UnixTime) -> Result<Registered, ClientError> {
    let meta = |why: String| ClientError::InvalidMetadata(why);
    let name = new.client_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(meta("client_name must be 1 to 200 characters".into()));
    }
    if new.redirect_uris.is_empty() {
        return Err(ClientError::InvalidRedirectUri("at least one redirect_uri is required".into()));
    }
    let mut hosts = Vec::new();
    for uri in &new.redirect_uris {
        let url = check_redirect_uri(uri)?;
        hosts.push(url.host_str().unwrap_or_default().to_owned());
    }
    for uri in &new.post_logout_redirect_uris {
        check_redirect_uri(uri).map_err(|e| meta(format!("post_logout_redirect_uris: {e}")))?;
    }
    hosts.dedup();
    if hosts.len() > 1 {
        return Err(ClientError::InvalidRedirectUri(
            "redirect_uris on several hosts need a sector_identifier_uri (not supported yet): register one client per host"
                .into(),
        ));
    }
    let sector = hosts.pop().unwrap_or_default();
    let auth_method = match new.token_endpoint_auth_method.as_deref() {
        None => AuthMethod::ClientSecretBasic,
        Some(m) => AuthMethod::parse(m).ok_or_else(|| {
            meta(format!("token_endpoint_auth_method {m:?} is not one of client_secret_basic, client_secret_post, private_key_jwt, none"))
        })?,
    };
    if auth_method == AuthMethod::PrivateKeyJwt {
        let keys = new.jwks.as_ref().and_then(|j| j.get("keys")).and_then(|k| k.as_array());
        if keys.is_none_or(|k| k.is_empty()) {
            return Err(meta("private_key_jwt needs jwks with at least one public key".into()));
        }
    } else if new.jwks.is_some() {
        return Err(meta("jwks is only used with token_endpoint_auth_method private_key_jwt".into()));
    }
    let grant_types = if new.grant_types.is_empty() {
        vec![GRANT_AUTHORIZATION_CODE.to_owned(), GRANT_REFRESH_TOKEN.to_owned()]
    } else {
        new.grant_types.clone()
    };
    for grant in &grant_types {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            return Err(meta(format!("grant_types: {grant:?} is not supported")));
        }
    }
    if grant_types.iter().any(|g| g == GRANT_CLIENT_CREDENTIALS) && auth_method == AuthMethod::None {
        return Err(meta("client_credentials needs a confidential client".into()));
    }
    let scope: Vec<String> = new.scope.as_deref().unwrap_or("openid").split_whitespace().map(str::to_owned).collect();
    if let Some(unknown) = scope.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(meta(format!("scope {unknown:?} is not offered")));
    }
    if scope.iter().any(|s| s == "citizen_identifier") && !new.public_subject {
        return Err(meta("scope citizen_identifier is granted by an administrator only".into()));
    }
    let alg = match new.id_token_signed_response_alg.as_deref() {
        None => Alg::ES256,
        Some(a) => Alg::parse(a).ok_or_else(|| {
            meta(format!("id_token_signed_response_alg {a:?} is not one of ES256, PS256, RS256, EdDSA"))
        })?,
    };
    let client_id = random_token(16)?;
    let client_secret = if auth_method.uses_secret() { Some(random_token(32)?) } else { None };
    let record = ClientRecord {
        client_id: client_id.clone(),
        client_secret_hash: client_secret.as_deref().map(|s| sha256_b64(s.as_bytes())),
        client_name: name.to_owned(),
        redirect_uris: serde_json::to_string(&new.redirect_uris).unwrap_or_default(),
        post_logout_redirect_uris: serde_json::to_string(&new.post_logout_redirect_uris).unwrap_or_default(),
        grant_types: serde_json::to_string(&grant_types).unwrap_or_default(),
        token_endpoint_auth_method: auth_method.as_str().to_owned(),
        scope: scope.join(" "),
        id_token_signed_response_alg: alg.as_str().to_owned(),
        userinfo_signed_response_alg: None,
        subject_type: if new.public_subject { "public" } else { "pairwise" }.to_owned(),
        sector,
        jwks: new.jwks.as_ref().map(ToString::to_string),
        created_at: now,
        updated_at: now,
    };
    db.insert_client(&record).await?;
    Ok(Registered { client: Client::from_record(record)?, client_secret })
}

pub async fn find(db: &Db, client_id: &str) -> Result<Option<Client>, StoreError> {
    db.client(client_id).await?.map(Client::from_record).transpose()
}

pub async fn list(db: &Db) -> Result<Vec<Client>, StoreError> {
    db.clients().await?.into_iter().map(Client::from_record).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        assert!(check_redirect_uri("https://mairie.example.fr/callback").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:9000/cb").is_ok());
        assert!(check_redirect_uri("http://localhost/cb").is_ok());
        assert!(check_redirect_uri("http://[::1]:8000/cb").is_ok());
        for bad in [
            "http://mairie.example.fr/cb",
            "https://mairie.example.fr/cb#frag",
            "https://*.example.fr/cb",
            "https://user:pw@mairie.example.fr/cb",
            "/relative",
            "javascript:alert(1)",
            "custom:/cb",
        ] {
            assert!(matches!(check_redirect_uri(bad), Err(ClientError::InvalidRedirectUri(_))), "{bad}");
        }
    }

    #[test]
    fn auth_methods_round_trip() {
        for m in AuthMethod::ALL {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(AuthMethod::parse("client_secret_jwt"), None);
    }
}
