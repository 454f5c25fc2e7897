//! The registry commands of `idp` (organisations, clients, initial access
//! tokens of RFC 7591 §3, administrator tokens): readable tables by
//! default, `--json` for scripts, and the same validation — and the same
//! error text — as the HTTP endpoints.

mod print;

use std::path::PathBuf;

use clap::Subcommand;

use crate::clients::admin::{self, NewOrganisation, NewToken};
use crate::clients::members::{self, Role};
use crate::clients::{self, Actor, Fetcher, NewClient};
use crate::clock::Clock;
use crate::config::parse_duration;
use crate::server::StartError;
use crate::store::{Db, TokenKind};

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Enrol a territorial authority (its services will belong to it).
    Create {
        #[arg(long)]
        name: String,
        /// commune, intercommunalite, departement, region, syndicat or other.
        #[arg(long)]
        kind: String,
        /// SIREN (9 digits) or INSEE commune code (5 characters).
        #[arg(long)]
        code: String,
        /// Contact e-mail address (repeatable).
        #[arg(long = "contact")]
        contacts: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List organisations.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one organisation (by id or official code) and its services.
    Show {
        organisation: String,
        #[arg(long)]
        json: bool,
    },
}

/// Client metadata options shared by `create` and `update`.
#[derive(Debug, clap::Args)]
pub struct ClientOptions {
    /// Name shown to citizens on the consent page.
    #[arg(long)]
    name: Option<String>,
    /// Exact redirect URI (repeatable; on update, replaces the list); https, or http on loopback.
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Where the service may send citizens after logout (repeatable; on update, replaces the list).
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
    jwks_file: Option<PathBuf>,
    /// Where the service publishes its public keys instead (private_key_jwt);
    /// fetched and checked now, read again when it authenticates.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// URL of a JSON array listing every redirect URI: its host becomes the
    /// service's sector, and redirect URIs may then span several hosts.
    /// Fetched and checked now. On update, "" removes it.
    #[arg(long)]
    sector_identifier_uri: Option<String>,
    /// How long a replaced secret stays valid after `rotate-secret`, e.g. 1h, 7d (default 1d).
    #[arg(long, value_parser = parse_duration)]
    secret_overlap: Option<i64>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a service. Prints its client_id, its registration access
    /// token (RFC 7592) and, for confidential clients, its secret — shown
    /// once, stored only as hashes.
    Create {
        /// The organisation it belongs to (id or official code).
        #[arg(long)]
        org: String,
        #[command(flatten)]
        options: Box<ClientOptions>,
        /// Entitle the service to the citizen identifier as `sub` (administrators only).
        #[arg(long)]
        public_subject: bool,
        /// Entitle a first-party service to skip the consent page.
        #[arg(long)]
        skip_consent: bool,
    },
    /// List registered services.
    List {
        /// Only this organisation's (id or official code).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one service's registration.
    Show {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change some of a service's metadata or entitlements; the rest stays.
    Update {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        /// Move it to another organisation (id or official code).
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        options: Box<ClientOptions>,
        /// Grant (true) or withdraw (false) the citizen identifier as `sub`.
        #[arg(long)]
        public_subject: Option<bool>,
        /// Grant (true) or withdraw (false) skipping the consent page.
        #[arg(long)]
        skip_consent: Option<bool>,
        /// Exempt a confidential service from PKCE (true; `nonce` is then
        /// required of it) or require PKCE again (false). Needs --reason.
        #[arg(long)]
        pkce_exempt: Option<bool>,
        /// Why the exemption: kept in the administrators' log and shown with the service.
        #[arg(long, requires = "pkce_exempt", required_if_eq("pkce_exempt", "true"))]
        reason: Option<String>,
    },
    /// Delete a service with its consents, grants and refresh tokens.
    Delete {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Issue a new secret; the current one stays valid for the overlap.
    RotateSecret {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        /// How long the current secret stays valid, e.g. 0s, 1h (default: the client's overlap).
        #[arg(long, value_parser = parse_duration)]
        overlap: Option<i64>,
        #[arg(long)]
        json: bool,
    },
}

/// Options of `issue` for both kinds of tokens.
#[derive(Debug, clap::Args)]
pub struct IssueOptions {
    /// How long the token is valid, e.g. 1h, 7d (at most 366d).
    #[arg(long, value_parser = parse_duration, default_value = "7d")]
    expires_in: i64,
    /// What it is for (shown by `list`).
    #[arg(long, default_value = "")]
    description: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum IatCommand {
    /// Issue an initial access token with which developers of one
    /// organisation register services at /register (shown once).
    Issue {
        /// The organisation (id or official code).
        #[arg(long)]
        org: String,
        /// Spent by its first registration.
        #[arg(long)]
        single_use: bool,
        #[command(flatten)]
        options: IssueOptions,
    },
    /// List initial access tokens (never their values).
    List {
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke an initial access token (by token id).
    Revoke { token_id: String },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Bearer tokens for the admin API (/admin/api).
    #[command(subcommand)]
    Token(AdminTokenCommand),
    /// The most recent administrator actions.
    Events {
        #[arg(long, default_value = "50")]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Invite someone to act for an organisation: prints a single-use link
    /// they open, signed in with their passkey (or after signing up).
    Add {
        /// The organisation (id or official code).
        #[arg(long)]
        org: String,
        /// admin (members and services), developer (services) or agent (identity checks at the counter).
        #[arg(long)]
        role: String,
        /// How long the link works, e.g. 2d, 12h (at most 30d).
        #[arg(long, value_parser = parse_duration, default_value = "7d")]
        expires_in: i64,
        #[arg(long)]
        json: bool,
    },
    /// List an organisation's members and its invitations.
    List {
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a member's role (every role without --role).
    Remove {
        #[arg(long)]
        org: String,
        /// The member's citizen identifier (XXXX-XXXX-XXXX-XXXX-C).
        #[arg(long)]
        citizen: String,
        #[arg(long)]
        role: Option<String>,
    },
    /// Withdraw an invitation that was not used yet.
    Uninvite {
        #[arg(long)]
        org: String,
        invitation_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminTokenCommand {
    /// Issue an admin API token, for one organisation or (without --org) all (shown once).
    Issue {
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        options: IssueOptions,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an admin API token (by token id).
    Revoke { token_id: String },
}

/// One registry command.
#[derive(Debug)]
pub enum RegistryCommand {
    Org(OrgCommand),
    Client(ClientCommand),
    Iat(IatCommand),
    Admin(AdminCommand),
    Member(MemberCommand),
}

fn cli_error(e: impl std::fmt::Display) -> StartError {
    StartError::Cli(e.to_string())
}

fn read_jwks(path: &Option<PathBuf>) -> Result<Option<serde_json::Value>, StartError> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|e| cli_error(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map(Some).map_err(|e| cli_error(format!("{} is not JSON: {e}", path.display())))
}

/// Applies the options given on the command line to a registration request.
fn apply(options: &ClientOptions, jwks: &Option<serde_json::Value>, new: &mut NewClient) {
    if let Some(name) = &options.name {
        new.client_name = name.clone();
    }
    if !options.redirect_uris.is_empty() {
        new.redirect_uris = options.redirect_uris.clone();
    }
    if !options.post_logout_redirect_uris.is_empty() {
        new.post_logout_redirect_uris = options.post_logout_redirect_uris.clone();
    }
    if let Some(method) = &options.auth_method {
        new.token_endpoint_auth_method = Some(method.clone());
        if method != "private_key_jwt" {
            if jwks.is_none() {
                new.jwks = None;
            }
            if options.jwks_uri.is_none() {
                new.jwks_uri = None;
            }
        }
    }
    if !options.grant_types.is_empty() {
        new.grant_types = options.grant_types.clone();
        new.response_types = None;
    }
    if let Some(scope) = &options.scope {
        new.scope = Some(scope.clone());
    }
    if let Some(alg) = &options.id_token_alg {
        new.id_token_signed_response_alg = Some(alg.clone());
    }
    // One way to give keys at a time: naming one drops the other.
    if jwks.is_some() {
        new.jwks = jwks.clone();
        new.jwks_uri = None;
    }
    if let Some(uri) = &options.jwks_uri {
        new.jwks_uri = Some(uri.clone());
        new.jwks = None;
    }
    if let Some(uri) = &options.sector_identifier_uri {
        new.extra.sector_identifier_uri = Some(uri.clone()).filter(|u| !u.is_empty());
    }
    if options.secret_overlap.is_some() {
        new.secret_overlap = options.secret_overlap;
    }
}

/// Runs one registry command; `issuer` makes the links it prints.
pub async fn run(
    db: &Db,
    fetcher: &Fetcher,
    issuer: &str,
    command: RegistryCommand,
    clock: &dyn Clock,
) -> Result<(), StartError> {
    let actor = Actor::cli();
    let now = clock.now();
    match command {
        RegistryCommand::Org(command) => match command {
            OrgCommand::Create { name, kind, code, contacts, json } => {
                let new = NewOrganisation { name, kind, official_code: code, contacts };
                let org = admin::create_organisation(db, new, &actor, now).await.map_err(cli_error)?;
                print::organisation(&org, &[], json);
            }
            OrgCommand::List { json } => print::organisations(&admin::organisations(db).await?, json),
            OrgCommand::Show { organisation, json } => {
                let org = admin::find_organisation(db, &organisation)
                    .await?
                    .ok_or_else(|| cli_error(format!("no organisation {organisation:?}")))?;
                let services = clients::list(db, Some(&org.organisation_id)).await?;
                print::organisation(&org, &services, json);
            }
        },
        RegistryCommand::Client(command) => client(db, fetcher, command, &actor, now).await?,
        RegistryCommand::Iat(command) => match command {
            IatCommand::Issue { org, single_use, options } => {
                let new = NewToken {
                    kind: TokenKind::InitialAccess,
                    organisation: Some(org),
                    description: options.description,
                    lifetime: options.expires_in,
                    single_use,
                };
                let issued = admin::issue_token(db, new, &actor, now).await.map_err(cli_error)?;
                print::issued(&issued, "initial access token", options.json);
            }
            IatCommand::List { org, json } => {
                let org_id = match org {
                    Some(org) => Some(
                        admin::find_organisation(db, &org)
                            .await?
                            .ok_or_else(|| cli_error(format!("no organisation {org:?}")))?
                            .organisation_id,
                    ),
                    None => None,
                };
                print::tokens(&admin::tokens(db, TokenKind::InitialAccess, org_id.as_deref()).await?, now, json);
            }
            IatCommand::Revoke { token_id } => {
                admin::revoke_token(db, TokenKind::InitialAccess, &token_id, &actor, now).await.map_err(cli_error)?;
                println!("revoked initial access token {token_id}");
            }
        },
        RegistryCommand::Admin(AdminCommand::Token(command)) => match command {
            AdminTokenCommand::Issue { org, options } => {
                let new = NewToken {
                    kind: TokenKind::Admin,
                    organisation: org,
                    description: options.description,
                    lifetime: options.expires_in,
                    single_use: false,
                };
                let issued = admin::issue_token(db, new, &actor, now).await.map_err(cli_error)?;
                print::issued(&issued, "admin API token", options.json);
            }
            AdminTokenCommand::List { json } => {
                print::tokens(&admin::tokens(db, TokenKind::Admin, None).await?, now, json)
            }
            AdminTokenCommand::Revoke { token_id } => {
                admin::revoke_token(db, TokenKind::Admin, &token_id, &actor, now).await.map_err(cli_error)?;
                println!("revoked admin API token {token_id}");
            }
        },
        RegistryCommand::Admin(AdminCommand::Events { limit, json }) => {
            print::events(&admin::recent_events(db, None, limit.clamp(1, 1_000)).await?, json)
        }
        RegistryCommand::Member(command) => member(db, issuer, command, &actor, now).await?,
    }
    Ok(())
}

async fn member(db: &Db, issuer: &str, command: MemberCommand, actor: &Actor, now: i64) -> Result<(), StartError> {
    match command {
        MemberCommand::Add { org, role, expires_in, json } => {
            let role = Role::parse(&role).map_err(cli_error)?;
            let issued = members::invite(db, &org, role, expires_in, issuer, actor, now).await.map_err(cli_error)?;
            print::invitation(&issued, json);
        }
        MemberCommand::List { org, json } => {
            let org = admin::find_organisation(db, &org)
                .await?
                .ok_or_else(|| cli_error(format!("no organisation {org:?}")))?;
            let list = members::members(db, &org.organisation_id).await?;
            let invitations = members::invitations(db, &org.organisation_id, now).await?;
            print::members(&list, &invitations, json);
        }
        MemberCommand::Remove { org, citizen, role } => {
            let role = role.as_deref().map(Role::parse).transpose().map_err(cli_error)?;
            members::remove(db, &org, &citizen, role, actor, now).await.map_err(cli_error)?;
            println!("removed {} of {citizen}", role.map_or("every role", Role::as_str));
        }
        MemberCommand::Uninvite { org, invitation_id } => {
            let org = admin::find_organisation(db, &org)
                .await?
                .ok_or_else(|| cli_error(format!("no organisation {org:?}")))?;
            members::revoke_invitation(db, &org.organisation_id, &invitation_id, actor, now)
                .await
                .map_err(cli_error)?;
            println!("withdrew invitation {invitation_id}");
        }
    }
    Ok(())
}

async fn client(db: &Db, fetcher: &Fetcher, command: ClientCommand, actor: &Actor, now: i64) -> Result<(), StartError> {
    match command {
        ClientCommand::Create { org, options, public_subject, skip_consent } => {
            let jwks = read_jwks(&options.jwks_file)?;
            let mut new = NewClient { organisation_id: org, public_subject, skip_consent, ..NewClient::default() };
            apply(&options, &jwks, &mut new);
            let registered = clients::register(db, fetcher, new, actor, None, now).await.map_err(cli_error)?;
            print::registered(&registered, options.json);
        }
        ClientCommand::List { org, json } => {
            let org_id = match org {
                Some(org) => Some(
                    admin::find_organisation(db, &org)
                        .await?
                        .ok_or_else(|| cli_error(format!("no organisation {org:?}")))?
                        .organisation_id,
                ),
                None => None,
            };
            print::clients(&clients::list(db, org_id.as_deref()).await?, json);
        }
        ClientCommand::Show { client_id, json } => {
            let client =
                clients::find(db, &client_id).await?.ok_or_else(|| cli_error(format!("no client {client_id:?}")))?;
            print::client(&client, json);
        }
        ClientCommand::Update { client_id, org, options, public_subject, skip_consent, pkce_exempt, reason } => {
            let jwks = read_jwks(&options.jwks_file)?;
            let updated = clients::modify(db, fetcher, &client_id, actor, now, |new| {
                apply(&options, &jwks, new);
                if let Some(org) = &org {
                    new.organisation_id = org.clone();
                }
                if let Some(public) = public_subject {
                    new.public_subject = public;
                }
                if let Some(skip) = skip_consent {
                    new.skip_consent = skip;
                }
                match pkce_exempt {
                    Some(true) => new.pkce_exempt_reason = reason.clone(),
                    Some(false) => new.pkce_exempt_reason = None,
                    None => {}
                }
            })
            .await
            .map_err(cli_error)?;
            print::registered(&updated, options.json);
        }
        ClientCommand::Delete { client_id } => {
            let client =
                clients::find(db, &client_id).await?.ok_or_else(|| cli_error(format!("no client {client_id:?}")))?;
            clients::delete(db, &client, actor, now).await.map_err(cli_error)?;
            println!("deleted client {client_id} ({})", client.client_name);
        }
        ClientCommand::RotateSecret { client_id, overlap, json } => {
            let (client, secret) =
                clients::rotate_secret(db, &client_id, overlap, actor, now).await.map_err(cli_error)?;
            print::rotated(&client, &secret, json);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Client {
        #[command(subcommand)]
        command: super::ClientCommand,
    }

    /// Client ids registered before they were hex could begin with `-`.
    #[test]
    fn a_client_id_beginning_with_a_hyphen_is_an_argument_not_an_option() {
        for command in ["show", "update", "delete", "rotate-secret"] {
            let parsed = Client::try_parse_from(["client", command, "-Jx_1"]);
            let parsed = parsed.unwrap_or_else(|e| panic!("{command}: {e}"));
            assert!(format!("{parsed:?}").contains("client_id: \"-Jx_1\""), "{parsed:?}");
        }
    }
}
