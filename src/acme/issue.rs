//! One ACME exchange (RFC 8555 §7): the account (made once, kept in the state dir), then an
//! order for one identifier, its TLS-ALPN-01 challenge (RFC 8737) answered through the
//! [`CertStore`], finalization with a fresh key's CSR, and the certificate chain.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::client::Client;
use super::files;
use crate::certs::CertStore;

/// The profile Let's Encrypt requires for IP-address certificates (160 h).
pub const SHORT_LIVED_PROFILE: &str = "shortlived";
/// How long the CA may take to validate, and then to issue.
const POLL: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(250))
    .backoff(1.5)
    .timeout(Duration::from_secs(90));

/// A certificate the CA issued: its chain and key, PEM.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
}

/// The ACME identifier of a host: an IP address (RFC 8738) or a DNS name.
pub fn identifier(host: &str) -> Identifier {
    match host.parse::<IpAddr>() {
        Ok(ip) => Identifier::Ip(ip),
        Err(_) => Identifier::Dns(host.to_string()),
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

/// The kept account for `directory`, or a new one (kept, 0600).
pub async fn account(
    client: &Client,
    state_dir: &Path,
    directory: &str,
    contact: Option<&str>,
) -> Result<Account, String> {
    let builder = || Account::builder_with_http(Box::new(client.clone()));
    if let Some(credentials) = files::load_account(state_dir, directory)? {
        return builder()
            .from_credentials(credentials)
            .await
            .map_err(|e| format!("cannot reach the ACME directory {directory}: {e}"));
    }
    let mailto = contact.map(|c| format!("mailto:{c}"));
    let contacts: Vec<&str> = mailto.iter().map(String::as_str).collect();
    let new = NewAccount {
        contact: &contacts,
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, credentials) = builder()
        .create(&new, directory.to_string(), None)
        .await
        .map_err(|e| format!("cannot create an ACME account at {directory}: {e}"))?;
    files::save_account(state_dir, directory, &credentials)?;
    tracing::info!("ACME: account created at {directory}");
    Ok(account)
}

/// Orders and fetches a certificate for `host`, answering its challenge through `store`.
pub async fn issue(account: &Account, host: &str, store: &CertStore) -> Result<Issued, String> {
    let ids = [identifier(host)];
    let short = matches!(ids[0], Identifier::Ip(_))
        && account.profiles().any(|p| p.name == SHORT_LIVED_PROFILE);
    let mut new = NewOrder::new(&ids);
    if short {
        new = new.profile(SHORT_LIVED_PROFILE);
    }
    let mut order = account
        .new_order(&new)
        .await
        .map_err(|e| format!("new order: {e}"))?;
    let sni = challenge_sni(host);
    let answered = answer_challenges(&mut order, host, &sni, store).await;
    let status = match answered {
        Ok(()) => order
            .poll_ready(&POLL)
            .await
            .map_err(|e| format!("validation: {e}")),
        Err(e) => Err(e),
    };
    store.clear_challenge(&sni);
    if status? != OrderStatus::Ready {
        return Err(format!(
            "the CA did not validate {host}: {}",
            why_invalid(&mut order).await
        ));
    }
    let key_pem = order
        .finalize()
        .await
        .map_err(|e| format!("finalize: {e}"))?;
    let chain_pem = order
        .poll_certificate(&POLL)
        .await
        .map_err(|e| format!("certificate: {e}"))?;
    Ok(Issued { chain_pem, key_pem })
}

/// Puts each pending authorization's challenge certificate in the store and tells the CA.
async fn answer_challenges(
    order: &mut instant_acme::Order,
    host: &str,
    sni: &str,
    store: &CertStore,
) -> Result<(), String> {
    let mut auths = order.authorizations();
    while let Some(auth) = auths.next().await {
        let mut auth = auth.map_err(|e| format!("authorization: {e}"))?;
        match auth.status {
            AuthorizationStatus::Valid => continue,
            AuthorizationStatus::Pending => {}
            other => return Err(format!("authorization is {other:?}")),
        }
        let mut challenge = auth
            .challenge(ChallengeType::TlsAlpn01)
            .ok_or("the CA offers no tls-alpn-01 challenge")?;
        let digest = challenge.key_authorization().digest();
        store.set_challenge(sni, challenge_certificate(host, digest.as_ref())?);
        challenge
            .set_ready()
            .await
            .map_err(|e| format!("challenge: {e}"))?;
    }
    Ok(())
}

/// The CA's reason for an invalid order: the first failed challenge's error, if it says.
async fn why_invalid(order: &mut instant_acme::Order) -> String {
    let mut auths = order.authorizations();
    while let Some(Ok(mut auth)) = auths.next().await {
        let Ok(state) = auth.refresh().await else {
            continue;
        };
        for c in &state.challenges {
            if let Some(e) = &c.error {
                return e.to_string();
            }
        }
    }
    "no reason given".into()
}
