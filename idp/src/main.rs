//! The `idp` command: run the provider and administer it.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use idp::cli::{AdminCommand, ClientCommand, IatCommand, MemberCommand, OrgCommand, RegistryCommand};
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
    /// Enrol and inspect organisations (territorial authorities).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Register, inspect, change and delete territorial services (OAuth clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Initial access tokens, with which an organisation's developers
    /// register services themselves (RFC 7591).
    #[command(subcommand)]
    Iat(IatCommand),
    /// Admin API tokens and the administrators' log.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Named members of an organisation (agents, developers, admins): invite, list, remove.
    #[command(subcommand)]
    Member(MemberCommand),
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
            let listeners = server::Listeners::bind(&config).await?;
            let ops_address = listeners.ops.local_addr().map_err(|e| StartError::Bind(config.ops_bind, e))?;
            let (state, listeners) = server::prepare_while_probed(config, clock, &GenerateRsa, listeners).await?;
            let shutdown = server::shutdown_signal();
            tracing::info!(
                %issuer,
                address = %bind,
                ops_address = %ops_address,
                database = state.config.database_kind(),
                cache = state.cache.backend_name(),
                startup_ms = started.elapsed().as_millis() as u64,
                "Sésame is ready: {issuer}/.well-known/openid-configuration"
            );
            server::serve(listeners, state, shutdown).await.map_err(|e| StartError::Bind(bind, e))?;
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
        Command::Org(command) => registry(&config, RegistryCommand::Org(command), clock).await,
        Command::Client(command) => registry(&config, RegistryCommand::Client(command), clock).await,
        Command::Iat(command) => registry(&config, RegistryCommand::Iat(command), clock).await,
        Command::Admin(command) => registry(&config, RegistryCommand::Admin(command), clock).await,
        Command::Member(command) => registry(&config, RegistryCommand::Member(command), clock).await,
        Command::Keys(keys) => {
            let db = server::connect_database(&config).await?;
            server::require_migrated(&db).await?;
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

async fn registry(config: &Config, command: RegistryCommand, clock: SharedClock) -> Result<(), StartError> {
    let db = server::connect_database(config).await?;
    server::require_migrated(&db).await?;
    let fetcher = idp::clients::Fetcher::new(idp::clients::outbound::OutboundPolicy::of(config));
    idp::cli::run(&db, &fetcher, &config.issuer, command, clock.as_ref()).await
}
