//! The web client, embedded into the binary at build time by `build.rs` (also in debug
//! builds, so the tests exercise exactly what ships), each file deflated. A client that
//! accepts `deflate` (every browser) gets those bytes as they are, with `Content-Encoding:
//! deflate`; any other gets them inflated on the way out. The two forms have their own ETags.
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

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// One file of `web/` as `build.rs` embedded it.
struct Embedded {
    path: &'static str,
    /// zlib-wrapped deflate when `deflated`, else the file itself.
    data: &'static [u8],
    deflated: bool,
}

include!(concat!(env!("OUT_DIR"), "/web.rs"));

/// One asset ready to serve.
pub struct Asset {
    /// The deflated bytes, when the file is kept deflated.
    deflated: Option<Bytes>,
    /// The bytes themselves: filled in at start for the pages that are edited, inflated on
    /// first use for the others.
    identity: OnceLock<Bytes>,
    tag: String,
    pub mime: String,
}

impl Asset {
    /// The body and its ETag: deflated when the client accepts it and the file is kept so.
    pub fn body(&self, deflate_ok: bool) -> (Bytes, String, bool) {
        match &self.deflated {
            Some(d) if deflate_ok => (d.clone(), format!("\"{}-d\"", self.tag), true),
            _ => (self.identity(), format!("\"{}\"", self.tag), false),
        }
    }

    fn identity(&self) -> Bytes {
        self.identity
            .get_or_init(|| {
                let d = self.deflated.as_deref().unwrap_or_default();
                // Built from our own files: inflating them cannot fail but for a broken build.
                Bytes::from(miniz_oxide::inflate::decompress_to_vec_zlib(d).unwrap_or_default())
            })
            .clone()
    }
}

/// Hash of every embedded file: the version in `/v/<version>/` URLs.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h = Sha256::new();
        for f in FILES {
            h.update(f.path.as_bytes());
            h.update(Sha256::digest(f.data));
        }
        hex(&h.finalize()[..6])
    })
}

/// Every embedded file, ready to serve, built once; `index.html` has its `/v/VERSION/`
/// placeholders filled in.
fn all() -> &'static HashMap<String, Asset> {
    static ALL: OnceLock<HashMap<String, Asset>> = OnceLock::new();
    ALL.get_or_init(|| {
        FILES
            .iter()
            .map(|f| {
                let asset = match f.path {
                    "index.html" => filled(f, "text/html; charset=utf-8"),
                    "sw.js" => filled(f, &mime_for(f.path)),
                    _ if f.deflated => Asset {
                        deflated: Some(Bytes::from_static(f.data)),
                        identity: OnceLock::new(),
                        tag: hex(&Sha256::digest(f.data)[..12]),
                        mime: mime_for(f.path),
                    },
                    _ => plain(f.data.to_vec(), &mime_for(f.path)),
                };
                (f.path.to_string(), asset)
            })
            .collect()
    })
}

fn plain(body: Vec<u8>, mime: &str) -> Asset {
    let identity = OnceLock::new();
    let tag = hex(&Sha256::digest(&body)[..12]);
    let _ = identity.set(Bytes::from(body));
    Asset {
        deflated: None,
        identity,
        tag,
        mime: mime.into(),
    }
}

/// `text` with its `/v/VERSION/` placeholders filled in and `[/*FILES*/]` replaced by the
/// JSON list of every embedded file (the service worker's precache list).
fn filled(f: &Embedded, mime: &str) -> Asset {
    let names: Vec<&str> = FILES.iter().map(|f| f.path).collect();
    let files = serde_json::to_string(&names).unwrap_or_else(|_| "[]".into());
    let raw = if f.deflated {
        miniz_oxide::inflate::decompress_to_vec_zlib(f.data).unwrap_or_default()
    } else {
        f.data.to_vec()
    };
    let text = String::from_utf8_lossy(&raw)
        .replace("/v/VERSION/", &format!("/v/{}/", version()))
        .replace("[/*FILES*/]", &files);
    plain(text.into_bytes(), mime)
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
