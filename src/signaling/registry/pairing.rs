//! Pairing: two devices on different networks link for good.
//!
//! One device asks for a key (valid [`PAIR_KEY_TTL`], single use): a 6-digit key to type,
//! and a 128-bit token for its QR code and link. The other device enters either; both then
//! receive one shared secret that they keep and present in every `hello`. Typed keys are
//! guessable, so wrong ones spend the global budget of `joins.rs`; a token is not, so the
//! household can pair by QR code while that budget is spent by an attacker. A pairing
//! made with a device of the home group gets a secret that carries the server's home tag
//! (`tag.rs`). The registry keeps only each secret's SHA-256, per connection.

use std::time::{Duration, Instant};

use rand::RngExt;
use sha2::{Digest, Sha256};

use super::joins::{as_token, KEYS_SPENT};
use super::{hex_from, remove_from, Now, Outbox, PairHash, PeerId, Refusal, Registry};
use crate::net::NetGroup;
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
    /// The long form of the same key, for QR codes and links.
    token: String,
}

impl Registry {
    /// Start pairing: a 6-digit key and a token for the other device to enter (replacing
    /// the device's previous key).
    pub fn pair_start(&mut self, id: &str, now: Instant) -> Outbox {
        self.pair_keys
            .retain(|_, k| k.owner != id && k.expires > now);
        self.forget_stale_tokens();
        let key = loop {
            let k = format!("{:06}", self.rng.random_range(0..1_000_000u32));
            if !self.pair_keys.contains_key(&k) {
                break k;
            }
        };
        let token = hex_from(&mut self.rng, 16);
        self.pair_tokens.insert(token.clone(), key.clone());
        self.pair_keys.insert(
            key.clone(),
            PairKey {
                owner: id.to_string(),
                expires: now + PAIR_KEY_TTL,
                token: token.clone(),
            },
        );
        let msg = ServerMsg::PairKey {
            key,
            token,
            expires_in_secs: PAIR_KEY_TTL.as_secs(),
        };
        vec![(id.to_string(), msg)]
    }

    /// Complete pairing with a key, or its token, shown on another device. A wrong 6-digit
    /// key spends the global budget; once it is spent keys are refused unread.
    pub fn pair_join(&mut self, id: &str, key: &str, now: Now) -> Result<Outbox, Refusal> {
        let key = key.trim();
        let key = match as_token(key) {
            Some(token) => self.pair_tokens.get(&token).cloned().ok_or(BAD_KEY)?,
            None if self.key_guesses.spent(now.mono) => return Err(KEYS_SPENT),
            None => key.to_string(),
        };
        let owner = match self.pair_keys.get(&key) {
            Some(k) if k.expires > now.mono && k.owner != id => k.owner.clone(),
            Some(k) if k.owner == id => return Err(BAD_KEY),
            _ => {
                if key.len() == 6 && key.bytes().all(|b| b.is_ascii_digit()) {
                    self.key_guesses.fail(now.mono);
                }
                return Err(BAD_KEY);
            }
        };
        if let Some(k) = self.pair_keys.remove(&key) {
            self.pair_tokens.remove(&k.token);
        }
        self.link_pair(&owner, id, now)
    }

    /// Give `owner` and `joiner` a new shared secret and link them.
    fn link_pair(&mut self, owner: &str, joiner: &str, now: Now) -> Result<Outbox, Refusal> {
        let (Some(a), Some(b)) = (self.peers.get(owner), self.peers.get(joiner)) else {
            return Err(BAD_KEY);
        };
        let (a_name, b_name) = (a.name.clone(), b.name.clone());
        let from_home = a.group == NetGroup::Home || b.group == NetGroup::Home;
        let secret = self
            .settings
            .pair_tag_key
            .new_secret(&mut self.rng, from_home);
        let h = hash_secret(&secret);
        let before_a = self.visible_ids(owner);
        let before_b = self.visible_ids(joiner);
        for pid in [owner, joiner] {
            if let Some(p) = self.peers.get_mut(pid) {
                p.pairs.insert(h);
                if from_home {
                    p.home_pairs.insert(h);
                }
            }
            self.by_pair.entry(h).or_default().insert(pid.to_string());
        }
        let paired = |peer_name| ServerMsg::Paired {
            secret: secret.clone(),
            peer_name,
        };
        let mut out = vec![
            (owner.to_string(), paired(b_name)),
            (joiner.to_string(), paired(a_name)),
        ];
        out.extend(self.refresh_around(owner, before_a, now));
        out.extend(self.refresh_around(joiner, before_b, now));
        if from_home {
            // Both may have just become trusted: their other peers' standing changes too.
            let mut around = self.visible_ids(owner);
            around.extend(self.visible_ids(joiner));
            out.extend(self.reassess_relay(around, now));
        }
        Ok(out)
    }

    /// Forget a pairing for this connection (the device deletes its secret).
    pub fn pair_forget(&mut self, id: &str, secret: &str, now: Now) -> Outbox {
        let h = hash_secret(secret);
        let before = self.visible_ids(id);
        let Some(p) = self.peers.get_mut(id) else {
            return Vec::new();
        };
        let was_home = p.home_pairs.remove(&h);
        if !p.pairs.remove(&h) {
            return Vec::new();
        }
        remove_from(&mut self.by_pair, &h, id);
        let mut out = self.refresh_around(id, before, now);
        if was_home {
            // It may no longer be trusted: so may its other peers' relay standing, and it
            // may no longer be in the household's named rooms.
            out.extend(self.leave_named_if_untrusted(id, now));
            out.extend(self.reassess_relay(self.visible_ids(id), now));
        }
        out
    }

    /// Drop tokens whose key is gone (expired, used, or its owner left).
    pub(super) fn forget_stale_tokens(&mut self) {
        let keys = &self.pair_keys;
        self.pair_tokens.retain(|_, k| keys.contains_key(k));
    }
}

pub(super) fn hash_secret(secret: &str) -> PairHash {
    Sha256::digest(secret.as_bytes()).into()
}
