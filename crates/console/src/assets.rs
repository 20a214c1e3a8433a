//! The files a page loads besides its HTML, compiled into the binary and served under
//! `/static/` at versioned names with a year's cache: a new version is a new URL.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::middleware::Compress;
use actix_web::{HttpResponse, web};

/// One served file.
pub struct Asset {
    /// Its name under `/static/`.
    pub name: &'static str,
    /// Its MIME type.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// htmx (vendored, see `static/VENDORED.md`).
pub const HTMX: &str = "htmx-2.0.11.min.js";
/// htmx's SSE extension (vendored).
pub const HTMX_SSE: &str = "htmx-ext-sse-2.2.4.js";

const CSS: &[u8] = include_bytes!("../static/console.css");
const JS: &[u8] = include_bytes!("../static/console.js");

/// A short fingerprint of the stylesheet, so that its URL changes with its content.
const fn fingerprint(bytes: &[u8]) -> u32 {
    // FNV-1a, folded to 32 bits
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut rest = bytes;
    while let [b, tail @ ..] = rest {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        rest = tail;
    }
    (h ^ (h >> 32)) as u32
}

/// The stylesheet's URL path.
pub fn css_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| format!("/static/console.{:08x}.css", fingerprint(CSS)))
}

/// The console's own script's URL path.
pub fn js_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| format!("/static/console.{:08x}.js", fingerprint(JS)))
}

/// Every served file.
pub fn all() -> [Asset; 4] {
    [
        Asset {
            name: js_path().trim_start_matches("/static/"),
            content_type: "text/javascript; charset=utf-8",
            bytes: JS,
        },
        Asset {
            name: HTMX,
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../static/htmx-2.0.11.min.js"),
        },
        Asset {
            name: HTMX_SSE,
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!("../static/htmx-ext-sse-2.2.4.js"),
        },
        Asset {
            name: css_path().trim_start_matches("/static/"),
            content_type: "text/css; charset=utf-8",
            bytes: CSS,
        },
    ]
}

async fn serve(name: web::Path<String>) -> HttpResponse {
    match all().into_iter().find(|a| a.name == name.as_str()) {
        Some(a) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, a.content_type))
            .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(a.bytes),
        None => HttpResponse::NotFound()
            .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("not found"),
    }
}

/// `/static/{name}`, compressed when the browser accepts it.
pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/static")
        .wrap(Compress::default())
        .route("/{name}", web::get().to(serve))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// The vendored files are the ones whose checksums `static/VENDORED.md` records.
    #[test]
    fn vendored_files_match_their_recorded_sha256() {
        let record = include_str!("../static/VENDORED.md");
        for a in all().iter().filter(|a| a.name.starts_with("htmx")) {
            let sum = Sha256::digest(a.bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>();
            let line = record
                .lines()
                .find(|l| l.contains(&format!("`{}`", a.name)))
                .unwrap_or_default();
            assert!(line.contains(&sum), "{}: {sum} not in VENDORED.md", a.name);
        }
    }

    #[test]
    fn the_stylesheet_url_changes_with_its_content() {
        assert_ne!(
            fingerprint(b"a { color: red }"),
            fingerprint(b"a { color: blue }")
        );
        assert!(css_path().starts_with("/static/console.") && css_path().ends_with(".css"));
    }
}
