//! What every response carries for browsers: security headers, and the
//! plain error answers for requests no route matches.

pub mod assets;
pub mod csrf;
pub mod developers;
pub mod extract;
pub mod html;
pub mod outage;
pub mod pages;
pub mod rate_limit;
pub mod respond;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// Strict by default; pages that need more (WebAuthn scripts) get it from
/// their own handlers, never by loosening this.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   report-uri /csp-report";

/// The policy of the form_post page (OAuth 2.0 Form Post Response Mode),
/// whose form posts to a service: browsers apply `form-action` to every
/// redirect after a form submission, and a service's callback may redirect
/// anywhere (an SSO portal to its applications), so the page leaves
/// `form-action` open. It loses nothing: the page holds only escaped hidden
/// fields and our own script, so no form can be injected into it.
pub fn csp_for_form_post() -> String {
    CSP.replace("form-action 'self'", "form-action *")
}

/// `policy`, also letting this page show an image from `url`'s origin (a
/// service's registered logo on the consent page).
pub fn csp_allowing_image_from(policy: &str, url: &str) -> String {
    match origin_of(url) {
        Some(origin) => policy.replace("img-src 'self' data:", &format!("img-src 'self' data: {origin}")),
        None => policy.to_owned(),
    }
}

/// The same policy, letting this page frame `urls`' origins (front-channel logout).
pub fn csp_allowing_frames_of(urls: &[String]) -> String {
    let origins: Vec<String> = urls.iter().filter_map(|u| origin_of(u)).collect();
    format!("{CSP}; frame-src {}", origins.join(" "))
}

fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url).ok().map(|u| u.origin().ascii_serialization()).filter(|o| o != "null")
}

/// Gives one response its own policy (the global layer keeps a policy that
/// is already there).
pub fn set_csp(response: &mut Response, policy: &str) {
    if let Ok(value) = HeaderValue::from_str(policy) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Adds the security headers to every response that lacks them.
pub async fn security_headers(State(https): State<bool>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    set(HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()");
    if https {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains");
    }
    response
}

/// Unknown paths: the readable "this page does not exist" page, in the
/// reader's language (a person who mistyped an address is not a client).
pub async fn not_found() -> respond::PageError {
    respond::PageError::new(StatusCode::NOT_FOUND, "err.not_found", "/account")
}

/// CSP violation reports (`report-uri`): logged for operators, never stored.
pub async fn csp_report(body: axum::body::Bytes) -> StatusCode {
    let report = String::from_utf8_lossy(&body[..body.len().min(4_096)]);
    tracing::warn!(report = %report, "content security policy violation reported");
    StatusCode::NO_CONTENT
}
