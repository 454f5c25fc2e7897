//! `/developers`: the guide for territorial services (template in
//! `pages::developers`), cached briefly: it changes only with the issuer.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::pages::developers::render;
use crate::app::AppState;

pub const PATH: &str = "/developers";

pub async fn developers(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")],
        render(&state.config.issuer),
    )
        .into_response()
}
