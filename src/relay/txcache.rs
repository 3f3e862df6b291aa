//! Short transaction cache: a retransmitted request (same transaction id from
//! the same client) gets the identical response (RFC 8489 §6.3.1, RFC 8656
//! §7.2 note on retransmitted Allocate). Only responses to authenticated
//! requests are stored, and the cache is bounded in size and age.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::ClientAddr;

/// How long a response is kept (covers the 39.5 s UDP retransmission span).
pub const TX_CACHE_TTL: Duration = Duration::from_secs(40);
/// Maximum number of cached responses.
pub const TX_CACHE_CAPACITY: usize = 1024;

type Key = (ClientAddr, [u8; 12]);

#[derive(Debug, Default)]
pub struct TxCache {
    map: HashMap<Key, (Instant, Vec<u8>)>,
    order: VecDeque<(Instant, Key)>,
}

impl TxCache {
    pub fn get(&self, client: ClientAddr, tid: [u8; 12], now: Instant) -> Option<&[u8]> {
        let (at, bytes) = self.map.get(&(client, tid))?;
        (now.saturating_duration_since(*at) < TX_CACHE_TTL).then_some(bytes.as_slice())
    }

    pub fn insert(&mut self, client: ClientAddr, tid: [u8; 12], bytes: Vec<u8>, now: Instant) {
        self.expire(now);
        while self.map.len() >= TX_CACHE_CAPACITY {
            match self.order.pop_front() {
                Some((_, key)) => self.map.remove(&key),
                None => break,
            };
        }
        if self.map.insert((client, tid), (now, bytes)).is_none() {
            self.order.push_back((now, (client, tid)));
        }
    }

    pub fn expire(&mut self, now: Instant) {
        while let Some((at, key)) = self.order.front() {
            if now.saturating_duration_since(*at) < TX_CACHE_TTL {
                break;
            }
            self.map.remove(key);
            self.order.pop_front();
        }
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.order.front().map(|(at, _)| *at + TX_CACHE_TTL)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
}
