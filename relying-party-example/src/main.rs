//! `relying-party-example`: run the sample territorial service.
//!
//! RP_ISSUER=http://localhost:8080 RP_CLIENT_ID=… RP_CLIENT_SECRET=… \
//!   cargo run -p relying-party-example

use std::net::SocketAddr;

use clap::Parser;
use relying_party_example::{Rp, Settings, system_now};

/// A territorial service that signs citizens in with Sésame.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Sésame's issuer URL.
    #[arg(long, env = "RP_ISSUER", default_value = "http://localhost:8080")]
    issuer: String,
    /// The client_id Sésame gave this service.
    #[arg(long, env = "RP_CLIENT_ID", required_unless_present = "register")]
    client_id: Option<String>,
    /// Register this service first (dynamic client registration) with this
    /// initial access token, print its credentials, then serve.
    #[arg(long, value_name = "INITIAL_ACCESS_TOKEN", env = "RP_INITIAL_ACCESS_TOKEN")]
    register: Option<String>,
    /// The client secret (confidential clients).
    #[arg(long, env = "RP_CLIENT_SECRET")]
    client_secret: Option<String>,
    /// This service's public base URL; its redirect URI is BASE_URL/callback.
    #[arg(long, env = "RP_BASE_URL", default_value = "http://127.0.0.1:3000")]
    base_url: String,
    /// Address to listen on.
    #[arg(long, env = "RP_BIND", default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// Scopes besides openid (space-separated).
    #[arg(long, env = "RP_SCOPES", default_value = "profile email")]
    scopes: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args = Args::parse();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let base_url = args.base_url.trim_end_matches('/').to_owned();
    let (client_id, client_secret) = match &args.register {
        Some(token) => {
            let credentials =
                relying_party_example::register(&http, &args.issuer, &base_url, "Service exemple", token).await?;
            println!("registered with Sésame; keep these to restart without --register:");
            println!("  RP_CLIENT_ID={}", credentials.client_id);
            if let Some(secret) = &credentials.client_secret {
                println!("  RP_CLIENT_SECRET={secret}");
            }
            if let Some(token) = &credentials.registration_access_token {
                println!("  registration access token (to read/update/delete the registration): {token}");
            }
            (credentials.client_id, credentials.client_secret)
        }
        None => (args.client_id.unwrap_or_default(), args.client_secret),
    };
    let settings = Settings {
        issuer: args.issuer,
        client_id,
        client_secret,
        base_url,
        scopes: args.scopes.split_whitespace().map(str::to_owned).collect(),
    };
    let rp = Rp::discover(settings.clone(), http, system_now()).await?;
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    tracing::info!("service ready: {}", settings.base_url);
    axum::serve(listener, rp.router()).await?;
    Ok(())
}
