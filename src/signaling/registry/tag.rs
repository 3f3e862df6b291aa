//! "Paired from home": a tag the server signs into a pair secret, so that it can later tell
//! a pairing made with a household device without storing pairings.
//!
//! A pair secret is 32 bytes (64 hex characters, the wire format). A pairing in which at
//! least one of the two devices was in the home group gets `nonce (16 random bytes) ||
//! tag`, the tag being the first 16 bytes of HMAC-SHA256(server key, label || nonce); any
//! other pairing gets 32 random bytes, whose last 16 match the tag with probability
//! 2^-128. At `hello` the server checks each secret presented: a device holding a tagged
//! one was paired with the household, and counts as trusted (it may create rooms, and its
//! links earn TURN credentials; see `turn.rs` and `rooms.rs`). Only the server's key can
//! make a tag, and the key never leaves the server; it is kept in the state directory so
//! that pairings keep their standing across restarts (`app.rs`).

use std::fmt;

use rand::rngs::StdRng;
use rand::RngExt;

/// Bytes of the nonce and of the tag in a pair secret.
const HALF: usize = 16;
/// What the tag signs besides the nonce: the meaning, and a version.
const LABEL: &[u8] = b"homedrop pair from home v1";

/// The server's key for pair tags (32 bytes). Its `Debug` never shows it.
#[derive(Clone)]
pub struct PairTagKey([u8; 32]);

impl PairTagKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        PairTagKey(bytes)
    }

    /// A key from the system's random source, for a server without a state directory (its
    /// pairings lose their standing at restart) and for tests.
    pub fn random() -> Self {
        let mut b = [0u8; 32];
        rand::rng().fill(&mut b[..]);
        PairTagKey(b)
    }

    fn tag(&self, nonce: &[u8]) -> [u8; HALF] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.0);
        let mut ctx = ring::hmac::Context::with_key(&key);
        ctx.update(LABEL);
        ctx.update(nonce);
        let mut out = [0u8; HALF];
        out.copy_from_slice(&ctx.sign().as_ref()[..HALF]);
        out
    }

    /// A fresh pair secret as hex: tagged when the pairing was made from home.
    pub fn new_secret(&self, rng: &mut StdRng, from_home: bool) -> String {
        let mut bytes = [0u8; 2 * HALF];
        rng.fill(&mut bytes[..]);
        if from_home {
            let tag = self.tag(&bytes[..HALF]);
            bytes[HALF..].copy_from_slice(&tag);
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Does this secret (hex, any case) carry the server's home tag?
    pub fn is_from_home(&self, secret: &str) -> bool {
        let Some(bytes) = unhex::<{ 2 * HALF }>(secret) else {
            return false;
        };
        let want = self.tag(&bytes[..HALF]);
        // Compared without an early exit: no timing tells how much of a forged tag is right.
        want.iter()
            .zip(&bytes[HALF..])
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl fmt::Debug for PairTagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PairTagKey(..)")
    }
}

/// `N` bytes from exactly `2 N` hex characters.
fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N || !s.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn only_the_servers_key_makes_a_home_tag() {
        let key = PairTagKey::new([7; 32]);
        let mut rng = StdRng::seed_from_u64(3);
        let home = key.new_secret(&mut rng, true);
        let away = key.new_secret(&mut rng, false);
        assert_eq!(home.len(), 64);
        assert!(key.is_from_home(&home));
        assert!(key.is_from_home(&home.to_uppercase()), "hex in any case");
        assert!(!key.is_from_home(&away));
        assert!(!PairTagKey::new([8; 32]).is_from_home(&home), "another key");
        // One flipped bit anywhere breaks the tag.
        for i in [0, 31, 32, 63] {
            let mut s = home.clone().into_bytes();
            s[i] = if s[i] == b'0' { b'1' } else { b'0' };
            assert!(!key.is_from_home(std::str::from_utf8(&s).unwrap()), "{i}");
        }
        assert!(!key.is_from_home(&home[..62]));
        assert!(!key.is_from_home(&"zz".repeat(32)));
        assert_eq!(format!("{key:?}"), "PairTagKey(..)");
    }
}
