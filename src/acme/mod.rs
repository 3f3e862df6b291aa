//! Certificates browsers trust, by ACME (RFC 8555) with the TLS-ALPN-01 challenge (RFC
//! 8737) answered on homedrop's own TLS port: for the public host when it is a DNS name,
//! else for the public IP address (RFC 8738; Let's Encrypt's `shortlived` profile, asked
//! for only when the directory lists it).
//!
//! Why in the background: start-up never waits for a CA. The self-signed (or the user's)
//! certificate serves until the first issuance, then [`CertStore::set_certificate`] swaps
//! it for the next handshakes; open connections keep theirs. The public host is a
//! [`watch`] input (the router mapping learns the address later, and it may change): a new
//! value gets a new certificate. Renewal: at the window the CA suggests by ACME Renewal
//! Information (RFC 9773) when its directory offers `renewalInfo`, else at two thirds of
//! the lifetime. Failures are retried with exponential backoff (5 s doubling, capped at
//! 1 h), logged once each and shown in `/stats` and `/metrics` ([`Stats`]).
//!
//! No ACME crate: the protocol's requests ([`session`]) and the HTTPS client ([`client`], over
//! the OpenSSL the binary links anyway) are written here on crates already linked, because
//! instant-acme on hyper's client and rustls cost 516 KB of the static x86-64 musl binary
//! and still 299 KB on this HTTPS client, over the ~265 KB left; this module adds 164 KB
//! (numbers in `docs/decisions.md`).

mod client;
pub mod der;
pub mod files;
pub mod issue;
mod session;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::sign::CertifiedKey;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::certs::CertStore;

/// Let's Encrypt's production directory, the default `--acme-directory`.
pub const LETS_ENCRYPT: &str = crate::config::LETS_ENCRYPT_DIRECTORY;

/// How the ACME client runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub directory: String,
    /// An e-mail address for the CA's notices (`mailto:`), if given.
    pub contact: Option<String>,
    /// An extra root (PEM) trusted for the ACME server only.
    pub ca: Option<PathBuf>,
    pub state_dir: PathBuf,
    /// First retry delay after a failure, doubled at each failure up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl Settings {
    pub fn new(directory: String, state_dir: PathBuf) -> Self {
        Settings {
            directory,
            contact: None,
            ca: None,
            state_dir,
            retry_min: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
        }
    }
}

/// What `/stats` shows of ACME (`acme` object), and `/metrics` as `homedrop_acme_*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// The DNS name or address the served ACME certificate is for.
    pub identifier: Option<String>,
    /// Its expiry and its planned renewal, Unix seconds (0: none yet).
    pub not_after: u64,
    pub renew_at: u64,
    /// Certificates issued and attempts failed since start.
    pub issued: u64,
    pub failures: u64,
    /// The last failure's message and time (cleared by the next issuance).
    pub last_error: Option<String>,
    pub last_error_at: u64,
}

/// The ACME client's state, shared with the metrics.
#[derive(Debug, Default)]
pub struct Status(Mutex<Stats>);

impl Status {
    pub fn stats(&self) -> Stats {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Starts the client: certificates for the host `host` holds (none while it is `None`),
/// installed into `store`, until `token` is cancelled.
pub fn start(
    settings: Settings,
    store: Arc<CertStore>,
    host: watch::Receiver<Option<String>>,
    token: CancellationToken,
) -> (Arc<Status>, JoinHandle<()>) {
    let status = Arc::new(Status::default());
    // The kept certificate serves from the first handshake on: reading two files is no wait.
    if let Some(h) = host.borrow().as_deref() {
        if kept_key(&settings, h).is_some_and(|(key, _)| {
            store.set_certificate(key);
            true
        }) {
            tracing::info!("ACME: serving the kept certificate for {h}");
        }
    }
    let worker = Worker {
        settings,
        store,
        status: status.clone(),
        account: None,
    };
    let task = tokio::spawn(async move {
        tokio::select! {
            _ = worker.run(host) => {}
            _ = token.cancelled() => {}
        }
    });
    (status, task)
}

struct Worker {
    settings: Settings,
    store: Arc<CertStore>,
    status: Arc<Status>,
    account: Option<session::Session>,
}

/// The certificate served for a host, and when to renew it.
struct Served {
    host: String,
    renew_at: i64,
}

impl Worker {
    async fn run(mut self, mut host: watch::Receiver<Option<String>>) {
        let client = match client::Client::new(self.settings.ca.as_deref()) {
            Ok(c) => c,
            Err(e) => return self.failed(&format!("cannot set up the ACME client: {e}")),
        };
        let mut served: Option<Served> = None;
        let mut failures = 0u32;
        loop {
            let Some(want) = host.borrow_and_update().clone() else {
                changed(&mut host).await;
                continue;
            };
            if served.as_ref().is_none_or(|s| s.host != want) {
                served = self.install_kept(&client, &want).await;
            }
            if let Some(s) = served.as_ref().filter(|s| s.host == want) {
                let wait = Duration::from_secs((s.renew_at - unix_now()).max(0) as u64);
                if !wait.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = changed(&mut host) => {}
                    }
                    continue;
                }
            }
            match self.obtain(&client, &want).await {
                Ok(s) => {
                    failures = 0;
                    served = Some(s);
                }
                Err(e) => {
                    failures += 1;
                    let delay = backoff(&self.settings, failures);
                    self.failed(&format!(
                        "certificate for {want} failed (attempt {failures}, next in {}s): {e}",
                        delay.as_secs_f32()
                    ));
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = changed(&mut host) => {}
                    }
                }
            }
        }
    }

    fn failed(&self, message: &str) {
        tracing::warn!("ACME: {message}");
        self.status.update(|s| {
            s.failures += 1;
            s.last_error = Some(message.to_string());
            s.last_error_at = unix_now() as u64;
        });
    }

    /// The kept certificate for `host`, when it is still valid: served, and its renewal
    /// time planned.
    async fn install_kept(&mut self, client: &client::Client, host: &str) -> Option<Served> {
        let (key, facts) = kept_key(&self.settings, host)?;
        self.store.set_certificate(key);
        Some(self.planned(client, host, &facts).await)
    }

    /// A new certificate for `host`: issued, kept, served.
    async fn obtain(&mut self, client: &client::Client, host: &str) -> Result<Served, String> {
        let store = self.store.clone();
        let session = self.account(client).await?;
        let issued = match issue::issue(session, host, &store).await {
            Ok(i) => i,
            Err(e) => {
                // A new session next time: the directory may have changed, or the nonce.
                self.account = None;
                return Err(e);
            }
        };
        let chain = issue::chain(&issued.chain_pem);
        let facts = chain
            .first()
            .and_then(|c| der::facts(c))
            .ok_or("the CA sent no readable certificate")?;
        let key = issue::certified(chain, &issued.key_pem)?;
        let dir = &self.settings.state_dir;
        if let Err(e) = files::save_certificate(dir, host, &issued.chain_pem, &issued.key_pem) {
            tracing::warn!("ACME: cannot keep the certificate: {e}");
        }
        self.store.set_certificate(key);
        let served = self.planned(client, host, &facts).await;
        tracing::info!(
            "ACME: certificate issued for {host}, valid until {} (Unix), renewal at {}",
            facts.not_after,
            served.renew_at
        );
        self.status.update(|s| {
            s.issued += 1;
            s.last_error = None;
        });
        Ok(served)
    }

    async fn account(&mut self, client: &client::Client) -> Result<&mut session::Session, String> {
        if self.account.is_none() {
            let s = &self.settings;
            let a =
                issue::account(client, &s.state_dir, &s.directory, s.contact.as_deref()).await?;
            self.account = Some(a);
        }
        self.account.as_mut().ok_or_else(|| "no account".into())
    }

    /// When to renew a served certificate: in the CA's ARI window when it offers one, else
    /// at two thirds of its lifetime. Updates the stats.
    async fn planned(&mut self, client: &client::Client, host: &str, f: &der::CertFacts) -> Served {
        let mut renew_at = f.not_before + (f.not_after - f.not_before) * 2 / 3;
        if let Some(at) = self.ari_time(client, f).await {
            renew_at = at.min(f.not_after);
        }
        self.status.update(|s| {
            s.identifier = Some(host.to_string());
            s.not_after = f.not_after.max(0) as u64;
            s.renew_at = renew_at.max(0) as u64;
        });
        Served {
            host: host.to_string(),
            renew_at,
        }
    }

    /// A time in the ARI suggested window (RFC 9773 §4.2), when the directory has
    /// `renewalInfo` and the certificate an authority key identifier. (By hand, not with
    /// instant-acme's `renewal_info`: its `time` feature costs binary size for two dates.)
    async fn ari_time(&mut self, client: &client::Client, f: &der::CertFacts) -> Option<i64> {
        use base64::Engine;
        let aki = f.authority_key_id.as_deref()?;
        let directory = client.get_json(&self.settings.directory).await.ok()?;
        let base = directory["renewalInfo"].as_str()?.trim_end_matches('/');
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let id = format!("{}.{}", b64.encode(aki), b64.encode(&f.serial));
        let info = client.get_json(&format!("{base}/{id}")).await.ok()?;
        let window = &info["suggestedWindow"];
        let start = der::rfc3339(window["start"].as_str()?)?;
        let end = der::rfc3339(window["end"].as_str()?)?;
        // A uniformly random point in the window (§4.2), so renewals spread out.
        let span = (end - start).max(0) as u64;
        Some(start + (rand::random::<u64>() % (span + 1)) as i64)
    }
}

/// The kept certificate for `host` and its facts, while it is valid.
fn kept_key(settings: &Settings, host: &str) -> Option<(Arc<CertifiedKey>, der::CertFacts)> {
    let (chain_pem, key_pem) = files::load_certificate(&settings.state_dir, host)?;
    let chain = issue::chain(&chain_pem);
    let facts = der::facts(chain.first()?)?;
    if facts.not_after <= unix_now() {
        return None;
    }
    Some((issue::certified(chain, &key_pem).ok()?, facts))
}

/// Returns when the host changes; never when its sender is gone (the last value stays).
async fn changed(host: &mut watch::Receiver<Option<String>>) {
    if host.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The wait after the `n`th failure in a row: `retry_min` doubled each time, at most
/// `retry_max`.
pub fn backoff(s: &Settings, n: u32) -> Duration {
    let factor = 1u32 << n.saturating_sub(1).min(20);
    s.retry_min.saturating_mul(factor).min(s.retry_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let s = Settings::new(LETS_ENCRYPT.into(), "x".into());
        let secs: Vec<u64> = (1..=12).map(|n| backoff(&s, n).as_secs()).collect();
        assert_eq!(
            secs,
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(backoff(&s, u32::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn challenge_names_for_addresses_are_reverse_dns() {
        use issue::challenge_sni;
        assert_eq!(challenge_sni("192.0.2.7"), "7.2.0.192.in-addr.arpa");
        assert_eq!(
            challenge_sni("2001:db8::1"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
        assert_eq!(challenge_sni("Home.Example"), "home.example");
    }
}
