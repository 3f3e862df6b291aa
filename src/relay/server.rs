//! The sans-IO server: dispatch, authentication gate, Binding, Allocate and
//! Refresh. Permission, channel and data handling live in `relaying.rs`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use stun::attributes::*;
use stun::error_code::*;
use stun::fingerprint::FINGERPRINT;
use stun::integrity::MessageIntegrity;
use stun::message::*;
use stun::textattrs::TextAttribute;
use stun::xoraddr::XorMappedAddress;
use turn::proto::lifetime::Lifetime;
use turn::proto::relayaddr::RelayedAddress;

use super::allocation::{Allocation, Allocations};
use super::auth::{self, NonceCheck, Nonces};
use super::counters::Counters;
use super::policy::{PeerPolicy, TokenBucket};
use super::reservation::{Reservations, Token};
use super::txcache::TxCache;
use super::wire::{self, Packet};
use super::{ClientAddr, Config, Now, Output, RelayAddr, Stats};

/// A successfully authenticated request's credentials.
pub(super) struct Authed {
    pub username: String,
    pub key: MessageIntegrity,
}

/// The STUN/TURN relay core.
#[derive(Debug)]
pub struct Server {
    pub(super) cfg: Config,
    pub(super) policy: PeerPolicy,
    nonces: Nonces,
    pub(super) allocs: Allocations,
    cache: TxCache,
    pub(super) total_bucket: TokenBucket,
    pub(super) rng: StdRng,
    pub(super) reservations: Reservations,
    pub(super) counters: Arc<Counters>,
    /// Stream (TCP/TLS) clients that have sent a successfully authenticated
    /// request, for [`Server::is_authenticated`]. Only stream clients: each
    /// one is a connection the shell holds a slot for and reports closed
    /// (`client_disconnected`), so the set is bounded by the connection cap;
    /// UDP 5-tuples are never added (they would grow it without bound).
    authenticated: HashSet<ClientAddr>,
}

impl Server {
    /// A server with `config`; `seed` feeds the nonce key and port choice
    /// (use a random seed in production, a fixed one in tests).
    pub fn new(config: Config, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let nonces = Nonces::new(rng.random(), config.nonce_lifetime);
        let policy = PeerPolicy {
            relay_ip: config.advertised_ip,
            port_min: config.port_min.min(config.port_max),
            port_max: config.port_max,
        };
        Self {
            total_bucket: TokenBucket::new(config.total_bandwidth),
            cfg: config,
            policy,
            nonces,
            allocs: Allocations::default(),
            cache: TxCache::default(),
            rng,
            reservations: Reservations::default(),
            counters: Arc::default(),
            authenticated: HashSet::new(),
        }
    }

    /// Handles one UDP datagram or one stream frame (see `framing`) from
    /// `from`. Returns at most one thing to send.
    pub fn handle(&mut self, bytes: &[u8], from: ClientAddr, now: Now) -> Option<Output> {
        match wire::parse(bytes) {
            Packet::Stun(m) => self.handle_stun(m, from, now),
            Packet::Malformed { typ, tid } => (typ.class == CLASS_REQUEST).then(|| Output::Reply {
                to: from,
                bytes: wire::error(typ, tid, CODE_BAD_REQUEST).raw,
            }),
            Packet::Channel { number, data } => {
                self.handle_channel_data(number, &data, from, now.mono)
            }
            Packet::Garbage => None,
        }
    }

    /// Removes expired allocations, permissions, channels and cached responses.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.allocs.expire(now);
        self.cache.expire(now);
        self.reservations.expire(now);
        self.sync_gauges();
    }

    /// When `handle_timeout` should be called next.
    pub fn next_timeout(&self) -> Option<Instant> {
        [
            self.allocs.next_expiry(),
            self.cache.next_expiry(),
            self.reservations.next_expiry(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A TCP/TLS client connection closed: RFC 8656 §3.1 ("If the TCP
    /// connection is closed, the server deletes the allocation"). Also drops
    /// the client's cached responses implicitly by their TTL.
    pub fn client_disconnected(&mut self, client: ClientAddr) {
        self.authenticated.remove(&client);
        if let Some(port) = self.allocs.port_of(&client) {
            self.allocs.remove(port);
            self.sync_gauges();
        }
    }

    /// Whether stream client `client` has sent a successfully authenticated
    /// request (any TURN method past the RFC 8489 §9.2.4 checks) since it
    /// connected. The shell closes stream connections that are still not
    /// authenticated a few seconds after connecting, so unauthenticated
    /// connections cannot hold the connection slots. Always false for UDP
    /// clients (which hold no slot).
    pub fn is_authenticated(&self, client: ClientAddr) -> bool {
        self.authenticated.contains(&client)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// The live counters, readable without this core's lock.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Total entries held in all internal maps (allocations, their
    /// permissions/channels, per-user counts, transaction cache, port
    /// reservations).
    pub fn state_size(&self) -> usize {
        let allocs = self.allocs.state_size() + self.authenticated.len();
        allocs + self.cache.len() + self.reservations.state_size()
    }

    /// Refreshes the gauges (current allocations and reservations).
    pub(super) fn sync_gauges(&self) {
        let c = &self.counters;
        Counters::set(&c.allocations_current, self.allocs.len() as u64);
        Counters::set(&c.reservations_current, self.reservations.len() as u64);
    }

    fn handle_stun(&mut self, m: Message, from: ClientAddr, now: Now) -> Option<Output> {
        if m.typ.class == CLASS_INDICATION && m.typ.method == METHOD_SEND {
            return self.handle_send(&m, from, now.mono);
        }
        if m.typ.class != CLASS_REQUEST {
            return None; // responses and other indications are ignored
        }
        let bytes = self.handle_request(m, from, now);
        Some(Output::Reply { to: from, bytes })
    }

    fn handle_request(&mut self, mut m: Message, from: ClientAddr, now: Now) -> Vec<u8> {
        let tid = m.transaction_id.0;
        if let Some(cached) = self.cache.get(from, tid, now.mono) {
            return cached.to_vec();
        }
        let unknown = wire::unknown_required(&m);
        if !unknown.is_empty() {
            return wire::unknown_attributes(&m, unknown);
        }
        let method = m.typ.method;
        if method == METHOD_BINDING {
            return self.binding(&m, from);
        }
        let turn_methods = [
            METHOD_ALLOCATE,
            METHOD_REFRESH,
            METHOD_CREATE_PERMISSION,
            METHOD_CHANNEL_BIND,
        ];
        if !turn_methods.contains(&method) {
            return wire::error(m.typ, m.transaction_id, CODE_BAD_REQUEST).raw;
        }
        let authed = match self.authenticate(&mut m, from, now) {
            Ok(a) => a,
            Err(bytes) => return bytes,
        };
        if from.transport.is_stream() {
            self.authenticated.insert(from);
        }
        let result = match method {
            METHOD_ALLOCATE => self.allocate(&m, from, &authed.username, now.mono),
            METHOD_REFRESH => self.refresh(&m, from, &authed.username, now.mono),
            METHOD_CREATE_PERMISSION => {
                self.create_permission(&m, from, &authed.username, now.mono)
            }
            _ => self.channel_bind(&m, from, &authed.username, now.mono),
        };
        let resp = result.unwrap_or_else(|code| {
            self.count_error(code);
            wire::error(m.typ, m.transaction_id, code)
        });
        let bytes = wire::finish(resp, Some(&authed.key));
        self.cache.insert(from, tid, bytes.clone(), now.mono);
        bytes
    }

    fn count_error(&mut self, code: ErrorCode) {
        let c = &self.counters;
        match code {
            CODE_FORBIDDEN => Counters::bump(&c.policy_refusals),
            CODE_ALLOC_QUOTA_REACHED | CODE_INSUFFICIENT_CAPACITY => {
                Counters::bump(&c.quota_refusals)
            }
            CODE_WRONG_CREDENTIALS => Counters::bump(&c.auth_failures),
            _ => {}
        }
    }

    /// RFC 8489 §7.3.1 / §14.2 Binding: the success response carries an
    /// XOR-MAPPED-ADDRESS with the request's source transport address; no
    /// authentication (RFC 8656 §3.1 leaves Binding unauthenticated).
    fn binding(&self, m: &Message, from: ClientAddr) -> Vec<u8> {
        let mut resp = wire::response(m, CLASS_SUCCESS_RESPONSE);
        let xma = XorMappedAddress {
            ip: from.addr.ip(),
            port: from.addr.port(),
        };
        wire::put(&mut resp, &xma);
        if m.contains(ATTR_FINGERPRINT) {
            wire::put(&mut resp, &FINGERPRINT);
        }
        resp.raw
    }

    /// RFC 8489 §9.2.4 (long-term credentials, server side), in order:
    /// no MESSAGE-INTEGRITY → 401 + REALM + NONCE; missing USERNAME, REALM or
    /// NONCE → 400; invalid/expired username → 401; "If the NONCE is no longer
    /// valid, the server MUST generate an error response with an error code of
    /// 438 (Stale Nonce)" + REALM + NONCE; bad HMAC → 401.
    fn authenticate(
        &mut self,
        m: &mut Message,
        from: ClientAddr,
        now: Now,
    ) -> Result<Authed, Vec<u8>> {
        if !m.contains(ATTR_MESSAGE_INTEGRITY) {
            return Err(self.challenge(m, from, now, CODE_UNAUTHORIZED));
        }
        let username = wire::text_attr(m, ATTR_USERNAME);
        let nonce = wire::text_attr(m, ATTR_NONCE);
        let (Some(username), Some(nonce), true) = (username, nonce, m.contains(ATTR_REALM)) else {
            return Err(wire::error(m.typ, m.transaction_id, CODE_BAD_REQUEST).raw);
        };
        let horizon = self.cfg.credential_horizon;
        if auth::check_username_within(&username, now.unix, horizon).is_err() {
            Counters::bump(&self.counters.auth_failures);
            return Err(self.challenge(m, from, now, CODE_UNAUTHORIZED));
        }
        if self.nonces.check(&nonce, now.unix, from.addr) == NonceCheck::Stale {
            return Err(self.challenge(m, from, now, CODE_STALE_NONCE));
        }
        let key = auth::long_term_key(&self.cfg.secret, &username, &self.cfg.realm);
        let mi_ok = wire::raw_attr(m, ATTR_MESSAGE_INTEGRITY).is_some_and(|v| v.len() == 20);
        if !mi_ok || key.check(m).is_err() {
            Counters::bump(&self.counters.auth_failures);
            return Err(self.challenge(m, from, now, CODE_UNAUTHORIZED));
        }
        Ok(Authed { username, key })
    }

    /// 401/438 with REALM and a fresh stateless NONCE.
    fn challenge(&self, m: &Message, from: ClientAddr, now: Now, code: ErrorCode) -> Vec<u8> {
        let mut resp = wire::error(m.typ, m.transaction_id, code);
        wire::put(
            &mut resp,
            &TextAttribute::new(ATTR_REALM, self.cfg.realm.clone()),
        );
        let nonce = self.nonces.issue(now.unix, from.addr);
        wire::put(&mut resp, &TextAttribute::new(ATTR_NONCE, nonce));
        resp.raw
    }

    /// RFC 8656 §7.2 "Receiving an Allocate Request" (after authentication).
    fn allocate(
        &mut self,
        m: &Message,
        from: ClientAddr,
        user: &str,
        now: Instant,
    ) -> Result<Message, ErrorCode> {
        // Step 2: "checks if the 5-tuple is currently in use by an existing
        // allocation. If yes, the server rejects the request with a 437".
        if let Some(port) = self.allocs.port_of(&from) {
            if self.allocs.by_port(port).is_some_and(|a| a.expires > now) {
                return Err(CODE_ALLOC_MISMATCH);
            }
            self.allocs.remove(port);
        }
        let request = self.check_allocate_attrs(m)?;
        // Step 8 (quotas): "If not, the server rejects the request with a 486
        // (Allocation Quota Reached) error"; server-wide capacity → 508.
        // Quotas are per username and per client source (IPv4 address or
        // IPv6 /64: credentials are handed out freely, sources are not).
        if self.allocs.user_count(user) >= self.cfg.max_allocations_per_user
            || self.allocs.source_count(&from) >= self.cfg.source_quota()
        {
            return Err(CODE_ALLOC_QUOTA_REACHED);
        }
        if self.allocs.len() >= self.cfg.max_allocations {
            return Err(CODE_INSUFFICIENT_CAPACITY);
        }
        let lifetime = self.initial_lifetime(m)?;
        // Nothing after the port choice fails: a reservation it makes or
        // redeems always belongs to the allocation created here.
        let (port, token) = self.choose_port(request, user, now)?;
        let relay = self.policy.relay_addr(port);
        let expires = now + lifetime;
        let rate = self.cfg.allocation_bandwidth;
        self.allocs
            .insert(Allocation::new(from, relay, user.to_owned(), expires, rate));
        Counters::bump(&self.counters.allocations_total);
        self.sync_gauges();
        let mut resp = Self::allocate_success(m, relay, lifetime, from);
        if let Some(Token(t)) = token {
            resp.add(ATTR_RESERVATION_TOKEN, &t);
        }
        Ok(resp)
    }

    /// RFC 8656 §7.2: the success response carries "An XOR-RELAYED-ADDRESS
    /// attribute ..., A LIFETIME attribute ..., An XOR-MAPPED-ADDRESS attribute".
    fn allocate_success(
        m: &Message,
        relay: RelayAddr,
        lifetime: Duration,
        from: ClientAddr,
    ) -> Message {
        let mut resp = wire::response(m, CLASS_SUCCESS_RESPONSE);
        let (ip, port) = (relay.0.ip(), relay.0.port());
        wire::put(&mut resp, &RelayedAddress { ip, port });
        wire::put(&mut resp, &Lifetime(lifetime));
        let (ip, port) = (from.addr.ip(), from.addr.port());
        wire::put(&mut resp, &XorMappedAddress { ip, port });
        resp
    }

    /// RFC 8656 §7.2: "minimum of the client's requested lifetime and the
    /// server's maximum allowed lifetime. If this computed value is greater
    /// than the default lifetime, then the server uses the computed lifetime
    /// ... Otherwise, the server uses the default lifetime."
    fn initial_lifetime(&self, m: &Message) -> Result<Duration, ErrorCode> {
        let requested: Option<Lifetime> =
            wire::opt_attr(m, ATTR_LIFETIME).map_err(|_| CODE_BAD_REQUEST)?;
        let max = self.cfg.max_lifetime;
        let computed = requested.map_or(self.cfg.default_lifetime, |l| l.0.min(max));
        Ok(computed.max(self.cfg.default_lifetime).min(max))
    }

    /// RFC 8656 §7.3 "Receiving a Refresh Request": "If the requested lifetime
    /// is zero, then the server MUST immediately delete the allocation";
    /// otherwise "the minimum of the client's requested lifetime and the
    /// server's maximum allowed lifetime" (default if absent).
    fn refresh(
        &mut self,
        m: &Message,
        from: ClientAddr,
        user: &str,
        now: Instant,
    ) -> Result<Message, ErrorCode> {
        let port = self.own_allocation(from, user, now)?;
        let requested: Option<Lifetime> =
            wire::opt_attr(m, ATTR_LIFETIME).map_err(|_| CODE_BAD_REQUEST)?;
        let lifetime = requested.map_or(self.cfg.default_lifetime, |l| {
            l.0.min(self.cfg.max_lifetime)
        });
        if lifetime.is_zero() {
            self.allocs.remove(port);
            self.sync_gauges();
        } else if let Some(a) = self.allocs.by_port_mut(port) {
            a.expires = now + lifetime;
        }
        let mut resp = wire::response(m, CLASS_SUCCESS_RESPONSE);
        wire::put(&mut resp, &Lifetime(lifetime));
        Ok(resp)
    }

    /// RFC 8656 §5: requests other than Allocate need the allocation of the
    /// 5-tuple ("If the allocation does not exist ... 437") and "the USERNAME
    /// ... MUST be the same as the one used to create the allocation; if not,
    /// the server MUST reject the request with a 441 (Wrong Credentials)".
    pub(super) fn own_allocation(
        &mut self,
        from: ClientAddr,
        user: &str,
        now: Instant,
    ) -> Result<u16, ErrorCode> {
        let port = self.allocs.port_of(&from).ok_or(CODE_ALLOC_MISMATCH)?;
        let alloc = self.allocs.by_port(port).ok_or(CODE_ALLOC_MISMATCH)?;
        if alloc.expires <= now {
            self.allocs.remove(port);
            self.sync_gauges();
            return Err(CODE_ALLOC_MISMATCH);
        }
        if alloc.username != user {
            return Err(CODE_WRONG_CREDENTIALS);
        }
        Ok(port)
    }
}
