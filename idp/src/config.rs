//! Typed configuration from `SESAME_*` environment variables and an optional
//! TOML file (`SESAME_CONFIG`), validated once at start with one clear message
//! per problem.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// Every setting we accept: name (without the `SESAME_` prefix), an example of
/// a right value, and what it does. Anything else under `SESAME_` is a typo.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    ("ISSUER", "https://sesame.example.fr", "Public base URL; every URL the provider emits derives from it"),
    ("BIND", "0.0.0.0:8080", "Address and port to listen on"),
    ("OPS_BIND", "127.0.0.1:9090", "Operators' listener: /metrics, detailed /readyz, /admin/api (never public)"),
    ("DATA_DIR", "/var/lib/sesame", "Directory for the embedded SQLite database and local master key"),
    ("DATABASE_URL", "postgres://sesame@db/sesame", "sqlite:// or postgres:// URL"),
    ("REDIS_URL", "redis://redis:6379", "Redis for shared short-lived state (optional)"),
    ("REDIS_PREFIX", "sesame:", "Prefix of every Redis key this instance writes"),
    ("MASTER_KEY", "<32 random bytes, base64: openssl rand -base64 32>", "Encrypts signing keys at rest"),
    ("AUTO_MIGRATE", "true", "Apply database migrations when `serve` starts"),
    ("LOG_FORMAT", "json", "json or text"),
    ("LOG", "info,sqlx=warn", "Log filter (tracing EnvFilter syntax)"),
    ("ACCESS_TOKEN_TTL", "5m", "Lifetime of access tokens"),
    ("ID_TOKEN_TTL", "5m", "Lifetime of ID tokens"),
    ("REFRESH_TOKEN_IDLE_TTL", "14d", "A refresh token unused this long expires"),
    ("REFRESH_TOKEN_ABSOLUTE_TTL", "90d", "No refresh token family outlives this"),
    ("SESSION_IDLE_TTL", "30m", "A browser session unused this long ends"),
    ("SESSION_ABSOLUTE_TTL", "12h", "No browser session outlives this"),
    ("KEY_PUBLISH_BEFORE_USE", "1h", "How long a rotated key is published before it signs"),
    ("SHUTDOWN_GRACE", "25s", "How long in-flight requests may finish after SIGTERM"),
    ("LOGOUT_DELIVERY_INTERVAL", "2s", "How often each replica looks for back-channel logouts to deliver"),
    (
        "SMTP_URL",
        "",
        "Mail server: smtp://host:25 (no TLS), smtp://host:587?tls=required (STARTTLS), smtps://user:pass@host:465 (TLS); unset: mail goes to the log",
    ),
    ("MAIL_FROM", "Sésame <no-reply@issuer host>", "Sender of every mail (an address, or Name <address>)"),
    ("MAIL_DELIVERY_INTERVAL", "2s", "How often each replica looks for mail to send"),
    ("DEPENDENCY_TIMEOUT", "5s", "Longest wait for a database connection or a Redis answer before a request gets 503"),
    ("RATE_LIMIT_WINDOW", "1m", "Length of the fixed window every rate limit counts in"),
    (
        "RATE_LIMIT_PER_ADDRESS",
        "60",
        "Ceremony starts, recovery and registration per source address per window; 0 = off",
    ),
    ("RATE_LIMIT_PER_CLIENT", "6000", "Token requests per client and per source address per window; 0 = off"),
    (
        "RATE_LIMIT_RECOVERY_PER_CITIZEN",
        "5",
        "Recovery-code attempts against one citizen per window, from every address together; 0 = off",
    ),
    ("TRUSTED_PROXIES", "10.0.0.0/8,fd00::/8", "Peers (CIDRs) whose X-Forwarded-For names the source address"),
    (
        "OUTBOUND_ALLOW",
        "10.20.0.0/16",
        "Internal ranges (CIDRs) the provider may call at URLs clients registered (jwks_uri, sector documents, logout)",
    ),
    ("RETENTION_AUDIT_LOG", "365d", "Citizens' audit events older than this are purged (at least 180d)"),
    ("RETENTION_ADMIN_LOG", "365d", "Administrators' log entries older than this are purged (at least 180d)"),
    (
        "RETENTION_ENDED_TOKENS",
        "7d",
        "Refresh tokens and grants are purged this long after they expired or were revoked",
    ),
    ("RETENTION_LOGOUT_NOTICES", "30d", "Back-channel logout notices are purged this long after delivery or giving up"),
    (
        "RETENTION_RELEASE_RECORDS",
        "365d",
        "What a deleted account leaves (claims, service, time; no person) is kept this long",
    ),
    ("RETENTION_DORMANT_ACCOUNTS", "off", "off, or delete accounts with no sign-in for this long (at least 365d)"),
    ("RETENTION_BATCH", "1000", "Most rows of each kind one upkeep round (every 30 s) purges"),
];

/// Where the master key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `SESAME_MASTER_KEY`, decoded.
    Given([u8; 32]),
    /// Zero-config on loopback only: a file in the data directory, created once.
    LocalFile(PathBuf),
}

impl fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Given(_) => f.write_str("Given(<redacted>)"),
            Self::LocalFile(path) => write!(f, "LocalFile({})", path.display()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// Lifetimes, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub access_token: i64,
    pub id_token: i64,
    pub refresh_token_idle: i64,
    pub refresh_token_absolute: i64,
    pub session_idle: i64,
    pub session_absolute: i64,
    pub key_publish_before_use: i64,
}

impl Lifetimes {
    /// The longest a JWT we sign stays valid: how long a retired key must stay
    /// published after its successor starts signing.
    pub fn longest_signed_token(&self) -> i64 {
        self.access_token.max(self.id_token).max(LOGOUT_TOKEN_TTL)
    }
}

/// Logout tokens are short by nature (OIDC Back-Channel Logout §2.4).
pub const LOGOUT_TOKEN_TTL: i64 = 120;

#[derive(Debug, Clone)]
pub struct Config {
    /// Without trailing slash.
    pub issuer: String,
    pub bind: SocketAddr,
    /// The operators' listener (`/metrics`, detailed `/readyz`, `/admin/api`).
    pub ops_bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub master_key: MasterKeySource,
    pub auto_migrate: bool,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub lifetimes: Lifetimes,
    pub shutdown_grace: i64,
    pub logout_delivery_interval: i64,
    pub mail: MailSettings,
    /// Seconds a request waits for a database connection or a Redis answer.
    pub dependency_timeout: i64,
    pub rate_limits: RateLimits,
    /// Refused ranges (private, loopback, link-local) that URLs clients
    /// registered may reach all the same (`clients::outbound`).
    pub outbound_allow: Vec<IpNet>,
    pub retention: crate::retention::Policy,
}

/// Where mail goes (`crate::mail`).
#[derive(Clone)]
pub struct MailSettings {
    /// `None`: mail is written to the log.
    pub smtp_url: Option<String>,
    /// Checked at start (`lettre::message::Mailbox`).
    pub from: String,
    pub delivery_interval: i64,
}

impl std::fmt::Debug for MailSettings {
    // The URL may hold the SMTP password: only its scheme and host are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let server = self
            .smtp_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| format!("{}://{}:{}", u.scheme(), u.host_str().unwrap_or(""), u.port().unwrap_or(0)));
        f.debug_struct("MailSettings")
            .field("smtp", &server)
            .field("from", &self.from)
            .field("delivery_interval", &self.delivery_interval)
            .finish()
    }
}

/// Shared rate limits (`web::rate_limit`): counts per fixed window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// Window length, seconds.
    pub window: i64,
    /// Per source address on ceremony starts, recovery and registration; 0 = off.
    pub per_address: u32,
    /// Per client (and per source address) on `/token`; 0 = off.
    pub per_client: u32,
    /// Recovery-code attempts against one citizen, all addresses together; 0 = off.
    pub recovery_per_citizen: u32,
    /// Peers trusted to name the source address in `X-Forwarded-For`.
    pub trusted_proxies: Vec<IpNet>,
}

/// An address range (`10.0.0.0/8`, `fd00::/8`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(value: &str) -> Result<Self, String> {
        let (addr, prefix) = match value.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (value, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| format!("{value:?} is not an address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => {
                p.trim().parse::<u8>().ok().filter(|p| *p <= max).ok_or(format!("bad prefix length in {value:?}"))?
            }
        };
        Ok(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            _ => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl Config {
    /// Reads the process environment (and `SESAME_CONFIG` if set).
    pub fn from_process_env() -> Result<Self, ConfigError> {
        Self::from_env(&std::env::vars().collect())
    }

    /// Builds the configuration from an environment map, so tests never touch
    /// the process environment.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut raw: BTreeMap<String, String> = BTreeMap::new();

        if let Some(path) = env.get("SESAME_CONFIG") {
            match read_toml(Path::new(path)) {
                Ok(values) => raw.extend(values),
                Err(message) => problems.push(Problem::new("SESAME_CONFIG", message, "/etc/sesame/sesame.toml")),
            }
        }
        for (name, value) in env {
            let Some(short) = name.strip_prefix("SESAME_") else { continue };
            // Test harness variables and the file pointer are not settings.
            if short == "CONFIG" || short.starts_with("TEST_") {
                continue;
            }
            raw.insert(short.to_owned(), value.clone());
        }
        for name in raw.keys() {
            if !SETTINGS.iter().any(|(known, _, _)| known == name) {
                problems.push(Problem {
                    setting: format!("SESAME_{name}"),
                    message: "unknown setting (a typo?)".into(),
                    example: format!("one of {}", known_names()),
                });
            }
        }

        let mut p = Parser { raw: &raw, problems: &mut problems };
        let issuer = p.issuer();
        let bind = p
            .parse("BIND", "127.0.0.1:8080", |v| v.parse::<SocketAddr>().map_err(|_| "not an address:port".to_owned()));
        let ops_bind = p.parse("OPS_BIND", "127.0.0.1:9090", |v| {
            v.parse::<SocketAddr>().map_err(|_| "not an address:port".to_owned())
        });
        let data_dir = raw.get("DATA_DIR").map(PathBuf::from).unwrap_or_else(|| default_data_dir(env));
        let database_url = p.parse("DATABASE_URL", "", |v| {
            if v.is_empty()
                || v.starts_with("sqlite:")
                || v.starts_with("postgres://")
                || v.starts_with("postgresql://")
            {
                Ok(v.to_owned())
            } else {
                Err("must start with sqlite: or postgres://".into())
            }
        });
        let redis_url = raw.get("REDIS_URL").and_then(|v| {
            if v.starts_with("redis://") || v.starts_with("rediss://") || v.starts_with("redis+unix://") {
                Some(v.clone())
            } else {
                p.problem("REDIS_URL", "must start with redis://, rediss:// or redis+unix://");
                None
            }
        });
        let redis_prefix = raw.get("REDIS_PREFIX").cloned().unwrap_or_else(|| "sesame:".into());
        let given_master_key = raw.get("MASTER_KEY").and_then(|v| match decode_master_key(v) {
            Ok(key) => Some(key),
            Err(message) => {
                p.problem("MASTER_KEY", &message);
                None
            }
        });
        let auto_migrate = p.parse("AUTO_MIGRATE", "true", parse_bool);
        let log_format = p.parse("LOG_FORMAT", "json", |v| match v {
            "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            _ => Err("must be json or text".into()),
        });
        let log_filter = raw.get("LOG").cloned().unwrap_or_else(|| "info,sqlx=warn".into());
        let lifetimes = PartialLifetimes {
            access_token: p.parse("ACCESS_TOKEN_TTL", "5m", parse_duration),
            id_token: p.parse("ID_TOKEN_TTL", "5m", parse_duration),
            refresh_token_idle: p.parse("REFRESH_TOKEN_IDLE_TTL", "14d", parse_duration),
            refresh_token_absolute: p.parse("REFRESH_TOKEN_ABSOLUTE_TTL", "90d", parse_duration),
            session_idle: p.parse("SESSION_IDLE_TTL", "30m", parse_duration),
            session_absolute: p.parse("SESSION_ABSOLUTE_TTL", "12h", parse_duration),
            key_publish_before_use: p.parse("KEY_PUBLISH_BEFORE_USE", "1h", parse_duration),
        };
        let shutdown_grace = p.parse("SHUTDOWN_GRACE", "25s", parse_duration);
        let logout_delivery_interval = p.parse("LOGOUT_DELIVERY_INTERVAL", "2s", parse_duration);
        let smtp_url = raw.get("SMTP_URL").filter(|v| !v.is_empty()).and_then(|v| match check_smtp_url(v) {
            Ok(()) => Some(v.clone()),
            Err(message) => {
                p.problem("SMTP_URL", &message);
                None
            }
        });
        let mail_from = raw.get("MAIL_FROM").cloned();
        let mail_delivery_interval = p.parse("MAIL_DELIVERY_INTERVAL", "2s", parse_duration);
        let rate_window = p.parse("RATE_LIMIT_WINDOW", "1m", parse_duration);
        let per_address = p.parse("RATE_LIMIT_PER_ADDRESS", "60", parse_count);
        let per_client = p.parse("RATE_LIMIT_PER_CLIENT", "6000", parse_count);
        let recovery_per_citizen = p.parse("RATE_LIMIT_RECOVERY_PER_CITIZEN", "5", parse_count);
        let dependency_timeout = p.parse("DEPENDENCY_TIMEOUT", "5s", parse_duration);
        let trusted_proxies = p.parse("TRUSTED_PROXIES", "", |v| {
            v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(IpNet::parse).collect::<Result<Vec<_>, _>>()
        });
        let outbound_allow = p.parse("OUTBOUND_ALLOW", "", |v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(crate::clients::outbound::network)
                .collect::<Result<Vec<_>, _>>()
        });
        let rate_limits = match (rate_window, per_address, per_client, recovery_per_citizen, trusted_proxies) {
            (Some(window), Some(per_address), Some(per_client), Some(recovery_per_citizen), Some(trusted_proxies)) => {
                Some(RateLimits { window, per_address, per_client, recovery_per_citizen, trusted_proxies })
            }
            _ => None,
        };

        let retention = p.retention();

        let (Some(issuer), Some(bind), Some(ops_bind)) = (issuer, bind, ops_bind) else {
            return Err(ConfigError { problems });
        };
        if ops_bind.port() != 0 && ops_bind.port() == bind.port() {
            p.problem("OPS_BIND", "must use another port than SESAME_BIND: operator surfaces are never public");
        }
        let on_loopback = host_is_loopback(&issuer) && bind.ip().is_loopback();
        if issuer.starts_with("http://") && !host_is_loopback(&issuer) {
            p.problem("ISSUER", "must use https:// unless the issuer host is loopback (localhost)");
        }
        let master_key = match given_master_key {
            Some(key) => Some(MasterKeySource::Given(key)),
            None if on_loopback && !raw.contains_key("MASTER_KEY") => {
                Some(MasterKeySource::LocalFile(data_dir.join("master.key")))
            }
            None if raw.contains_key("MASTER_KEY") => None,
            None => {
                p.problem("MASTER_KEY", "is required unless both the issuer host and SESAME_BIND are loopback");
                None
            }
        };
        let mail_from = mail_from.unwrap_or_else(|| format!("Sésame <no-reply@{}>", issuer_host(&issuer)));
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            p.problem("MAIL_FROM", "is not a mail address (name@example.org or Name <name@example.org>)");
        }
        let mail = mail_delivery_interval.map(|delivery_interval| MailSettings {
            smtp_url,
            from: mail_from,
            delivery_interval,
        });
        let database_url = database_url.map(|url| {
            if url.is_empty() { format!("sqlite://{}?mode=rwc", data_dir.join("sesame.db").display()) } else { url }
        });

        let settings = (
            master_key,
            database_url,
            auto_migrate,
            log_format,
            lifetimes.complete(),
            shutdown_grace,
            logout_delivery_interval,
            dependency_timeout,
            rate_limits,
            outbound_allow,
            mail,
            retention,
        );
        match settings {
            (
                Some(master_key),
                Some(database_url),
                Some(auto_migrate),
                Some(log_format),
                Some(lifetimes),
                Some(shutdown_grace),
                Some(logout_delivery_interval),
                Some(dependency_timeout),
                Some(rate_limits),
                Some(outbound_allow),
                Some(mail),
                Some(retention),
            ) if problems.is_empty() => Ok(Config {
                issuer,
                bind,
                ops_bind,
                data_dir,
                database_url,
                redis_url,
                redis_prefix,
                master_key,
                auto_migrate,
                log_format,
                log_filter,
                lifetimes,
                shutdown_grace,
                logout_delivery_interval,
                mail,
                dependency_timeout,
                rate_limits,
                outbound_allow,
                retention,
            }),
            _ => Err(ConfigError { problems }),
        }
    }

    /// Host of the issuer: the WebAuthn RP ID and the cookie domain.
    pub fn issuer_host(&self) -> &str {
        issuer_host(&self.issuer)
    }

    /// Whether the provider runs on loopback (development, tests): only then
    /// may it call loopback URLs that clients registered.
    pub fn issuer_is_loopback(&self) -> bool {
        host_is_loopback(&self.issuer)
    }

    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The database backend, named for logs and `check-config`.
    pub fn database_kind(&self) -> &'static str {
        if self.database_url.starts_with("sqlite:") { "sqlite" } else { "postgres" }
    }

    /// The URL of a path under the issuer (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

/// An SMTP URL lettre accepts (scheme, host, `tls` mode), checked without connecting.
fn check_smtp_url(value: &str) -> Result<(), String> {
    let parsed = url::Url::parse(value).map_err(|_| "is not a URL".to_owned())?;
    if !matches!(parsed.scheme(), "smtp" | "smtps") {
        return Err("must start with smtp:// or smtps://".into());
    }
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(value)
        .map(|_| ())
        .map_err(|e| format!("is not a usable SMTP URL ({e}); the TLS mode is ?tls=required or ?tls=opportunistic"))
}

/// Lifetimes as parsed, each possibly missing after a problem.
struct PartialLifetimes {
    access_token: Option<i64>,
    id_token: Option<i64>,
    refresh_token_idle: Option<i64>,
    refresh_token_absolute: Option<i64>,
    session_idle: Option<i64>,
    session_absolute: Option<i64>,
    key_publish_before_use: Option<i64>,
}

impl PartialLifetimes {
    fn complete(&self) -> Option<Lifetimes> {
        Some(Lifetimes {
            access_token: self.access_token?,
            id_token: self.id_token?,
            refresh_token_idle: self.refresh_token_idle?,
            refresh_token_absolute: self.refresh_token_absolute?,
            session_idle: self.session_idle?,
            session_absolute: self.session_absolute?,
            key_publish_before_use: self.key_publish_before_use?,
        })
    }
}

/// One problem with one setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub setting: String,
    pub message: String,
    pub example: String,
}

impl Problem {
    fn new(setting: &str, message: String, example: &str) -> Self {
        Self { setting: setting.into(), message, example: example.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (for example: {})", self.setting, self.message, self.example)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl ConfigError {
    pub fn mentions(&self, setting: &str) -> bool {
        self.problems.iter().any(|p| p.setting == setting)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        write!(f, "invalid configuration:\n  {}", lines.join("\n  "))
    }
}

impl std::error::Error for ConfigError {}

pub(crate) struct Parser<'a> {
    raw: &'a BTreeMap<String, String>,
    problems: &'a mut Vec<Problem>,
}

impl Parser<'_> {
    fn problem(&mut self, name: &str, message: &str) {
        let example = SETTINGS.iter().find(|(n, _, _)| *n == name).map(|(_, e, _)| *e).unwrap_or("");
        self.problems.push(Problem::new(&format!("SESAME_{name}"), message.to_owned(), example));
    }

    pub(crate) fn parse<T>(
        &mut self,
        name: &str,
        default: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.raw.get(name).map(String::as_str).unwrap_or(default);
        match parse(value.trim()) {
            Ok(v) => Some(v),
            Err(message) => {
                self.problem(name, &format!("{message} (got {value:?})"));
                None
            }
        }
    }

    fn issuer(&mut self) -> Option<String> {
        self.parse("ISSUER", "http://localhost:8080", |v| {
            let url = url::Url::parse(v).map_err(|_| "not an absolute URL".to_owned())?;
            if url.scheme() != "https" && url.scheme() != "http" {
                return Err("must be an https:// URL".into());
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err("must not have a query or fragment (OpenID Connect Discovery §3)".into());
            }
            if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
                return Err("must have a host and no credentials".into());
            }
            Ok(url.as_str().trim_end_matches('/').to_owned())
        })
    }
}

fn known_names() -> String {
    SETTINGS.iter().map(|(n, _, _)| format!("SESAME_{n}")).collect::<Vec<_>>().join(", ")
}

fn read_toml(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e| format!("{} is not valid TOML: {e}", path.display()))?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => return Err(format!("{key}: expected a string, number or boolean, got {}", other.type_str())),
        };
        values.insert(key.to_ascii_uppercase(), text);
    }
    Ok(values)
}

fn default_data_dir(env: &BTreeMap<String, String>) -> PathBuf {
    if let Some(xdg) = env.get("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        PathBuf::from(xdg).join("sesame")
    } else if let Some(home) = env.get("HOME").filter(|v| !v.is_empty()) {
        PathBuf::from(home).join(".local/share/sesame")
    } else {
        PathBuf::from("data")
    }
}

pub fn decode_master_key(value: &str) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value.trim()))
        .map_err(|_| "is not base64".to_owned())?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| format!("must decode to exactly 32 bytes, got {}", bytes.len()))
}

fn parse_count(v: &str) -> Result<u32, String> {
    v.parse::<u32>().map_err(|_| "must be a whole number (0 turns the limit off)".into())
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

/// `90`, `90s`, `15m`, `1h`, `30d` → seconds; zero and negatives refused.
pub fn parse_duration(v: &str) -> Result<i64, String> {
    let (digits, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => v.split_at(i),
        None => (v, "s"),
    };
    let n: i64 = digits.parse().map_err(|_| "must be a duration like 90s, 15m, 1h or 30d".to_owned())?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err("unit must be s, m, h or d".into()),
    };
    match n.checked_mul(factor) {
        Some(seconds) if seconds > 0 => Ok(seconds),
        _ => Err("must be a positive duration".into()),
    }
}

fn issuer_host(issuer: &str) -> &str {
    let rest = issuer.split_once("://").map(|(_, r)| r).unwrap_or(issuer);
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn host_is_loopback(issuer: &str) -> bool {
    let host = issuer_host(issuer);
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        map.insert("HOME".into(), "/home/citizen".into());
        map
    }

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn zero_config_is_a_loopback_provider_on_sqlite() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(config.issuer, "http://localhost:8080");
        assert_eq!(config.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("/home/citizen/.local/share/sesame"));
        assert_eq!(config.database_url, "sqlite:///home/citizen/.local/share/sesame/sesame.db?mode=rwc");
        assert_eq!(
            config.master_key,
            MasterKeySource::LocalFile("/home/citizen/.local/share/sesame/master.key".into())
        );
        assert_eq!(config.database_kind(), "sqlite");
        assert!(config.auto_migrate);
        assert_eq!(config.lifetimes.access_token, 300);
        assert_eq!(config.issuer_host(), "localhost");
    }

    #[test]
    fn production_needs_https_and_a_master_key() {
        let err =
            Config::from_env(&env(&[("SESAME_ISSUER", "http://sesame.example.fr"), ("SESAME_BIND", "0.0.0.0:8080")]))
                .unwrap_err();
        assert!(err.mentions("SESAME_ISSUER"), "{err}");
        assert!(err.mentions("SESAME_MASTER_KEY"), "{err}");
        assert_eq!(err.problems.len(), 2, "{err}");

        let config = Config::from_env(&env(&[
            ("SESAME_ISSUER", "https://sesame.example.fr/"),
            ("SESAME_BIND", "0.0.0.0:8080"),
            ("SESAME_MASTER_KEY", KEY),
            ("SESAME_DATABASE_URL", "postgres://sesame@db/sesame"),
        ]))
        .unwrap();
        assert_eq!(config.issuer, "https://sesame.example.fr");
        assert_eq!(config.url("/jwks"), "https://sesame.example.fr/jwks");
        assert!(matches!(config.master_key, MasterKeySource::Given(k) if k[1] == 1));
        assert_eq!(config.database_kind(), "postgres");
    }

    #[test]
    fn loopback_issuer_bound_publicly_still_needs_a_master_key() {
        let err = Config::from_env(&env(&[("SESAME_BIND", "0.0.0.0:8080")])).unwrap_err();
        assert!(err.mentions("SESAME_MASTER_KEY"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_once_with_an_example() {
        let err = Config::from_env(&env(&[
            ("SESAME_ISSUER", "not a url"),
            ("SESAME_BIND", "everywhere"),
            ("SESAME_DATABASE_URL", "mysql://x"),
            ("SESAME_REDIS_URL", "localhost:6379"),
            ("SESAME_MASTER_KEY", "c2hvcnQ="),
            ("SESAME_AUTO_MIGRATE", "perhaps"),
            ("SESAME_ACCESS_TOKEN_TTL", "5 weeks"),
            ("SESAME_ISSUR", "typo"),
        ]))
        .unwrap_err();
        for setting in [
            "SESAME_ISSUER",
            "SESAME_BIND",
            "SESAME_DATABASE_URL",
            "SESAME_REDIS_URL",
            "SESAME_MASTER_KEY",
            "SESAME_AUTO_MIGRATE",
            "SESAME_ACCESS_TOKEN_TTL",
            "SESAME_ISSUR",
        ] {
            assert_eq!(err.problems.iter().filter(|p| p.setting == setting).count(), 1, "{setting}: {err}");
        }
        assert!(err.problems.iter().all(|p| !p.example.is_empty()), "{err}");
        assert!(err.to_string().contains("must decode to exactly 32 bytes, got 5"), "{err}");
    }

    #[test]
    fn issuer_with_query_is_refused() {
        let err = Config::from_env(&env(&[("SESAME_ISSUER", "https://a.example/?x=1")])).unwrap_err();
        assert!(err.to_string().contains("query"), "{err}");
    }

    #[test]
    fn test_variables_are_not_settings() {
        assert!(Config::from_env(&env(&[("SESAME_TEST_DATABASE_URL", "postgres://x")])).is_ok());
    }

    #[test]
    fn toml_file_is_read_and_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sesame.toml");
        std::fs::write(&path, "issuer = \"https://file.example\"\nmaster_key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\naccess_token_ttl = 120\n").unwrap();
        let config = Config::from_env(&env(&[
            ("SESAME_CONFIG", path.to_str().unwrap()),
            ("SESAME_ISSUER", "https://env.example"),
        ]))
        .unwrap();
        assert_eq!(config.issuer, "https://env.example");
        assert_eq!(config.lifetimes.access_token, 120);

        std::fs::write(&path, "isuer = \"x\"").unwrap();
        let err = Config::from_env(&env(&[("SESAME_CONFIG", path.to_str().unwrap())])).unwrap_err();
        assert!(err.mentions("SESAME_ISUER"), "{err}");
        std::fs::write(&path, "issuer = [").unwrap();
        let err = Config::from_env(&env(&[("SESAME_CONFIG", path.to_str().unwrap())])).unwrap_err();
        assert!(err.mentions("SESAME_CONFIG"), "{err}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1h"), Ok(3_600));
        assert_eq!(parse_duration("30d"), Ok(2_592_000));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999d").is_err());
    }

    #[test]
    fn rate_limits_and_trusted_proxies() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(config.rate_limits.window, 60);
        assert_eq!(config.rate_limits.per_address, 60);
        assert_eq!(config.rate_limits.recovery_per_citizen, 5);
        assert_eq!(config.dependency_timeout, 5);
        assert!(config.rate_limits.trusted_proxies.is_empty());
        let config = Config::from_env(&env(&[
            ("SESAME_RATE_LIMIT_PER_ADDRESS", "0"),
            ("SESAME_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8,192.0.2.7"),
        ]))
        .unwrap();
        assert_eq!(config.rate_limits.per_address, 0);
        let nets = &config.rate_limits.trusted_proxies;
        assert!(nets[0].contains("10.1.2.3".parse().unwrap()));
        assert!(nets[0].contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!nets[0].contains("11.0.0.1".parse().unwrap()));
        assert!(nets[1].contains("fd12::1".parse().unwrap()));
        assert!(nets[2].contains("192.0.2.7".parse().unwrap()) && !nets[2].contains("192.0.2.8".parse().unwrap()));
        let err = Config::from_env(&env(&[
            ("SESAME_RATE_LIMIT_PER_CLIENT", "lots"),
            ("SESAME_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("SESAME_RATE_LIMIT_RECOVERY_PER_CITIZEN", "-1"),
            ("SESAME_DEPENDENCY_TIMEOUT", "0s"),
        ]))
        .unwrap_err();
        assert!(err.mentions("SESAME_RATE_LIMIT_PER_CLIENT") && err.mentions("SESAME_TRUSTED_PROXIES"), "{err}");
        assert!(
            err.mentions("SESAME_RATE_LIMIT_RECOVERY_PER_CITIZEN") && err.mentions("SESAME_DEPENDENCY_TIMEOUT"),
            "{err}"
        );
    }
    #[test]
    fn outbound_allow_list_is_validated() {
        assert!(Config::from_env(&env(&[])).unwrap().outbound_allow.is_empty(), "nothing internal by default");
        let config = Config::from_env(&env(&[("SESAME_OUTBOUND_ALLOW", "10.20.0.0/16, fd12::/16,192.0.2.7")])).unwrap();
        let nets = &config.outbound_allow;
        assert_eq!(nets.len(), 3);
        assert!(nets[0].contains("10.20.9.9".parse().unwrap()) && !nets[0].contains("10.21.0.1".parse().unwrap()));
        for bad in ["10.20.1.1/16", "10.0.0.0/33", "intranet", "fd12::1/16"] {
            let err = Config::from_env(&env(&[("SESAME_OUTBOUND_ALLOW", bad)])).unwrap_err();
            assert!(err.mentions("SESAME_OUTBOUND_ALLOW"), "{bad}: {err}");
        }
    }

    #[test]
    fn issuer_hosts() {
        assert!(host_is_loopback("http://localhost:8080"));
        assert!(host_is_loopback("http://127.0.0.1:8080/x"));
        assert!(host_is_loopback("http://[::1]:8080"));
        assert!(!host_is_loopback("https://sesame.example.fr"));
        assert!(!host_is_loopback("https://localhost.example.fr"));
    }
}
