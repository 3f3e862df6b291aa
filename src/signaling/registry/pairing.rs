//! Pairing: two devices on different networks link for good.
//!
//! One device asks for a 6-digit key (valid [`PAIR_KEY_TTL`], single use) and the other
//! types it in; both then receive one shared 256-bit secret that they keep and present in
//! every `hello`. The registry keeps only the secret's SHA-256, per connection.

use std::time::{Duration, Instant};

use rand::RngExt;
use sha2::{Digest, Sha256};

use super::{hex_from, remove_from, Now, Outbox, PairHash, PeerId, Refusal, Registry};
use crate::signaling::protocol::{ErrorCode, ServerMsg};

/// How long a pairing key stays valid.
pub const PAIR_KEY_TTL: Duration = Duration::from_secs(120);

const BAD_KEY: Refusal = (
    ErrorCode::BadPairKey,
    "This pairing key is wrong or has expired.",
);

#[derive(Debug)]
pub(super) struct PairKey {
    pub(super) owner: PeerId,
    pub(super) expires: Instant,
}

impl Registry {
    /// Start pairing: a 6-digit key for the other device to enter (replacing the
    /// device's previous key).
    pub fn pair_start(&mut self, id: &str, now: Instant) -> Outbox {
        self.pair_keys
            .retain(|_, k| k.owner != id && k.expires > now);
        let key = loop {
            let k = format!("{:06}", self.rng.random_range(0..1_000_000u32));
            if !self.pair_keys.contains_key(&k) {
                break k;
            }
        };
        self.pair_keys.insert(
            key.clone(),
            PairKey {
                owner: id.to_string(),
                expires: now + PAIR_KEY_TTL,
            },
        );
        let msg = ServerMsg::PairKey {
            key,
            expires_in_secs: PAIR_KEY_TTL.as_secs(),
        };
        vec![(id.to_string(), msg)]
    }

    /// Complete pairing with a key shown on another device.
    pub fn pair_join(&mut self, id: &str, key: &str, now: Now) -> Result<Outbox, Refusal> {
        let key = key.trim();
        let owner = match self.pair_keys.get(key) {
            Some(k) if k.expires > now.mono && k.owner != id => k.owner.clone(),
            _ => return Err(BAD_KEY),
        };
        self.pair_keys.remove(key);
        let (Some(a), Some(b)) = (self.peers.get(&owner), self.peers.get(id)) else {
            return Err(BAD_KEY);
        };
        let (a_name, b_name) = (a.name.clone(), b.name.clone());
        let secret = hex_from(&mut self.rng, 32);
        let h = hash_secret(&secret);
        let before_a = self.visible_ids(&owner);
        let before_b = self.visible_ids(id);
        for pid in [&owner, &id.to_string()] {
            if let Some(p) = self.peers.get_mut(pid) {
                p.pairs.insert(h);
            }
            self.by_pair.entry(h).or_default().insert(pid.clone());
        }
        let paired = |peer_name| ServerMsg::Paired {
            secret: secret.clone(),
            peer_name,
        };
        let mut out = vec![
            (owner.clone(), paired(b_name)),
            (id.to_string(), paired(a_name)),
        ];
        out.extend(self.refresh_around(&owner, before_a, now));
        out.extend(self.refresh_around(id, before_b, now));
        Ok(out)
    }

    /// Forget a pairing for this connection (the device deletes its secret).
    pub fn pair_forget(&mut self, id: &str, secret: &str, now: Now) -> Outbox {
        let h = hash_secret(secret);
        let before = self.visible_ids(id);
        if !self.peers.get_mut(id).is_some_and(|p| p.pairs.remove(&h)) {
            return Vec::new();
        }
        remove_from(&mut self.by_pair, &h, id);
        self.refresh_around(id, before, now)
    }
}

pub(super) fn hash_secret(secret: &str) -> PairHash {
    Sha256::digest(secret.as_bytes()).into()
}
