//! The web app's files. Release builds embed `static/` in the binary, so one file is the whole
//! product; debug builds read the directory from disk (`LYCEUM_STATIC_DIR`), so editing the app
//! needs no rebuild. Any other GET of a path that is not the API and has no file extension is a
//! client-side route and gets the app shell; API paths and missing files stay JSON 404s.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::api;
use crate::error::ApiError;

/// Where the app's files come from.
#[derive(Clone, Debug)]
pub enum Assets {
    /// Compiled into the binary.
    Embedded(&'static include_dir::Dir<'static>),
    /// Read from this directory on each request.
    Disk(PathBuf),
}

#[cfg(not(debug_assertions))]
static EMBEDDED: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/static");

impl Assets {
    /// The embedded files in release builds, `dir` on disk in debug builds.
    pub fn for_build(dir: &Path) -> Self {
        #[cfg(not(debug_assertions))]
        {
            let _ = dir;
            Self::Embedded(&EMBEDDED)
        }
        #[cfg(debug_assertions)]
        {
            Self::Disk(dir.to_owned())
        }
    }

    /// The bytes of the file at `rel` (a relative, already checked path), if there is one.
    fn read(&self, rel: &str) -> Option<Cow<'static, [u8]>> {
        match self {
            Self::Embedded(dir) => dir.get_file(rel).map(|f| Cow::Borrowed(f.contents())),
            Self::Disk(root) => {
                let path = root.join(rel);
                path.is_file()
                    .then(|| std::fs::read(path).ok().map(Cow::Owned))
                    .flatten()
            }
        }
    }
}

/// The relative file path a request names, or None when it tries to leave the directory.
fn relative_path(path: &str) -> Option<String> {
    let trimmed = path.trim_start_matches('/');
    let rel = if trimmed.is_empty() || trimmed.ends_with('/') {
        format!("{trimmed}index.html")
    } else {
        trimmed.to_owned()
    };
    Path::new(&rel)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(rel)
}

/// True for paths the app never owns: the API, the socket and the ops endpoints.
fn is_server_path(path: &str) -> bool {
    const EXACT: &[&str] = &[
        "/api",
        "/ws",
        "/openapi.json",
        "/healthz",
        "/readyz",
        "/metrics",
    ];
    EXACT.contains(&path) || path.starts_with("/api/") || path.starts_with("/ws/")
}

/// True when the last path segment looks like a file name (`app.js`), not a client route.
fn looks_like_file(rel: &str) -> bool {
    rel.rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
}

/// Serves a file of the app, the app shell for client-side routes, or the JSON fallback.
pub async fn serve(req: HttpRequest, assets: web::Data<Assets>) -> Result<HttpResponse, ApiError> {
    let path = req.path();
    if !matches!(*req.method(), Method::GET | Method::HEAD) || is_server_path(path) {
        return api::fallback(req).await;
    }
    let Some(rel) = relative_path(path) else {
        return api::fallback(req).await;
    };
    let (name, body) = match assets.read(&rel) {
        Some(body) => (rel, body),
        None if !looks_like_file(&rel) => match assets.read("index.html") {
            Some(body) => ("index.html".to_owned(), body),
            None => return api::fallback(req).await,
        },
        None => return api::fallback(req).await,
    };
    let ext = name.rsplit('.').next().unwrap_or_default();
    let mime = actix_files::file_extension_to_mime(ext);
    let mut resp = HttpResponse::Ok();
    resp.content_type(mime.essence_str().to_owned() + utf8_suffix(ext))
        // Small files, no build step and no content hashes in names: always revalidate.
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if *req.method() == Method::HEAD {
        return Ok(resp.finish());
    }
    Ok(resp.body(body.into_owned()))
}

fn utf8_suffix(ext: &str) -> &'static str {
    match ext {
        "html" | "js" | "mjs" | "css" | "json" | "svg" | "txt" => "; charset=utf-8",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_directory() {
        assert_eq!(relative_path("/").as_deref(), Some("index.html"));
        assert_eq!(relative_path("/js/app.js").as_deref(), Some("js/app.js"));
        assert_eq!(relative_path("/a/../../etc/passwd"), None);
        assert_eq!(relative_path("//etc/passwd").as_deref(), Some("etc/passwd"));
    }

    #[test]
    fn api_paths_are_never_the_shell() {
        assert!(is_server_path("/api/v1/nope"));
        assert!(is_server_path("/ws"));
        assert!(!is_server_path("/courses/1"));
        assert!(!is_server_path("/wsx"));
        assert!(looks_like_file("js/missing.js"));
        assert!(!looks_like_file("courses/abc"));
    }
}
