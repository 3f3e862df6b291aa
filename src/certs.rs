//! The certificates the TLS listeners present, swappable while connections are open.
//!
//! Why a store: remote access (issue 13) gets its certificate by ACME in the background
//! after start-up and renews it every few days (Let's Encrypt's short-lived IP certificates
//! live 160 h), so the certificate must change under a running listener without dropping a
//! connection. rustls asks a [`ResolvesServerCert`] at every handshake; this one answers
//! with whatever was set last. Connections already open keep the key they shook hands
//! with.
//!
//! It also answers the ACME TLS-ALPN-01 challenge (RFC 8737 §3): a handshake that offers
//! only the `acme-tls/1` protocol gets the challenge certificate set for its SNI name (a
//! DNS name, or for an IP address its reverse name, RFC 8738 §6), and no certificate (a
//! failed handshake) when none is set. Nothing else ever sees a challenge certificate.
//!
//! No I/O here: who fills the store (a fallback from `http::tls`, a user's files, the ACME
//! client) is decided elsewhere.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Certificates for the TLS listeners: the one served, and pending challenge certificates.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
    challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl CertStore {
    /// A store serving `initial` (the self-signed or the user's certificate).
    pub fn new(initial: Arc<CertifiedKey>) -> Arc<Self> {
        Arc::new(CertStore {
            current: RwLock::new(initial),
            challenges: RwLock::new(HashMap::new()),
        })
    }

    /// Serve `key` from the next handshake on (open connections are not touched).
    pub fn set_certificate(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = key;
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Answer `acme-tls/1` handshakes for SNI `name` (lower case) with `key`.
    pub fn set_challenge(&self, name: &str, key: Arc<CertifiedKey>) {
        self.challenges
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_ascii_lowercase(), key);
    }

    /// Stop answering the challenge for `name`.
    pub fn clear_challenge(&self, name: &str) {
        self.challenges
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&name.to_ascii_lowercase());
    }
}

/// Does this ClientHello ask for the TLS-ALPN-01 challenge (and nothing else)?
pub fn is_acme_challenge(hello: &ClientHello<'_>) -> bool {
    hello
        .alpn()
        .is_some_and(|mut protos| protos.all(|p| p == ACME_TLS_ALPN))
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if is_acme_challenge(&hello) {
            let name = hello.server_name()?.to_ascii_lowercase();
            let map = self.challenges.read().unwrap_or_else(|e| e.into_inner());
            return map.get(&name).cloned();
        }
        Some(self.current())
    }
}
