//! The admin HTTP API (`/admin/api` on the operators' listener,
//! `SESAME_OPS_BIND`, never the public one; JSON, described by the OpenAPI 3.1
//! document at `/admin/api/openapi.json`): organisations, clients, their
//! entitlements, initial access tokens (RFC 7591 §3), organisation members
//! and their invitations, the administrators' log and citizens' audit trails. Bearer tokens (RFC 6750) issued by `idp admin token
//! issue`, scoped to one organisation or global; every change is logged.

mod handlers;
mod members;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};

use crate::app::AppState;
use crate::clients::admin::{TokenInfo, verify_token};
use crate::clients::{Actor, ClientError};
use crate::oidc::bearer;
use crate::oidc::error::OAuthError;
use crate::store::TokenKind;

/// The OpenAPI document, written by hand next to the routes it describes.
pub const OPENAPI: &str = include_str!("openapi.json");

pub const PREFIX: &str = "/admin/api";

/// Every route, relative to [`PREFIX`], with the methods it answers. The
/// router is built from this list only, so the OpenAPI test that walks it
/// covers every route.
pub fn routes() -> Vec<(&'static str, &'static [&'static str], MethodRouter<AppState>)> {
    use handlers as h;
    vec![
        ("/openapi.json", &["get"], get(openapi)),
        ("/organisations", &["get", "post"], get(h::list_organisations).post(h::create_organisation)),
        ("/organisations/{organisation_id}", &["get"], get(h::show_organisation)),
        ("/organisations/{organisation_id}/members", &["get"], get(members::list)),
        ("/organisations/{organisation_id}/members/{member}", &["delete"], delete(members::remove)),
        ("/organisations/{organisation_id}/invitations", &["post"], post(members::invite)),
        ("/organisations/{organisation_id}/invitations/{invitation_id}", &["delete"], delete(members::uninvite)),
        ("/clients", &["get", "post"], get(h::list_clients).post(h::create_client)),
        (
            "/clients/{client_id}",
            &["get", "put", "delete"],
            get(h::show_client).put(h::update_client).delete(h::delete_client),
        ),
        ("/clients/{client_id}/rotate-secret", &["post"], post(h::rotate_secret)),
        ("/clients/{client_id}/entitlements", &["get", "put"], get(h::entitlements).put(h::set_entitlements)),
        ("/initial-access-tokens", &["get", "post"], get(h::list_tokens).post(h::issue_token)),
        ("/initial-access-tokens/{token_id}", &["delete"], delete(h::revoke_token)),
        ("/events", &["get"], get(h::events)),
        ("/audit", &["get"], get(h::audit)),
    ]
}

pub fn router() -> Router<AppState> {
    routes().into_iter().fold(Router::new(), |router, (path, _, methods)| router.route(path, methods))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=300")], OPENAPI)
        .into_response()
}

/// An authenticated administrator.
#[derive(Debug, Clone)]
pub struct Admin {
    pub token: TokenInfo,
}

impl Admin {
    /// Checks the request's administrator token.
    pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Self, OAuthError> {
        let presented = match bearer::extract(headers, None)? {
            Some(token) if !token.is_empty() => token,
            _ => {
                return Err(OAuthError::invalid_token(
                    "the admin API needs an administrator token (Authorization: Bearer <token>)",
                ));
            }
        };
        let token = verify_token(&state.db, TokenKind::Admin, &presented, state.clock.now()).await?;
        Ok(Self { token })
    }

    pub fn actor(&self) -> Actor {
        Actor::admin_token(&self.token.token_id)
    }

    /// The organisation this token is limited to; `None` for a global token.
    pub fn scope(&self) -> Option<&str> {
        self.token.organisation_id.as_deref()
    }

    /// Refuses (403) a token of another organisation. Resources that belong
    /// to no organisation are for global administrators only.
    pub fn require_organisation(&self, organisation_id: Option<&str>) -> Result<(), OAuthError> {
        match (self.scope(), organisation_id) {
            (None, _) => Ok(()),
            (Some(mine), Some(theirs)) if mine == theirs => Ok(()),
            _ => {
                Err(ClientError::Forbidden("this administrator token is limited to another organisation".into()).into())
            }
        }
    }

    pub fn require_global(&self) -> Result<(), OAuthError> {
        match self.scope() {
            None => Ok(()),
            Some(_) => Err(ClientError::Forbidden("this needs a global administrator token".into()).into()),
        }
    }
}
