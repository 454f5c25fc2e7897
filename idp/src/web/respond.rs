//! The edge of the pages: HTML answers, readable error pages (one error
//! type, rendered in the request's language), and `{error,
//! error_description}` JSON for the ceremony endpoints.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::pages::{self, Frame};
use crate::i18n::Lang;
use crate::outage::Failure;

/// An HTML page, never cached (it carries a CSRF token).
pub fn html(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body)
        .into_response()
}

/// `303 See Other` to a local path.
pub fn see_other(path: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, path.to_owned()), (header::CACHE_CONTROL, "no-store".to_owned())])
        .into_response()
}

/// After one of our forms, the way on to `url` (a service): a page that
/// navigates there ([`pages::continue_to`]) rather than a redirect, which
/// the form page's `form-action` would govern hop after hop.
pub fn continue_to(lang: Lang, url: &str) -> Response {
    let frame = Frame { lang, csrf: "", signed_in: false, path: "/account" };
    html(StatusCode::OK, pages::continue_to(&frame, url))
}

/// A readable error page for page routes. Handlers return it (or turn any
/// domain failure into it with `?`) without knowing the language: the
/// [`render_page_errors`] layer writes the page in the request's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageError {
    pub status: StatusCode,
    /// Catalogue key of the message.
    pub key: &'static str,
    /// Where the "back" link goes.
    pub back: &'static str,
}

impl PageError {
    pub fn new(status: StatusCode, key: &'static str, back: &'static str) -> Self {
        Self { status, key, back }
    }

    /// A request we cannot act on (expired, malformed, unknown client).
    pub fn bad_request(key: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, key, "/account")
    }

    /// A form whose CSRF token is missing or wrong ("this page expired").
    pub fn csrf() -> Self {
        Self::new(StatusCode::FORBIDDEN, "err.csrf", "/account")
    }

    /// A server-side failure: logged here, shown as a generic message; a
    /// 503 "try again" page when the failure is a lost dependency.
    pub fn internal(cause: &dyn Failure) -> Self {
        if let Some(dependency) = cause.unavailable() {
            tracing::warn!(error = %cause, dependency = dependency.name(), "page failed: dependency unavailable");
            return Self::new(StatusCode::SERVICE_UNAVAILABLE, "err.unavailable", "/account");
        }
        tracing::error!(error = %cause, "page failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "err.server", "/account")
    }

    /// The page, in `lang`.
    pub fn render(self, lang: Lang) -> Response {
        let frame = Frame { lang, csrf: "", signed_in: false, path: self.back };
        html(self.status, pages::error(&frame, lang.t(self.key), self.back))
    }
}

/// Domain failures become pages with `?`: 503 or 500 by the failure's class.
impl<F: Failure> From<F> for PageError {
    fn from(cause: F) -> Self {
        Self::internal(&cause)
    }
}

/// Unrendered: the status, with the error riding along for
/// [`render_page_errors`], which knows the request's language.
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Renders the [`PageError`]s of a request in its language (the rules of the
/// `Lang` extractor). Sits inside the session layer, so the remembered
/// language is read.
pub async fn render_page_errors(request: Request, next: Next) -> Response {
    let session = request.extensions().get::<Session>().cloned();
    let ui_locales = super::extract::query_param(request.uri().query(), "ui_locales");
    let accept_language = request.headers().get(header::ACCEPT_LANGUAGE).cloned();
    let response = next.run(request).await;
    let Some(error) = response.extensions().get::<PageError>().copied() else { return response };
    let lang = super::extract::negotiate(session.as_ref(), accept_language.as_ref(), ui_locales.as_deref()).await;
    error.render(lang)
}

/// `{error, error_description[, fields]}` for the JSON ceremony endpoints.
#[derive(Debug)]
pub struct JsonError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// Field name → message, for form validation errors.
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// Seconds, for `429`/`503` answers (`Retry-After`).
    pub retry_after: Option<i64>,
}

impl JsonError {
    pub fn new(status: StatusCode, error: &'static str, lang: Lang, key: &'static str) -> Self {
        Self { status, error, description: lang.t(key).to_owned(), fields: None, retry_after: None }
    }

    pub fn internal(lang: Lang, cause: &dyn Failure) -> Self {
        if let Some(dependency) = cause.unavailable() {
            tracing::warn!(error = %cause, dependency = dependency.name(), "ceremony endpoint: dependency unavailable");
            let unavailable =
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", lang, "err.unavailable");
            return Self { retry_after: Some(crate::outage::RETRY_AFTER_SECONDS.into()), ..unavailable };
        }
        tracing::error!(error = %cause, "ceremony endpoint failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", lang, "err.server")
    }

    pub fn csrf(lang: Lang) -> Self {
        Self::new(StatusCode::FORBIDDEN, "invalid_csrf_token", lang, "err.csrf")
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({"error": self.error, "error_description": self.description});
        if let Some(fields) = self.fields {
            body["fields"] = fields.into();
        }
        let mut response = (self.status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// A short browser description from `User-Agent` for the sessions list
/// ("Firefox on Linux"); never the raw header.
pub fn device_summary(headers: &HeaderMap) -> String {
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let browser =
        [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
            .iter()
            .find(|(needle, _)| ua.contains(needle))
            .map_or("Browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match system {
        Some(system) => format!("{browser} · {system}"),
        None => browser.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_summarised_not_copied() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::USER_AGENT,
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
                .parse()
                .unwrap(),
        );
        assert_eq!(device_summary(&headers), "Chrome · Linux");
        headers.insert(header::USER_AGENT, "<script>".parse().unwrap());
        assert_eq!(device_summary(&headers), "Browser");
    }
}
