//! The provider's own static files, served under `/static/` with their
//! content hash in the name, so they can be cached for a year.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub struct Asset {
    stem: &'static str,
    ext: &'static str,
    content_type: &'static str,
    body: &'static str,
    path: OnceLock<String>,
}

impl Asset {
    /// `/static/<stem>-<hash>.<ext>`.
    pub fn path(&self) -> &str {
        self.path.get_or_init(|| {
            let digest = ring::digest::digest(&ring::digest::SHA256, self.body.as_bytes());
            let hash: String = digest.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect();
            format!("/static/{}-{hash}.{}", self.stem, self.ext)
        })
    }
}

pub static JS: Asset = Asset {
    stem: "sesame",
    ext: "js",
    content_type: "text/javascript; charset=utf-8",
    body: include_str!("static/sesame.js"),
    path: OnceLock::new(),
};

pub static CSS: Asset = Asset {
    stem: "sesame",
    ext: "css",
    content_type: "text/css; charset=utf-8",
    body: include_str!("static/sesame.css"),
    path: OnceLock::new(),
};

/// `GET /static/{file}`: only the current names exist.
pub async fn serve(Path(file): Path<String>) -> Response {
    for asset in [&JS, &CSS] {
        if asset.path().strip_prefix("/static/") == Some(file.as_str()) {
            return (
                [
                    (header::CONTENT_TYPE, asset.content_type),
                    (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                ],
                asset.body,
            )
                .into_response();
        }
    }
    (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "Not found\n").into_response()
}
