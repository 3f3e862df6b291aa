//! What ACME keeps in the state directory, all mode 0600, written beside and renamed so a
//! crash never leaves half a key: the account ([`ACCOUNT_FILE`], with the directory it
//! belongs to), and the last certificate ([`CERT_FILE`], [`KEY_FILE`], and [`HOST_FILE`]
//! naming what it is for), reused at the next start while it is valid for the same host.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use base64::Engine;

/// The ACME account: `{"directory": URL, "kid": account URL, "key": PKCS#8, base64}`.
pub const ACCOUNT_FILE: &str = "acme-account.json";
/// The issued chain, PEM.
pub const CERT_FILE: &str = "acme-cert.pem";
/// Its private key, PEM.
pub const KEY_FILE: &str = "acme-key.pem";
/// The host (DNS name or address) it was issued for.
pub const HOST_FILE: &str = "acme-host";

/// Writes `text` to `dir/name` with mode 0600 (creating `dir` 0700).
fn write_private(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let path = dir.join(name);
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err)?;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(err)
}

/// The kept account (its URL and PKCS#8 key), when there is one for this `directory`
/// (another directory's is replaced at the next save).
pub fn load_account(dir: &Path, directory: &str) -> Result<Option<(String, Vec<u8>)>, String> {
    let path = dir.join(ACCOUNT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let kept: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if kept["directory"] != directory {
        return Ok(None);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = kept["key"].as_str().and_then(|k| b64.decode(k).ok());
    match (kept["kid"].as_str(), key) {
        (Some(kid), Some(key)) => Ok(Some((kid.to_string(), key))),
        _ => {
            tracing::warn!("{}: unreadable; making a new account", path.display());
            Ok(None)
        }
    }
}

pub fn save_account(dir: &Path, directory: &str, kid: &str, pkcs8: &[u8]) -> Result<(), String> {
    let key = base64::engine::general_purpose::STANDARD.encode(pkcs8);
    let kept = serde_json::json!({ "directory": directory, "kid": kid, "key": key });
    write_private(dir, ACCOUNT_FILE, &kept.to_string())
}

/// The kept certificate for `host`: (chain PEM, key PEM), if any.
pub fn load_certificate(dir: &Path, host: &str) -> Option<(String, String)> {
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).ok();
    if read(HOST_FILE)?.trim() != host {
        return None;
    }
    Some((read(CERT_FILE)?, read(KEY_FILE)?))
}

pub fn save_certificate(dir: &Path, host: &str, chain: &str, key: &str) -> Result<(), String> {
    // The host last: a crash in between leaves a pair that is not taken for any host.
    let _ = std::fs::remove_file(dir.join(HOST_FILE));
    write_private(dir, KEY_FILE, key)?;
    write_private(dir, CERT_FILE, chain)?;
    write_private(dir, HOST_FILE, host)
}
