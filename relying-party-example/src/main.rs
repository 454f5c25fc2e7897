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
    #[arg(long, env = "RP_CLIENT_ID")]
    client_id: String,
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
    let settings = Settings {
        issuer: args.issuer,
        client_id: args.client_id,
        client_secret: args.client_secret,
        base_url: args.base_url.trim_end_matches('/').to_owned(),
        scopes: args.scopes.split_whitespace().map(str::to_owned).collect(),
    };
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let rp = Rp::discover(settings.clone(), http, system_now()).await?;
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    tracing::info!("service ready: {}", settings.base_url);
    axum::serve(listener, rp.router()).await?;
    Ok(())
}
