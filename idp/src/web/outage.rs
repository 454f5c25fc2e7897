//! The outage safety net at the edge: a request that met the database or
//! Redis unavailable and still failed is answered `503` with `Retry-After` —
//! OAuth error JSON (`temporarily_unavailable`) where the answer was JSON, a
//! readable page where it was a page — instead of whatever the handler made
//! of state it could not read. Error types built from a classified failure
//! (`outage::Failure`) already answer 503 themselves; this layer is for the
//! rest (a refusal based on a session that could not be loaded, the session
//! layer's own failures). `/readyz` names the lost dependency.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::respond::PageError;
use crate::i18n::Lang;
use crate::oidc::error::OAuthError;
use crate::outage::{RETRY_AFTER_SECONDS, watched};
use crate::telemetry::Metrics;

/// The edge layer: a request that met an unavailable dependency and failed
/// is answered 503 with `Retry-After`, in the form of the answer it replaces.
/// Rate-limit refusals (429) stand; a 503 already made keeps its body
/// (`/readyz` names the cause) and gains `Retry-After`.
pub async fn answer(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    // Kept (cheap clones) to shape a 503 should one be needed.
    let uri = request.uri().clone();
    let accept_language = request.headers().get(header::ACCEPT_LANGUAGE).cloned();
    let accept = request.headers().get(header::ACCEPT).cloned();

    let (response, witnessed) = watched(next.run(request)).await;
    let Some(dependency) = witnessed else { return response };
    let status = response.status();
    if status.as_u16() < 400 || status == StatusCode::TOO_MANY_REQUESTS {
        return response;
    }
    metrics.count_unavailable(dependency.name());
    tracing::warn!(
        dependency = dependency.name(),
        path = uri.path(),
        replaced = status.as_u16(),
        "dependency unavailable: 503"
    );
    let mut response = if status == StatusCode::SERVICE_UNAVAILABLE {
        response
    } else {
        let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let accepts_html = accept.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
        if content_type.starts_with("text/html") || content_type.is_empty() && accepts_html {
            let ui_locales = super::extract::query_param(uri.query(), "ui_locales");
            let lang = Lang::negotiate(ui_locales.as_deref(), accept_language.as_ref().and_then(|v| v.to_str().ok()));
            PageError::new(StatusCode::SERVICE_UNAVAILABLE, "err.unavailable", "/account").render(lang)
        } else {
            OAuthError::unavailable(dependency.name()).into_response()
        }
    };
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}
