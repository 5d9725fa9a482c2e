//! The web dashboard at `/`: one page, embedded in the binary at build time (no CDN, no
//! files to install), that polls the JSON API of the same server and draws the pool's
//! hashrate with its interval band, the workers (sortable, idle and dead marked), blocks,
//! the current coinbase's payouts and the share chain when on.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The page: markup, style and script in one file.
const PAGE: &str = include_str!("dashboard.html");

/// `GET /`.
pub(super) async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Only this server's own script and API; nothing from elsewhere.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src 'self' data:",
            ),
        ],
        PAGE,
    )
        .into_response()
}
