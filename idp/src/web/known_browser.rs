//! The "known browser" cookie: after a passkey sign-in (or sign-up) the
//! browser keeps a mark only the provider can make for that citizen
//! (`Keyring::known_browser_mark`), so a recovery attempt from it is not
//! counted in the per-citizen limit that anyone knowing the identifier could
//! otherwise exhaust. Durable (400 days, the most browsers keep), `__Host-`,
//! Secure, HttpOnly; a few citizens per browser, the newest first.

use axum::http::{HeaderMap, HeaderValue, header};

pub const COOKIE: &str = "__Host-sesame-known";
/// Citizens remembered per browser (a shared family computer).
const KEPT: usize = 4;
const MAX_AGE: i64 = 400 * 24 * 3600;

/// The marks this browser presents (nothing if it has none).
pub fn marks(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .flat_map(|value| value.split('.'))
        .filter(|mark| !mark.is_empty() && mark.len() <= 64)
        .take(KEPT)
        .collect()
}

/// The `Set-Cookie` that adds `mark` in front of the browser's other marks.
pub fn remember(headers: &HeaderMap, mark: &str) -> Option<HeaderValue> {
    let mut kept = vec![mark];
    kept.extend(marks(headers).into_iter().filter(|m| *m != mark));
    kept.truncate(KEPT);
    let value = kept.join(".");
    HeaderValue::from_str(&format!("{COOKIE}={value}; Max-Age={MAX_AGE}; Path=/; Secure; HttpOnly; SameSite=Lax")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn marks_are_read_among_other_cookies_and_the_newest_kept_first() {
        let headers = with_cookie("__Host-sesame=abc; __Host-sesame-known=m1.m2; other=x");
        assert_eq!(marks(&headers), ["m1", "m2"]);
        assert!(marks(&with_cookie("__Host-sesame=abc")).is_empty());
        let set = remember(&headers, "m2").unwrap();
        assert!(set.to_str().unwrap().starts_with("__Host-sesame-known=m2.m1; Max-Age=34560000; Path=/; Secure"));
        let full = with_cookie("__Host-sesame-known=a.b.c.d");
        assert!(remember(&full, "e").unwrap().to_str().unwrap().starts_with("__Host-sesame-known=e.a.b.c;"));
    }
}
