//! Authorization responses (RFC 6749 §4.1.2, RFC 9207 `iss`, OAuth 2.0 Form
//! Post Response Mode). When nothing may be redirected (the client or its
//! return address cannot be trusted, OIDC Core §3.1.2.6), the answer is a
//! `PageError` a person reads.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::web::respond::continue_to;

use crate::i18n::Lang;
use crate::oidc::error::OAuthError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// Where and how to answer the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectTarget {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
    /// The citizen's last step was one of our forms (consent, account
    /// choice), in this language: a query response is then a page that
    /// navigates to the client ([`continue_to`]), not a redirect.
    pub in_page: Option<Lang>,
}

impl RedirectTarget {
    /// Sends `params` (plus `state` and `iss`) to the client.
    pub fn respond(&self, issuer: &str, mut params: Vec<(&'static str, String)>) -> Response {
        if let Some(state) = &self.state {
            params.push(("state", state.clone()));
        }
        params.push(("iss", issuer.to_owned()));
        match self.response_mode {
            ResponseMode::Query => {
                let mut url = self.redirect_uri.clone();
                let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&query);
                match self.in_page {
                    Some(lang) => continue_to(lang, &url),
                    None => redirect(&url),
                }
            }
            ResponseMode::FormPost => form_post(&self.redirect_uri, &params),
        }
    }

    pub fn error(&self, issuer: &str, error: &OAuthError) -> Response {
        self.respond(
            issuer,
            vec![("error", error.code.as_str().to_owned()), ("error_description", error.description.to_string())],
        )
    }
}

/// 303: the browser follows with GET whatever method brought it here.
pub fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub use crate::web::pages::form_post::{FORM_POST_SCRIPT, FORM_POST_SCRIPT_PATH};

fn form_post(action: &str, params: &[(&'static str, String)]) -> Response {
    let mut response = Html(crate::web::pages::form_post::form_post(action, params)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    crate::web::set_csp(&mut response, &crate::web::csp_for_form_post());
    response
}

pub async fn form_post_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=86400")],
        FORM_POST_SCRIPT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_response_keeps_existing_query_and_adds_iss() {
        let target = RedirectTarget {
            redirect_uri: "https://rp.example/cb?x=1".into(),
            response_mode: ResponseMode::Query,
            state: Some("s t".into()),
            in_page: None,
        };
        let response = target.respond("https://idp.example", vec![("code", "abc".into())]);
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[header::LOCATION],
            "https://rp.example/cb?x=1&code=abc&state=s+t&iss=https%3A%2F%2Fidp.example"
        );
    }
}
