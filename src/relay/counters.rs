//! The relay's counters as atomics, so `/stats` and `/metrics` read them
//! without taking the core's lock (which the UDP loop holds for every packet).
//!
//! The core ([`super::Server`]) owns an `Arc<Counters>` and bumps it; anyone
//! else gets a clone of the `Arc` ([`super::Shell::counters`]) and calls
//! [`Counters::snapshot`]. Relaxed ordering is enough: each counter is
//! independent and only ever read for reporting.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::Stats;

/// Live relay counters; see [`Stats`] for what each one means.
#[derive(Debug, Default)]
pub struct Counters {
    pub(super) allocations_current: AtomicU64,
    pub(super) allocations_total: AtomicU64,
    pub(super) bytes_relayed: AtomicU64,
    pub(super) packets_relayed: AtomicU64,
    pub(super) auth_failures: AtomicU64,
    pub(super) policy_refusals: AtomicU64,
    pub(super) quota_refusals: AtomicU64,
    pub(super) dropped_bandwidth: AtomicU64,
    pub(super) reservations_current: AtomicU64,
    pub(super) reservations_redeemed: AtomicU64,
}

impl Counters {
    /// A consistent-enough copy of every counter (each read is atomic; the
    /// set is not one transaction, which reporting does not need).
    pub fn snapshot(&self) -> Stats {
        Stats {
            allocations_current: self.allocations_current.load(Relaxed),
            allocations_total: self.allocations_total.load(Relaxed),
            bytes_relayed: self.bytes_relayed.load(Relaxed),
            packets_relayed: self.packets_relayed.load(Relaxed),
            auth_failures: self.auth_failures.load(Relaxed),
            policy_refusals: self.policy_refusals.load(Relaxed),
            quota_refusals: self.quota_refusals.load(Relaxed),
            dropped_bandwidth: self.dropped_bandwidth.load(Relaxed),
            reservations_current: self.reservations_current.load(Relaxed),
            reservations_redeemed: self.reservations_redeemed.load(Relaxed),
        }
    }

    pub(super) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(super) fn set(counter: &AtomicU64, n: u64) {
        counter.store(n, Relaxed);
    }
}
