//! The web client, embedded into the binary at build time (also in debug builds, so the
//! tests exercise exactly what ships).
//!
//! Caching: every asset is served with an ETag (from its SHA-256) and answers 304 to a
//! matching `If-None-Match`. Plain paths are revalidated on each use (`no-cache`). The same
//! files under `/v/<version>/...`, where the version is a hash of all assets, are immutable
//! and cached for a year; `index.html` points its script and stylesheet there, and relative
//! module imports inherit the prefix, so a new build is picked up at once and an unchanged
//! one never downloads twice.
//!
//! The service worker (`sw.js`, served at the root for the root scope) gets the same
//! version filled in and the list of every embedded file in place of `[/*FILES*/]`, which it
//! precaches under `/v/<version>/` for the offline shell: each build is a new worker, which
//! fetches the new shell and drops the old one.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "web/"]
struct Web;

/// One asset ready to serve.
pub struct Asset {
    pub body: Cow<'static, [u8]>,
    pub etag: String,
    pub mime: String,
}

/// Hash of every embedded file: the version in `/v/<version>/` URLs.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h = Sha256::new();
        let mut names: Vec<_> = Web::iter().collect();
        names.sort();
        for n in names {
            if let Some(f) = Web::get(&n) {
                h.update(n.as_bytes());
                h.update(f.metadata.sha256_hash());
            }
        }
        hex(&h.finalize()[..6])
    })
}

/// Every embedded file, ready to serve, built once; `index.html` has its `/v/VERSION/`
/// placeholders filled in.
fn all() -> &'static HashMap<String, Asset> {
    static ALL: OnceLock<HashMap<String, Asset>> = OnceLock::new();
    ALL.get_or_init(|| {
        Web::iter()
            .filter_map(|name| {
                let f = Web::get(&name)?;
                let asset = match &*name {
                    "index.html" => filled(&f.data, "text/html; charset=utf-8"),
                    "sw.js" => filled(&f.data, &mime_for(&name)),
                    _ => Asset {
                        etag: format!("\"{}\"", hex(&f.metadata.sha256_hash()[..12])),
                        body: f.data,
                        mime: mime_for(&name),
                    },
                };
                Some((name.into_owned(), asset))
            })
            .collect()
    })
}

/// `text` with its `/v/VERSION/` placeholders filled in and `[/*FILES*/]` replaced by the
/// JSON list of every embedded file (the service worker's precache list).
fn filled(data: &[u8], mime: &str) -> Asset {
    let mut names: Vec<String> = Web::iter().map(|n| n.into_owned()).collect();
    names.sort();
    let files = serde_json::to_string(&names).unwrap_or_else(|_| "[]".into());
    let text = String::from_utf8_lossy(data)
        .replace("/v/VERSION/", &format!("/v/{}/", version()))
        .replace("[/*FILES*/]", &files);
    Asset {
        etag: format!("\"{}\"", hex(&Sha256::digest(text.as_bytes())[..12])),
        body: Cow::Owned(text.into_bytes()),
        mime: mime.into(),
    }
}

fn mime_for(path: &str) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    match mime.type_() {
        mime_guess::mime::TEXT | mime_guess::mime::APPLICATION
            if mime.subtype() != "octet-stream" && mime.subtype() != "wasm" =>
        {
            format!("{mime}; charset=utf-8")
        }
        _ => mime.to_string(),
    }
}

/// Look up an asset by request path; the second value says whether it is versioned
/// (immutable) or must be revalidated.
pub fn lookup(path: &str) -> Option<(&'static Asset, bool)> {
    let (path, versioned) = match path.strip_prefix("/v/") {
        Some(rest) => {
            let (ver, rest) = rest.split_once('/')?;
            (rest, ver == version())
        }
        None => (path.trim_start_matches('/'), false),
    };
    let path = if path.is_empty() { "index.html" } else { path };
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return None;
    }
    let versioned = versioned && path != "index.html";
    Some((all().get(path)?, versioned))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
