//! One ACME exchange (RFC 8555 §7): the account (made once, kept in the state dir), then an
//! order for one identifier, its TLS-ALPN-01 challenge (RFC 8737) answered through the
//! [`CertStore`], finalization with a fresh key's CSR, and the certificate chain.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::client::Client;
use super::files;
use super::session::{dir_url, AccountKey, Session};
use crate::certs::CertStore;

/// The profile Let's Encrypt requires for IP-address certificates (160 h).
pub const SHORT_LIVED_PROFILE: &str = "shortlived";
/// How long the CA may take to validate, and then to issue.
const POLL_FOR: Duration = Duration::from_secs(90);

/// A certificate the CA issued: its chain and key, PEM.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
}

/// The ACME identifier of a host: an IP address (RFC 8738) or a DNS name.
pub fn identifier(host: &str) -> Value {
    match host.parse::<IpAddr>() {
        Ok(ip) => json!({"type": "ip", "value": ip.to_string()}),
        Err(_) => json!({"type": "dns", "value": host}),
    }
}

/// The SNI the validator sends for `host`: the name itself, or an address's reverse-DNS
/// name (RFC 8738 §6).
pub fn challenge_sni(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        Ok(IpAddr::V6(v6)) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s + "ip6.arpa"
        }
        Err(_) => host.to_ascii_lowercase(),
    }
}

/// The TLS-ALPN-01 certificate (RFC 8737 §3): self-signed, naming `host` (an address as an
/// iPAddress SAN, RFC 8738 §6), with the critical acmeIdentifier extension holding the
/// SHA-256 of the key authorization.
pub fn challenge_certificate(host: &str, digest: &[u8]) -> Result<Arc<CertifiedKey>, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![match host.parse::<IpAddr>() {
        Ok(ip) => rcgen::SanType::IpAddress(ip),
        Err(_) => rcgen::SanType::DnsName(host.try_into().map_err(|e| format!("{e}"))?),
    }];
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    certified(vec![cert.der().clone()], &key.serialize_pem())
}

/// A rustls key for a chain and a PEM private key.
pub fn certified(
    chain: Vec<CertificateDer<'static>>,
    key_pem: &str,
) -> Result<Arc<CertifiedKey>, String> {
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| e.to_string())?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| e.to_string())?;
    Ok(Arc::new(CertifiedKey::new(chain, signer)))
}

/// The DER certificates of a PEM chain.
pub fn chain(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .collect()
}

/// A session with the kept account for `directory`, or a new account (kept, 0600).
pub async fn account(
    client: &Client,
    state_dir: &Path,
    directory: &str,
    contact: Option<&str>,
) -> Result<Session, String> {
    if let Some((kid, pkcs8)) = files::load_account(state_dir, directory)? {
        let key = AccountKey::from_pkcs8(&pkcs8)?;
        let mut session = Session::open(client.clone(), key, directory).await?;
        session.kid = Some(kid);
        return Ok(session);
    }
    let mut session = Session::open(client.clone(), AccountKey::generate()?, directory).await?;
    session
        .register(contact)
        .await
        .map_err(|e| format!("cannot create an ACME account at {directory}: {e}"))?;
    let kid = session.kid.clone().unwrap_or_default();
    files::save_account(state_dir, directory, &kid, &session.key.pkcs8)?;
    tracing::info!("ACME: account created at {directory}");
    Ok(session)
}

/// Does the directory list this profile (the ACME profiles draft, `meta.profiles`)?
fn offers_profile(directory: &Value, name: &str) -> bool {
    directory["meta"]["profiles"].get(name).is_some()
}

/// Orders and fetches a certificate for `host`, answering its challenge through `store`.
pub async fn issue(s: &mut Session, host: &str, store: &CertStore) -> Result<Issued, String> {
    let id = identifier(host);
    let mut order = json!({"identifiers": [id]});
    if id["type"] == "ip" && offers_profile(&s.directory, SHORT_LIVED_PROFILE) {
        order["profile"] = SHORT_LIVED_PROFILE.into();
    }
    let url = dir_url(&s.directory, "newOrder")?.to_string();
    let rsp = s
        .post(&url, Some(&order))
        .await
        .map_err(|e| format!("new order: {e}"))?;
    let order_url = rsp
        .header("location")
        .ok_or("the order has no URL")?
        .to_string();
    let order: Value = serde_json::from_slice(&rsp.body).map_err(|e| e.to_string())?;
    let sni = challenge_sni(host);
    let answered = answer_challenges(s, &order, host, &sni, store).await;
    let ready = match answered {
        Ok(()) => poll(s, &order_url, &["ready", "valid"]).await,
        Err(e) => Err(e),
    };
    store.clear_challenge(&sni);
    let order = match ready {
        Ok(o) => o,
        Err(e) => return Err(format!("validation of {host}: {e}{}", why(s, &order).await)),
    };
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![san(host)?];
    let csr = params.serialize_request(&key).map_err(|e| e.to_string())?;
    let csr = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(csr.der());
    if order["status"] != "valid" {
        let finalize = order["finalize"]
            .as_str()
            .ok_or("the order has no finalize URL")?;
        s.post(finalize, Some(&json!({ "csr": csr })))
            .await
            .map_err(|e| format!("finalize: {e}"))?;
    }
    let order = poll(s, &order_url, &["valid"])
        .await
        .map_err(|e| format!("issuance: {e}"))?;
    let cert_url = order["certificate"]
        .as_str()
        .ok_or("the order has no certificate")?;
    let chain = s
        .post(cert_url, None)
        .await
        .map_err(|e| format!("download: {e}"))?;
    Ok(Issued {
        chain_pem: String::from_utf8_lossy(&chain.body).into_owned(),
        key_pem: key.serialize_pem(),
    })
}

fn san(host: &str) -> Result<rcgen::SanType, String> {
    Ok(match host.parse::<IpAddr>() {
        Ok(ip) => rcgen::SanType::IpAddress(ip),
        Err(_) => rcgen::SanType::DnsName(host.try_into().map_err(|e| format!("{e}"))?),
    })
}

/// Polls the order (POST-as-GET) until its status is one of `want`; `invalid` or time up
/// is an error.
async fn poll(s: &mut Session, url: &str, want: &[&str]) -> Result<Value, String> {
    let end = tokio::time::Instant::now() + POLL_FOR;
    let mut delay = Duration::from_millis(250);
    loop {
        let order = s.post_json(url, None).await?;
        let status = order["status"].as_str().unwrap_or("");
        if want.contains(&status) {
            return Ok(order);
        }
        if status == "invalid" {
            return Err("the order is invalid".into());
        }
        if tokio::time::Instant::now() + delay > end {
            return Err(format!("the order is still {status} after {POLL_FOR:?}"));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(3));
    }
}

/// Puts each pending authorization's challenge certificate in the store and tells the CA.
async fn answer_challenges(
    s: &mut Session,
    order: &Value,
    host: &str,
    sni: &str,
    store: &CertStore,
) -> Result<(), String> {
    let auths = order["authorizations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for auth_url in auths.iter().filter_map(Value::as_str) {
        let auth = s
            .post_json(auth_url, None)
            .await
            .map_err(|e| format!("authorization: {e}"))?;
        match auth["status"].as_str() {
            Some("valid") => continue,
            Some("pending") => {}
            other => return Err(format!("authorization is {}", other.unwrap_or("?"))),
        }
        let challenges = auth["challenges"].as_array().cloned().unwrap_or_default();
        let challenge = challenges
            .iter()
            .find(|c| c["type"] == "tls-alpn-01")
            .ok_or("the CA offers no tls-alpn-01 challenge")?;
        let token = challenge["token"]
            .as_str()
            .ok_or("the challenge has no token")?;
        let digest = Sha256::digest(s.key.key_authorization(token).as_bytes());
        store.set_challenge(sni, challenge_certificate(host, &digest)?);
        let url = challenge["url"]
            .as_str()
            .ok_or("the challenge has no URL")?;
        s.post(url, Some(&json!({})))
            .await
            .map_err(|e| format!("challenge: {e}"))?;
    }
    Ok(())
}

/// The CA's reason for a failed validation: the first challenge error it gives, if any.
async fn why(s: &mut Session, order: &Value) -> String {
    let auths = order["authorizations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for auth_url in auths.iter().filter_map(Value::as_str) {
        let Ok(auth) = s.post_json(auth_url, None).await else {
            continue;
        };
        for c in auth["challenges"].as_array().into_iter().flatten() {
            if let Some(detail) = c["error"]["detail"].as_str() {
                return format!(" ({detail})");
            }
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `shortlived` is asked for only when the directory lists it (pebble 2.4 lists none),
    /// and only for addresses.
    #[test]
    fn profiles_and_identifiers() {
        let le = json!({"meta": {"profiles": {"classic": "…", "shortlived": "160 h"}}});
        assert!(offers_profile(&le, SHORT_LIVED_PROFILE));
        assert!(!offers_profile(&json!({"meta": {}}), SHORT_LIVED_PROFILE));
        assert!(!offers_profile(&json!({}), SHORT_LIVED_PROFILE));
        assert_eq!(
            identifier("192.0.2.1"),
            json!({"type": "ip", "value": "192.0.2.1"})
        );
        assert_eq!(identifier("::1"), json!({"type": "ip", "value": "::1"}));
        assert_eq!(
            identifier("home.example"),
            json!({"type": "dns", "value": "home.example"})
        );
    }

    /// The challenge certificate carries the critical acmeIdentifier extension (RFC 8737 §3)
    /// with the digest, and names the address as an iPAddress.
    #[test]
    fn the_challenge_certificate_holds_the_digest() {
        let digest = [0xabu8; 32];
        let key = challenge_certificate("192.0.2.1", &digest).unwrap();
        let der = key.cert[0].as_ref();
        // id-pe-acmeIdentifier 1.3.6.1.5.5.7.1.31, critical, OCTET STRING { OCTET STRING digest }.
        let oid = [
            0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f, 0x01, 0x01, 0xff,
        ];
        let at = der
            .windows(oid.len())
            .position(|w| w == oid)
            .expect("extension");
        let rest = &der[at + oid.len()..];
        assert_eq!(&rest[..4], &[0x04, 0x22, 0x04, 0x20]);
        assert_eq!(&rest[4..36], &digest);
        assert!(
            der.windows(6).any(|w| w == [0x87, 0x04, 192, 0, 2, 1]),
            "iPAddress SAN"
        );
    }
}
