//! TURN REST credentials and stateless nonces.
//!
//! * REST scheme: username `<expiry unix time>:<id>`, password
//!   `base64(HMAC-SHA1(secret, username))`; the long-term key is
//!   `MD5(username:realm:password)` (RFC 8489 §9.2.2), computed by the `stun`
//!   crate's `MessageIntegrity::new_long_term_integrity`.
//! * Nonces carry their own timestamp and are authenticated by an HMAC keyed
//!   with a per-server random key over (timestamp, client address): checking
//!   one needs no stored state (RFC 8489 §9.2: the nonce format is up to the
//!   server).

use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use stun::integrity::MessageIntegrity;

type HmacSha1 = Hmac<Sha1>;

/// Longest credential lifetime `issue_credentials` hands out.
pub const MAX_CREDENTIAL_TTL: Duration = Duration::from_secs(12 * 3600);
/// Nonce validity window (stale afterwards → 438).
pub const NONCE_LIFETIME: Duration = Duration::from_secs(600);
/// Tolerated clock skew for nonce timestamps from the future.
const NONCE_FUTURE_SLACK: u64 = 5;
/// Bytes of HMAC kept in a nonce (96 bits).
const NONCE_MAC_LEN: usize = 12;

/// Issues TURN REST credentials valid until `now_unix + ttl` (ttl clamped to
/// 12 h). Returns `(username, password)`.
pub fn issue_credentials(
    secret: &[u8],
    id: &str,
    now_unix: u64,
    ttl: Duration,
) -> (String, String) {
    let ttl = ttl.min(MAX_CREDENTIAL_TTL).as_secs();
    let username = format!("{}:{}", now_unix + ttl, id);
    let password = rest_password(secret, &username);
    (username, password)
}

/// `base64(HMAC-SHA1(secret, username))`.
pub fn rest_password(secret: &[u8], username: &str) -> String {
    let mut mac = HmacSha1::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Why a REST username is refused (all map to 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameError {
    Malformed,
    Expired,
    /// Expiry further away than any credential we issue.
    TooFarAhead,
}

/// Checks the `<expiry>:<id>` username against the clock, accepting expiries
/// up to [`MAX_CREDENTIAL_TTL`] ahead (what `issue_credentials` hands out).
pub fn check_username(username: &str, now_unix: u64) -> Result<(), UsernameError> {
    check_username_within(username, now_unix, MAX_CREDENTIAL_TTL)
}

/// [`check_username`] with an explicit horizon: expiries more than
/// `max_ahead` (+5 s skew) in the future are refused. Other REST issuers use
/// longer TTLs (coturn's `turnutils_uclient -W` signs now + 24 h).
pub fn check_username_within(
    username: &str,
    now_unix: u64,
    max_ahead: Duration,
) -> Result<(), UsernameError> {
    let (expiry, id) = username.split_once(':').ok_or(UsernameError::Malformed)?;
    let expiry: u64 = expiry.parse().map_err(|_| UsernameError::Malformed)?;
    if id.is_empty() {
        return Err(UsernameError::Malformed);
    }
    if expiry < now_unix {
        return Err(UsernameError::Expired);
    }
    if expiry > now_unix + max_ahead.as_secs() + NONCE_FUTURE_SLACK {
        return Err(UsernameError::TooFarAhead);
    }
    Ok(())
}

/// Long-term credential key for a REST username.
pub fn long_term_key(secret: &[u8], username: &str, realm: &str) -> MessageIntegrity {
    let password = rest_password(secret, username);
    MessageIntegrity::new_long_term_integrity(username.to_owned(), realm.to_owned(), password)
}

/// Result of checking a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Valid,
    /// Expired, forged, for another client, or unparsable: answer 438.
    Stale,
}

/// Stateless nonce minting/checking.
#[derive(Clone)]
pub struct Nonces {
    key: [u8; 32],
    lifetime: u64,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nonces")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Nonces {
    pub fn new(key: [u8; 32], lifetime: Duration) -> Self {
        Self {
            key,
            lifetime: lifetime.as_secs(),
        }
    }

    fn mac(&self, ts: u64, client: SocketAddr) -> HmacSha1 {
        let mut mac = HmacSha1::new_from_slice(&self.key).expect("any key length");
        mac.update(&ts.to_be_bytes());
        match client {
            SocketAddr::V4(a) => mac.update(&a.ip().octets()),
            SocketAddr::V6(a) => mac.update(&a.ip().octets()),
        }
        mac.update(&client.port().to_be_bytes());
        mac
    }

    /// A fresh nonce: `<ts hex>-<base64url(mac)>`.
    pub fn issue(&self, now_unix: u64, client: SocketAddr) -> String {
        let tag = self.mac(now_unix, client).finalize().into_bytes();
        format!(
            "{:x}-{}",
            now_unix,
            URL_SAFE_NO_PAD.encode(&tag[..NONCE_MAC_LEN])
        )
    }

    /// Verifies authenticity (constant-time) and age.
    pub fn check(&self, nonce: &str, now_unix: u64, client: SocketAddr) -> NonceCheck {
        let Some((ts, tag)) = nonce.split_once('-') else {
            return NonceCheck::Stale;
        };
        let (Ok(ts), Ok(tag)) = (u64::from_str_radix(ts, 16), URL_SAFE_NO_PAD.decode(tag)) else {
            return NonceCheck::Stale;
        };
        if tag.len() != NONCE_MAC_LEN || self.mac(ts, client).verify_truncated_left(&tag).is_err() {
            return NonceCheck::Stale;
        }
        let fresh =
            ts <= now_unix + NONCE_FUTURE_SLACK && now_unix.saturating_sub(ts) < self.lifetime;
        if fresh {
            NonceCheck::Valid
        } else {
            NonceCheck::Stale
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_roundtrip_and_ttl_clamp() {
        let (u, p) = issue_credentials(b"s", "dev1", 1000, Duration::from_secs(100 * 3600));
        assert_eq!(u, format!("{}:dev1", 1000 + 12 * 3600));
        assert_eq!(p, rest_password(b"s", &u));
        assert_ne!(p, rest_password(b"other", &u));
        assert_eq!(check_username(&u, 1000), Ok(()));
        assert_eq!(
            check_username(&u, 1000 + 12 * 3600 + 1),
            Err(UsernameError::Expired)
        );
        assert_eq!(check_username("x:dev", 0), Err(UsernameError::Malformed));
        assert_eq!(
            check_username("99999999:dev", 0),
            Err(UsernameError::TooFarAhead)
        );
    }

    #[test]
    fn nonce_valid_stale_forged() {
        let n = Nonces::new([7; 32], NONCE_LIFETIME);
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let nonce = n.issue(1000, a);
        assert_eq!(n.check(&nonce, 1000 + 599, a), NonceCheck::Valid);
        assert_eq!(n.check(&nonce, 1000 + 600, a), NonceCheck::Stale);
        assert_eq!(n.check(&nonce, 1000, b), NonceCheck::Stale);
        assert_eq!(n.check("3e8-AAAAAAAAAAAAAAAA", 1000, a), NonceCheck::Stale);
        assert_eq!(
            Nonces::new([8; 32], NONCE_LIFETIME).check(&nonce, 1000, a),
            NonceCheck::Stale
        );
    }
}
