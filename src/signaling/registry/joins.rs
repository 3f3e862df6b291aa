//! Join limits: how often one source address may try a room code or a pairing key.
//!
//! Room codes (31^6) and pairing keys (10^6) are short enough to guess by brute force, so
//! each address gets [`JOINS_PER_MINUTE`] attempts at once and one more every
//! 60 s / [`JOINS_PER_MINUTE`] after that (a GCRA: one "theoretical arrival time" per
//! address). Invitations do not count: no code is being guessed.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{Refusal, Registry};
use crate::signaling::protocol::ErrorCode;

/// Room and pairing join attempts allowed per source address (per minute, also the burst).
pub const JOINS_PER_MINUTE: u32 = 10;

/// Time one attempt costs.
const EMISSION: Duration = Duration::from_secs(60 / JOINS_PER_MINUTE as u64);
/// How far ahead of `now` an address's arrival time may run: the burst minus one attempt.
const TOLERANCE: Duration =
    Duration::from_secs(60 / JOINS_PER_MINUTE as u64 * (JOINS_PER_MINUTE as u64 - 1));

impl Registry {
    /// May `ip` try another room code or pairing key now? Counts the attempt if so.
    pub fn join_attempt(&mut self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let tat = self.joins.get(&ip).map_or(now, |t| (*t).max(now));
        if tat.duration_since(now) > TOLERANCE {
            return Err((
                ErrorCode::RateLimited,
                "Too many join attempts from your network; wait a minute.",
            ));
        }
        self.joins.insert(ip, tat + EMISSION);
        Ok(())
    }

    /// Forget addresses whose allowance is full again.
    pub(super) fn sweep_joins(&mut self, now: Instant) {
        self.joins.retain(|_, tat| *tat > now);
    }
}
