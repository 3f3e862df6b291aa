//! Port reservations for EVEN-PORT with the R bit (RFC 8656 §7.2).
//!
//! "If the R bit is set, the server SHOULD reserve the next-higher port
//! [and] ... include a RESERVATION-TOKEN attribute in the success response";
//! a later Allocate carrying that token gets the reserved port. Why this is
//! safe to keep:
//! * Only authenticated Allocates that succeeded create one, and there are at
//!   most as many live reservations as the server's allocation capacity, so
//!   unauthenticated traffic never grows this state.
//! * A reservation expires after [`RESERVATION_LIFETIME`] (RFC 5766 §6.2:
//!   "approximately 30 seconds") and is used at most once.
//! * The token is 8 random bytes from the core's CSPRNG (ChaCha, OS-seeded in
//!   production), and it is only honoured for the username that obtained it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a reserved port is held for its token.
pub const RESERVATION_LIFETIME: Duration = Duration::from_secs(30);

/// A RESERVATION-TOKEN value (RFC 8656 §18.9: 8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(pub [u8; 8]);

#[derive(Debug)]
struct Reservation {
    port: u16,
    username: String,
    expires: Instant,
}

/// Live reservations, by token and by port.
#[derive(Debug, Default)]
pub struct Reservations {
    by_token: HashMap<Token, Reservation>,
    by_port: HashMap<u16, Token>,
}

impl Reservations {
    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    /// Whether `port` is held for a token (not free for other allocations).
    pub fn is_reserved(&self, port: u16) -> bool {
        self.by_port.contains_key(&port)
    }

    /// Holds `port` for `token` until `now + RESERVATION_LIFETIME`. Returns
    /// false (and stores nothing) when the token or port is already in use.
    pub fn reserve(&mut self, token: Token, port: u16, username: &str, now: Instant) -> bool {
        if self.by_token.contains_key(&token) || self.by_port.contains_key(&port) {
            return false;
        }
        let expires = now + RESERVATION_LIFETIME;
        let username = username.to_owned();
        self.by_token.insert(
            token,
            Reservation {
                port,
                username,
                expires,
            },
        );
        self.by_port.insert(port, token);
        true
    }

    /// Redeems `token` for `username`: the reserved port, once. An unknown,
    /// expired or other user's token gives `None` (→ 508); another user's
    /// attempt leaves the reservation in place for its owner.
    pub fn take(&mut self, token: Token, username: &str, now: Instant) -> Option<u16> {
        let r = self.by_token.get(&token)?;
        if r.username != username {
            return None;
        }
        let live = r.expires > now;
        let port = r.port;
        self.by_token.remove(&token);
        self.by_port.remove(&port);
        live.then_some(port)
    }

    /// Drops expired reservations; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.by_token.len();
        let by_port = &mut self.by_port;
        self.by_token.retain(|_, r| {
            let live = r.expires > now;
            if !live {
                by_port.remove(&r.port);
            }
            live
        });
        before - self.by_token.len()
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.by_token.values().map(|r| r.expires).min()
    }

    /// Stored entries (for state accounting).
    pub fn state_size(&self) -> usize {
        self.by_token.len() + self.by_port.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Token = Token([7; 8]);

    #[test]
    fn reserve_take_once_and_only_by_owner() {
        let now = Instant::now();
        let mut r = Reservations::default();
        assert!(r.reserve(T, 50001, "alice", now));
        assert!(!r.reserve(T, 50003, "alice", now), "token reused");
        assert!(!r.reserve(Token([8; 8]), 50001, "bob", now), "port reused");
        assert!(r.is_reserved(50001));
        assert_eq!(r.take(T, "bob", now), None);
        assert_eq!(r.take(Token([9; 8]), "alice", now), None);
        assert_eq!(
            r.take(T, "alice", now + Duration::from_secs(29)),
            Some(50001)
        );
        assert_eq!(r.take(T, "alice", now), None, "used once");
        assert!(!r.is_reserved(50001));
        assert_eq!(r.state_size(), 0);
    }

    #[test]
    fn reservations_expire_at_their_lifetime() {
        let now = Instant::now();
        let mut r = Reservations::default();
        assert!(r.reserve(T, 50001, "alice", now));
        assert!(r.reserve(Token([1; 8]), 50011, "alice", now + Duration::from_secs(5)));
        assert_eq!(r.next_expiry(), Some(now + RESERVATION_LIFETIME));
        assert_eq!(r.expire(now + Duration::from_secs(29)), 0);
        assert_eq!(r.expire(now + RESERVATION_LIFETIME), 1);
        assert!(!r.is_reserved(50001));
        assert!(r.is_reserved(50011));
        // Expired but not yet swept: still refused.
        let late = now + Duration::from_secs(40);
        assert_eq!(r.take(Token([1; 8]), "alice", late), None);
        assert_eq!(r.len(), 0);
    }
}
