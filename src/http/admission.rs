//! Admission: who may hold one of the `--max-connections` slots (N), per source.
//!
//! A source is a [`SourceKey`] (an IPv4 address or an IPv6 /64). Two pools use the same
//! rules with N slots each: HTTP connections (counted from accept to close, so a slowloris
//! connection that never finishes its headers counts against its source for the whole
//! [`super::HEADER_READ_TIMEOUT`]) and WebSocket sessions (counted while the session runs).
//!
//! - One source holds at most `max(`[`MIN_PER_SOURCE`]`, N / `[`PER_SOURCE_DIVISOR`]`)` slots
//!   (64 of the default 1,024): one address, or one /64 rotating its addresses, cannot take
//!   the pool. This holds for home sources too (a compromised device), except for a trusted
//!   proxy's HTTP connections: they carry everyone, and their clients are told apart per
//!   request (the WebSocket pool keys on the X-Forwarded-For address). Behind such a proxy
//!   slowloris is the proxy's to stop (nginx buffers headers before it connects).
//! - Sources outside the home group together hold at most N × [`PUBLIC_SHARE_NUM`] /
//!   [`PUBLIC_SHARE_DEN`] slots (3/4: 768 of 1,024), so a quarter is always kept for the
//!   household while any number of internet sources flood.
//! - Everyone together holds at most N.
//!
//! A refused HTTP connection gets a 503 and is closed; a refused WebSocket upgrade gets a
//! 503 before the upgrade. Both are counted (`httpRefused`, `wsRefused` in `/stats`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::net::SourceKey;

/// A source's cap is at least this many slots (a household's tabs behind one NAT address).
pub const MIN_PER_SOURCE: usize = 16;
/// ... or N / this, when larger.
pub const PER_SOURCE_DIVISOR: usize = 16;
/// Sources outside the home group share at most N × NUM / DEN slots.
pub const PUBLIC_SHARE_NUM: usize = 3;
pub const PUBLIC_SHARE_DEN: usize = 4;

/// Why a slot was refused (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot is taken.
    Full,
    /// The internet's share is taken (the rest is kept for the household).
    PublicShare,
    /// This source holds its cap.
    Source,
}

/// Refusals are logged at `warn` at most once per this many seconds (each at `debug`):
/// a flood must not turn into a flood of the journal on an SD card.
pub const REFUSAL_LOG_EVERY_SECS: u64 = 10;

/// Log one refusal of `what` (`"connection"`, `"WebSocket"`) from `source`: at `debug`
/// always, at `warn` when none was warned of in the last [`REFUSAL_LOG_EVERY_SECS`], with
/// how many were refused in between (the totals are in `/stats`).
pub fn log_refusal(what: &str, why: Refusal, source: impl std::fmt::Display) {
    static LAST_WARN: AtomicU64 = AtomicU64::new(0);
    static SINCE: AtomicU64 = AtomicU64::new(0);
    tracing::debug!("{what} refused ({why:?}): {source}");
    let since = SINCE.fetch_add(1, Ordering::Relaxed) + 1;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_WARN.load(Ordering::Relaxed);
    if now >= last + REFUSAL_LOG_EVERY_SECS
        && LAST_WARN
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        SINCE.store(0, Ordering::Relaxed);
        tracing::warn!(
            "{what} refused ({why:?}): {source}; {since} refused since the last warning"
        );
    }
}

/// Who asks for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub key: SourceKey,
    /// In the home group (private or on-link).
    pub home: bool,
    /// Not capped per source (a trusted proxy's connections).
    pub uncapped: bool,
}

#[derive(Default)]
struct Counts {
    total: usize,
    public: usize,
    per_source: HashMap<SourceKey, usize>,
}

/// One pool of N slots shared by sources under the rules above.
pub struct Pool {
    max: usize,
    counts: Mutex<Counts>,
    refused: AtomicU64,
}

impl Pool {
    pub fn new(max: usize) -> Arc<Pool> {
        Arc::new(Pool {
            max,
            counts: Mutex::default(),
            refused: AtomicU64::new(0),
        })
    }

    /// Most slots one source may hold.
    pub fn per_source(&self) -> usize {
        MIN_PER_SOURCE.max(self.max / PER_SOURCE_DIVISOR)
    }

    /// Most slots all non-home sources together may hold (at least 1).
    pub fn public_share(&self) -> usize {
        (self.max * PUBLIC_SHARE_NUM / PUBLIC_SHARE_DEN).max(1)
    }

    /// Slots refused since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Take a slot for `src`; it is given back when the [`Slot`] drops.
    pub fn admit(self: &Arc<Self>, src: Source) -> Result<Slot, Refusal> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mine = c.per_source.get(&src.key).copied().unwrap_or(0);
        let refusal = if c.total >= self.max {
            Some(Refusal::Full)
        } else if !src.home && c.public >= self.public_share() {
            Some(Refusal::PublicShare)
        } else if !src.uncapped && mine >= self.per_source() {
            Some(Refusal::Source)
        } else {
            None
        };
        if let Some(r) = refusal {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(r);
        }
        c.total += 1;
        if !src.home {
            c.public += 1;
        }
        *c.per_source.entry(src.key).or_insert(0) += 1;
        Ok(Slot {
            pool: self.clone(),
            src,
        })
    }
}

/// A slot held; dropping it frees it.
pub struct Slot {
    pool: Arc<Pool>,
    src: Source,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.pool.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.total -= 1;
        if !self.src.home {
            c.public -= 1;
        }
        if let Some(n) = c.per_source.get_mut(&self.src.key) {
            *n -= 1;
            if *n == 0 {
                c.per_source.remove(&self.src.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(ip: &str, home: bool) -> Source {
        Source {
            key: SourceKey::of(ip.parse().unwrap()),
            home,
            uncapped: false,
        }
    }

    #[test]
    fn one_source_is_capped_and_the_household_keeps_a_quarter() {
        let pool = Pool::new(128);
        assert_eq!(pool.per_source(), 16);
        assert_eq!(pool.public_share(), 96);
        let mut held = Vec::new();
        for _ in 0..16 {
            held.push(pool.admit(src("203.0.113.7", false)).unwrap());
        }
        assert_eq!(
            pool.admit(src("203.0.113.7", false)).err(),
            Some(Refusal::Source)
        );
        // The same /64 is the same source.
        let mut v6 = Vec::new();
        for i in 1..=16 {
            v6.push(
                pool.admit(src(&format!("2001:db8:78::{i}"), false))
                    .unwrap(),
            );
        }
        assert!(pool.admit(src("2001:db8:78::99", false)).is_err());
        // Many public sources: 96 slots in all, then only home ones.
        for i in 0..4 {
            for _ in 0..16 {
                held.push(pool.admit(src(&format!("198.51.100.{i}"), false)).unwrap());
            }
        }
        assert_eq!(
            pool.admit(src("198.51.100.200", false)).err(),
            Some(Refusal::PublicShare)
        );
        assert!(pool.admit(src("10.0.0.5", true)).is_ok());
        assert_eq!(pool.refused(), 3);
        // Freed slots are free again.
        drop(v6);
        assert!(pool.admit(src("198.51.100.200", false)).is_ok());
        let proxy = Source {
            uncapped: true,
            ..src("127.0.0.1", true)
        };
        let p: Vec<_> = (0..20).map(|_| pool.admit(proxy).unwrap()).collect();
        assert_eq!(p.len(), 20);
    }
}
