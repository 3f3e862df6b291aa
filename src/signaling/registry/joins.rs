//! Join limits: how often room codes and pairing keys may be tried, per source and for
//! everyone together.
//!
//! ## Per source
//! A source is a [`SourceKey`]: an IPv4 address, or an IPv6 /64 (one subscriber's prefix; a
//! host picks any of its 2^64 addresses at will, so rotating addresses inside it gains
//! nothing). Each source gets [`JOINS_PER_MINUTE`] attempts at once and one more every
//! 60 s / [`JOINS_PER_MINUTE`] after that (a GCRA: one "theoretical arrival time" per
//! source). Every `roomJoin` and `pairJoin` counts, by code, key or token. Invitations do
//! not count: no code is being guessed.
//!
//! ## For everyone: a budget of failed guesses
//! Per-source limits do not bound an attacker with many sources (many /64s, a botnet). So
//! wrong 6-digit pairing keys and wrong 6-character room codes are also counted for all
//! sources together, in fixed windows that start at a window's first failure. Once a
//! window's budget is spent, every key (or code) join is refused with `rateLimited` for
//! the rest of the window without the key being looked at, so a right guess in a spent
//! window wins nothing. Meanwhile the household pairs and joins with the tokens that QR
//! codes and links carry (128 random bits, [`TOKEN_HEX`] hex characters): a token is never
//! refused by the budget and a wrong one never spends it, because nobody can guess one.
//!
//! Any interval as long as a window overlaps at most two windows, hence the arithmetic:
//!
//! - Pairing keys: 10^6 keys, each valid [`PAIR_KEY_TTL`] = 120 s; [`KEY_GUESS_BUDGET`] =
//!   50 failures per [`KEY_GUESS_WINDOW`] = 120 s. One key's life sees at most 2 × 50 = 100
//!   wrong guesses, so guesses from any number of addresses hit a given live key with
//!   probability at most 100 / 10^6 = 1 in 10,000 (k keys alive at once: k in 10,000 for
//!   any of them). Before this budget one process rotating through one IPv6 /64 made about
//!   4,900 guesses/s: 59 % of all keys within one key's life.
//! - Room codes: 31^6 = 887,503,681 codes; [`CODE_GUESS_BUDGET`] = 600 failures per
//!   [`CODE_GUESS_WINDOW`] = 1 h, so at most 1,200 in any hour and 14,400 a day. A given
//!   room is hit with probability at most 1,200 / 31^6 = 1.4 × 10^-6 per hour: 1 in 10,000
//!   only after 148 hours (six days) of uninterrupted guessing. Even with the most rooms
//!   alive ([`MAX_ROOMS`] = 10,000, which the household's sources alone cannot reach: each
//!   holds at most 20, see `rooms.rs`) any one of them is hit with probability at most
//!   1,200 × 10,000 / 31^6 = 1.4 % per hour.
//!
//! [`PAIR_KEY_TTL`]: super::PAIR_KEY_TTL
//! [`MAX_ROOMS`]: super::MAX_ROOMS

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Refusal, Registry};
use crate::net::SourceKey;
use crate::signaling::protocol::ErrorCode;

/// Room and pairing join attempts allowed per source (per minute, also the burst).
pub const JOINS_PER_MINUTE: u32 = 10;
/// Wrong pairing keys allowed per [`KEY_GUESS_WINDOW`], all sources together.
pub const KEY_GUESS_BUDGET: u32 = 50;
pub const KEY_GUESS_WINDOW: Duration = Duration::from_secs(120);
/// Wrong room codes allowed per [`CODE_GUESS_WINDOW`], all sources together.
pub const CODE_GUESS_BUDGET: u32 = 600;
pub const CODE_GUESS_WINDOW: Duration = Duration::from_secs(3600);
/// Length of a pairing or room token: 128 random bits as hex.
pub const TOKEN_HEX: usize = 32;

pub(super) const KEYS_SPENT: Refusal = (
    ErrorCode::RateLimited,
    "Too many wrong pairing keys were tried on this homedrop; pair with the QR code or its link, or wait two minutes.",
);
pub(super) const CODES_SPENT: Refusal = (
    ErrorCode::RateLimited,
    "Too many wrong room codes were tried on this homedrop; join with the room's link or QR code, or wait an hour.",
);

/// A GCRA per source: `per_minute` at once, then one every 60 s / `per_minute`. Counts the
/// attempt and returns true when `key` may go ahead now.
pub(super) fn gcra(
    map: &mut HashMap<SourceKey, Instant>,
    key: SourceKey,
    per_minute: u32,
    now: Instant,
) -> bool {
    let emission = Duration::from_secs(60) / per_minute.max(1);
    let tolerance = emission * (per_minute.max(1) - 1);
    let tat = map.get(&key).map_or(now, |t| (*t).max(now));
    if tat.duration_since(now) > tolerance {
        return false;
    }
    map.insert(key, tat + emission);
    true
}

/// Failed guesses of all sources together, in fixed windows (see the module doc).
#[derive(Debug)]
pub(super) struct Budget {
    limit: u32,
    window: Duration,
    /// Start of the current window (its first failure); `None`: no failure counted.
    started: Option<Instant>,
    failed: u32,
}

impl Budget {
    pub(super) const fn new(limit: u32, window: Duration) -> Self {
        Budget {
            limit,
            window,
            started: None,
            failed: 0,
        }
    }

    /// Is this window's budget used up?
    pub(super) fn spent(&mut self, now: Instant) -> bool {
        self.roll(now);
        self.failed >= self.limit
    }

    /// Count one wrong guess.
    pub(super) fn fail(&mut self, now: Instant) {
        self.roll(now);
        self.started.get_or_insert(now);
        self.failed = self.failed.saturating_add(1);
    }

    /// A window that has run out starts over.
    fn roll(&mut self, now: Instant) {
        if self
            .started
            .is_some_and(|s| now.saturating_duration_since(s) >= self.window)
        {
            self.started = None;
            self.failed = 0;
        }
    }
}

/// A token as the server issues it (lowercase hex of [`TOKEN_HEX`] characters), if `s`
/// has that form in any case.
pub(super) fn as_token(s: &str) -> Option<String> {
    (s.len() == TOKEN_HEX && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| s.to_ascii_lowercase())
}

impl Registry {
    /// May `source` try another room code, pairing key or token now? Counts the attempt.
    pub fn join_attempt(&mut self, source: SourceKey, now: Instant) -> Result<(), Refusal> {
        if gcra(&mut self.joins, source, JOINS_PER_MINUTE, now) {
            Ok(())
        } else {
            Err((
                ErrorCode::RateLimited,
                "Too many join attempts from your network; wait a minute.",
            ))
        }
    }

    /// Forget sources whose allowances are full again.
    pub(super) fn sweep_joins(&mut self, now: Instant) {
        self.joins.retain(|_, tat| *tat > now);
        self.creations.retain(|_, tat| *tat > now);
    }
}
