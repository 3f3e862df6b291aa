//! The web client, embedded into the binary at build time (also in debug builds, so the
//! tests exercise exactly what ships).
//!
//! Caching: every asset is served with an ETag (from its SHA-256) and answers 304 to a
//! matching `If-None-Match`. Plain paths are revalidated on each use (`no-cache`). The same
//! files under `/v/<version>/...`, where the version is a hash of all assets, are immutable
//! and cached for a year; `index.html` points its script and stylesheet there, and relative
//! module imports inherit the prefix, so a new build is picked up at once and an unchanged
//! one never downloads twice.

use std::borrow::Cow;
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

/// `index.html` with its `/v/VERSION/` placeholders filled in, computed once.
fn index() -> &'static Asset {
    static I: OnceLock<Asset> = OnceLock::new();
    I.get_or_init(|| {
        let raw = Web::get("index.html")
            .map(|f| f.data.into_owned())
            .unwrap_or_default();
        let text =
            String::from_utf8_lossy(&raw).replace("/v/VERSION/", &format!("/v/{}/", version()));
        let etag = format!("\"{}\"", hex(&Sha256::digest(text.as_bytes())[..12]));
        Asset {
            body: Cow::Owned(text.into_bytes()),
            etag,
            mime: "text/html; charset=utf-8".into(),
        }
    })
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
    if path == "index.html" {
        return Some((index(), false));
    }
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return None;
    }
    Some((cached(path)?, versioned))
}

fn cached(path: &str) -> Option<&'static Asset> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static CACHE: OnceLock<Mutex<HashMap<String, &'static Asset>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(a) = map.get(path) {
        return Some(a);
    }
    let f = Web::get(path)?;
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let mime = match mime.type_() {
        mime_guess::mime::TEXT | mime_guess::mime::APPLICATION
            if mime.subtype() != "octet-stream" && mime.subtype() != "wasm" =>
        {
            format!("{mime}; charset=utf-8")
        }
        _ => mime.to_string(),
    };
    // Leaked once per distinct embedded file: bounded by the number of files.
    let asset: &'static Asset = Box::leak(Box::new(Asset {
        etag: format!("\"{}\"", hex(&f.metadata.sha256_hash()[..12])),
        body: f.data,
        mime,
    }));
    map.insert(path.to_string(), asset);
    Some(asset)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
