//! The `idp` command: run the provider and administer it.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use idp::clock::{SharedClock, SystemClock};
use idp::config::{Config, SETTINGS, parse_duration};
use idp::keys::{Alg, GenerateRsa, Keyring, MasterKey};
use idp::server::{self, StartError};

/// Sésame — a citizen-identity provider (OpenID Connect with passkeys).
///
/// Configuration comes from SESAME_* environment variables (and the TOML file
/// named by SESAME_CONFIG). With none set, the provider runs on
/// http://localhost:8080 with an SQLite database in ~/.local/share/sesame.
#[derive(Debug, Parser)]
#[command(name = "idp", version, about, long_about, after_help = settings_help())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the provider: migrate (unless SESAME_AUTO_MIGRATE=false), then serve
    /// HTTP on SESAME_BIND until SIGTERM or Ctrl-C, draining in-flight requests.
    Serve,
    /// Apply pending database migrations and exit (for a Kubernetes Job or a
    /// release step). Safe to run while replicas serve: migrations take a lock
    /// and each runs in a transaction.
    Migrate,
    /// Validate the configuration and print it (secrets hidden); exit 1 with
    /// one line per problem if anything is wrong.
    CheckConfig,
    /// Manage the signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Register and inspect territorial services (OAuth clients).
    #[command(subcommand)]
    Client(ClientCommand),
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a service. Prints its client_id and, for confidential
    /// clients, its secret — shown once, stored only as a hash.
    Create {
        /// Name shown to citizens on the consent page.
        #[arg(long)]
        name: String,
        /// Exact redirect URI (repeatable); https, or http on loopback.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where the service may send citizens after logout (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// client_secret_basic (default), client_secret_post, private_key_jwt, none.
        #[arg(long)]
        auth_method: Option<String>,
        /// authorization_code, refresh_token, client_credentials (repeatable;
        /// default authorization_code + refresh_token).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// Scopes the service may request, e.g. "openid profile email".
        #[arg(long)]
        scope: Option<String>,
        /// ID token algorithm: ES256 (default), PS256, RS256, EdDSA.
        #[arg(long)]
        id_token_alg: Option<String>,
        /// JSON Web Key Set file with the service's public keys (private_key_jwt).
        #[arg(long)]
        jwks_file: Option<std::path::PathBuf>,
        /// Entitle the service to the citizen identifier as `sub` (administrators only).
        #[arg(long)]
        public_subject: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List registered services.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one service's registration.
    Show {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Publish a new key for each algorithm now; it starts signing after
    /// --publish-for, and the key it replaces stays published until every
    /// token it signed has expired. Running replicas pick it up within 30 s.
    Rotate {
        /// Algorithms to rotate (repeatable): ES256, PS256, RS256, EdDSA. Default: all.
        #[arg(long = "alg", value_parser = parse_alg)]
        algs: Vec<Alg>,
        /// How long the new key is published before it signs, e.g. 1h, 15m.
        /// Default: SESAME_KEY_PUBLISH_BEFORE_USE (1h).
        #[arg(long, value_parser = parse_duration)]
        publish_for: Option<i64>,
    },
    /// List signing keys with their state: next, active, retiring, retired.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn parse_alg(value: &str) -> Result<Alg, String> {
    Alg::parse(value).ok_or_else(|| format!("unknown algorithm {value:?}; use ES256, PS256, RS256 or EdDSA"))
}

fn settings_help() -> String {
    let mut help = String::from("Settings (environment):\n");
    for (name, example, what) in SETTINGS {
        help.push_str(&format!("  SESAME_{name:<28} {what} (e.g. {example})\n"));
    }
    help
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("idp: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "stopped");
            eprintln!("idp: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), StartError> {
    let config = Config::from_process_env()?;
    let clock: SharedClock = Arc::new(SystemClock);
    match command {
        Command::Serve => {
            idp::telemetry::init_logging(config.log_format, &config.log_filter);
            let started = std::time::Instant::now();
            let bind = config.bind;
            let issuer = config.issuer.clone();
            let state = server::prepare(config, clock, &GenerateRsa).await?;
            let listener = server::bind(bind).await?;
            tracing::info!(
                %issuer,
                address = %bind,
                database = state.config.database_kind(),
                cache = state.cache.backend_name(),
                startup_ms = started.elapsed().as_millis() as u64,
                "Sésame is ready: {issuer}/.well-known/openid-configuration"
            );
            server::serve(listener, state, server::shutdown_signal()).await.map_err(|e| StartError::Bind(bind, e))?;
            tracing::info!("stopped cleanly");
            Ok(())
        }
        Command::Migrate => {
            let db = server::connect_database(&config).await?;
            let applied = db.migrate().await?;
            println!("database is up to date ({applied} migration(s) applied now)");
            Ok(())
        }
        Command::CheckConfig => {
            println!("configuration is valid");
            println!("  issuer        {}", config.issuer);
            println!("  bind          {}", config.bind);
            println!("  data dir      {}", config.data_dir.display());
            println!("  database      {}", config.database_kind());
            println!(
                "  redis         {}",
                if config.redis_url.is_some() { "configured" } else { "none (state kept in the database)" }
            );
            println!("  master key    {:?}", config.master_key);
            println!("  auto migrate  {}", config.auto_migrate);
            Ok(())
        }
        Command::Client(command) => {
            let db = server::connect_database(&config).await?;
            match db.pending_migrations().await? {
                0 => {}
                n => return Err(StartError::Unmigrated(n)),
            }
            clients_command(&db, command, clock.as_ref()).await
        }
        Command::Keys(keys) => {
            let db = server::connect_database(&config).await?;
            match db.pending_migrations().await? {
                0 => {}
                n => return Err(StartError::Unmigrated(n)),
            }
            let master = MasterKey::load(&config.master_key)?;
            let keyring = Keyring::open(db, master, clock, config.lifetimes, &GenerateRsa).await?;
            match keys {
                KeysCommand::Rotate { algs, publish_for } => {
                    let algs = if algs.is_empty() { Alg::ALL.to_vec() } else { algs };
                    let delay = publish_for.unwrap_or(config.lifetimes.key_publish_before_use);
                    let kids = keyring.rotate(&algs, delay, &GenerateRsa).await?;
                    println!("published {} new key(s), signing in {delay} s:", kids.len());
                    for kid in kids {
                        println!("  {kid}");
                    }
                }
                KeysCommand::List { json } => {
                    let list = keyring.list();
                    if json {
                        println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
                    } else {
                        println!("{:<44} {:<6} {:<9} {:>12} {:>12}", "KID", "ALG", "STATE", "ACTIVATES", "RETIRES");
                        for key in list {
                            let retires = key.retires_at.map(|r| r.to_string()).unwrap_or_else(|| "-".into());
                            let state = serde_json::to_value(key.state)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default();
                            println!(
                                "{:<44} {:<6} {:<9} {:>12} {:>12}",
                                key.kid, key.alg, state, key.activates_at, retires
                            );
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

async fn clients_command(
    db: &idp::store::Db,
    command: ClientCommand,
    clock: &dyn idp::clock::Clock,
) -> Result<(), StartError> {
    match command {
        ClientCommand::Create {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            auth_method,
            grant_types,
            scope,
            id_token_alg,
            jwks_file,
            public_subject,
            json,
        } => {
            let jwks = match jwks_file {
                None => None,
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| StartError::Cli(format!("cannot read {}: {e}", path.display())))?;
                    Some(
                        serde_json::from_str(&text)
                            .map_err(|e| StartError::Cli(format!("{} is not JSON: {e}", path.display())))?,
                    )
                }
            };
            let new = idp::clients::NewClient {
                client_name: name,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types,
                token_endpoint_auth_method: auth_method,
                scope,
                id_token_signed_response_alg: id_token_alg,
                jwks,
                public_subject,
            };
            let registered =
                idp::clients::register(db, new, clock.now()).await.map_err(|e| StartError::Cli(e.to_string()))?;
            if json {
                let mut value = serde_json::to_value(&registered.client).unwrap_or_default();
                if let (Some(map), Some(secret)) = (value.as_object_mut(), &registered.client_secret) {
                    map.insert("client_secret".into(), secret.clone().into());
                }
                println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
            } else {
                println!("registered {:?}", registered.client.client_name);
                println!("  client_id      {}", registered.client.client_id);
                if let Some(secret) = &registered.client_secret {
                    println!("  client_secret  {secret}");
                    println!("  (the secret is shown only now; it is stored as a hash)");
                }
            }
            Ok(())
        }
        ClientCommand::List { json } => {
            let clients = idp::clients::list(db).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&clients).unwrap_or_default());
            } else {
                println!("{:<24} {:<20} {:<30} REDIRECT URIS", "CLIENT ID", "AUTH METHOD", "NAME");
                for c in clients {
                    println!(
                        "{:<24} {:<20} {:<30} {}",
                        c.client_id,
                        c.token_endpoint_auth_method.as_str(),
                        c.client_name,
                        c.redirect_uris.join(" ")
                    );
                }
            }
            Ok(())
        }
        ClientCommand::Show { client_id, json } => {
            let client = idp::clients::find(db, &client_id)
                .await?
                .ok_or_else(|| StartError::Cli(format!("no client {client_id:?}")))?;
            let value = serde_json::to_value(&client).unwrap_or_default();
            if json {
                println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
            } else if let Some(map) = value.as_object() {
                for (name, value) in map {
                    println!("{name:<30} {value}");
                }
            }
            Ok(())
        }
    }
}
