//! One connection's outgoing queue, bounded in bytes, with presence coalesced.
//!
//! Why bytes and not a message count: a `peers` message carries the whole list a peer may
//! see, so its size grows with the group. A count of 256 such lists per connection let 100
//! tabs that never read hold 100 × 256 lists of 100 entries each (N² × 256: about 400 MB),
//! and glibc or musl kept most of it after they left. Here each connection may hold at most
//! [`OUT_BUDGET`] bytes of queued messages, and at most one `peers` list waits at a time: a
//! newer list replaces the waiting one, because only the newest list is true.
//!
//! Order: the replaced list is removed and the new one goes to the back of the queue, so
//! everything queued before the new list still arrives before it (the `iceServers` that the
//! rulebook sends just before a peer's first linked list, see `registry/turn.rs`). Messages
//! that were queued after the old list now arrive before any list: the client takes a
//! `signal` from a peer it has not listed yet (it opens the link, and the next list keeps or
//! prunes it), and `roomJoined`/`roomLeft` carry their own code.
//!
//! The hub pushes under its lock, so nothing is serialized here: a message's size is
//! [`weight`], a cheap walk that estimates from above the heap it holds while it waits (its
//! JSON text, made by the session when it sends, is transient and about that size or
//! smaller). A push that would take a non-empty queue past the budget closes the queue and
//! frees what it held; the session then ends the connection with 1008 "too slow". An empty
//! queue takes any one message, so a single large list never cuts off a client that reads.

use std::collections::VecDeque;
use std::mem::size_of;
use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::Notify;

use super::protocol::{IceServer, Link, PeerInfo, ServerMsg};

/// Bytes of queued messages one connection may hold. A reading client's queue is nearly
/// always empty; this leaves room for a burst of signals (a 64 KiB frame is the largest a
/// client may send, so four of them) or a list of about a thousand peers. 1,024
/// connections that all stopped reading hold at most 256 MiB, and in practice much less:
/// with presence coalesced a stalled queue holds one list and what little else was sent.
pub const OUT_BUDGET: usize = 256 * 1024;

/// Added for each heap allocation a message holds: the allocator's header and rounding.
const ALLOC_OVERHEAD: usize = 16;

/// The queue was over its budget (or already closed): the connection is to be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// A connection's outgoing queue: the hub (and the session's own replies) push, the
/// session pops.
pub struct OutQueue {
    budget: usize,
    inner: Mutex<Inner>,
    ready: Notify,
}

#[derive(Default)]
struct Inner {
    /// Boxed: an emptied queue keeps its slots, 8 bytes each rather than the enum's size.
    msgs: VecDeque<(Box<ServerMsg>, usize)>,
    bytes: usize,
    closed: bool,
}

impl OutQueue {
    pub fn new(budget: usize) -> OutQueue {
        OutQueue {
            budget,
            inner: Mutex::default(),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `msg`; a `peers` list replaces one still waiting. `Err` when the queue is
    /// closed or this message would take it past its budget (it is then closed).
    pub fn push(&self, msg: ServerMsg) -> Result<(), Overflow> {
        let w = weight(&msg);
        let mut q = self.lock();
        if q.closed {
            return Err(Overflow);
        }
        if matches!(msg, ServerMsg::Peers { .. }) {
            let waiting = q
                .msgs
                .iter()
                .position(|(m, _)| matches!(**m, ServerMsg::Peers { .. }));
            if let Some((_, old)) = waiting.and_then(|i| q.msgs.remove(i)) {
                q.bytes -= old;
            }
        }
        if !q.msgs.is_empty() && q.bytes + w > self.budget {
            q.close();
            drop(q);
            self.ready.notify_one();
            return Err(Overflow);
        }
        q.bytes += w;
        q.msgs.push_back((Box::new(msg), w));
        drop(q);
        self.ready.notify_one();
        Ok(())
    }

    /// The next message without waiting; `None` if there is none or the queue is closed.
    pub fn try_recv(&self) -> Option<Box<ServerMsg>> {
        self.lock().pop()
    }

    /// The next message; `None` once the queue is closed. Cancel-safe: a message is taken
    /// only in the poll that returns it.
    pub async fn recv(&self) -> Option<Box<ServerMsg>> {
        loop {
            {
                let mut q = self.lock();
                if let Some(m) = q.pop() {
                    return Some(m);
                }
                if q.closed {
                    return None;
                }
            }
            // One consumer: a push while no one waits leaves a permit, so none is missed.
            self.ready.notified().await;
        }
    }

    /// Close the queue, dropping what it holds.
    pub fn close(&self) {
        self.lock().close();
        self.ready.notify_one();
    }

    /// Closed (overflowed, or its session ended)?
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Queued messages and their estimated bytes.
    pub fn usage(&self) -> (usize, usize) {
        let q = self.lock();
        (q.msgs.len(), q.bytes)
    }
}

impl Inner {
    fn pop(&mut self) -> Option<Box<ServerMsg>> {
        if self.closed {
            return None;
        }
        let (m, w) = self.msgs.pop_front()?;
        self.bytes -= w;
        if self.msgs.is_empty() && self.msgs.capacity() > 32 {
            self.msgs.shrink_to(8);
        }
        Some(m)
    }

    fn close(&mut self) {
        self.closed = true;
        self.msgs = VecDeque::new();
        self.bytes = 0;
    }
}

/// Estimated heap bytes `msg` holds while queued, from above: the box, each string's and
/// vector's capacity plus [`ALLOC_OVERHEAD`] per allocation, and for a signal's JSON every
/// node at its in-memory size (a map entry as its key, value and a B-tree slot).
pub fn weight(msg: &ServerMsg) -> usize {
    let body = match msg {
        ServerMsg::Welcome {
            id, ice_servers, ..
        } => s(id) + ice(ice_servers),
        ServerMsg::Peers { peers } => vec_of::<PeerInfo>(peers.capacity()) + list(peers),
        ServerMsg::RoomJoined { code, name, .. } => s(code) + name.as_ref().map_or(0, s),
        ServerMsg::RoomLeft { code } => s(code),
        ServerMsg::PairKey { key, .. } => s(key),
        ServerMsg::Paired { secret, peer_name } => s(secret) + s(peer_name),
        ServerMsg::Signal { from, data } => s(from) + json(data),
        ServerMsg::IceServers { ice_servers, .. } => ice(ice_servers),
        ServerMsg::RoomInvited {
            from,
            from_name,
            code,
        }
        | ServerMsg::RoomInviteAnswer {
            from,
            from_name,
            code,
            ..
        } => s(from) + s(from_name) + s(code),
        ServerMsg::Restarting => 0,
        ServerMsg::Error {
            message, reference, ..
        } => s(message) + reference.as_ref().map_or(0, s),
    };
    size_of::<(Box<ServerMsg>, usize)>() + size_of::<ServerMsg>() + ALLOC_OVERHEAD + body
}

fn s(x: &String) -> usize {
    match x.capacity() {
        0 => 0,
        c => c + ALLOC_OVERHEAD,
    }
}

fn vec_of<T>(capacity: usize) -> usize {
    match capacity {
        0 => 0,
        c => c * size_of::<T>() + ALLOC_OVERHEAD,
    }
}

fn list(peers: &[PeerInfo]) -> usize {
    let links = |l: &[Link]| -> usize {
        l.iter()
            .map(|l| match l {
                Link::Room { code } => s(code),
                Link::Home | Link::Network | Link::Pair => 0,
            })
            .sum()
    };
    peers
        .iter()
        .map(|p| s(&p.id) + s(&p.name) + vec_of::<Link>(p.links.capacity()) + links(&p.links))
        .sum()
}

fn ice(servers: &[IceServer]) -> usize {
    let each = |i: &IceServer| {
        vec_of::<String>(i.urls.capacity())
            + i.urls.iter().map(s).sum::<usize>()
            + i.username.as_ref().map_or(0, s)
            + i.credential.as_ref().map_or(0, s)
    };
    vec_of::<IceServer>(servers.len()) + servers.iter().map(each).sum::<usize>()
}

/// A JSON value's nodes, walked without recursion (a client may nest 128 levels deep).
fn json(root: &Value) -> usize {
    let mut total = 0;
    let mut todo = vec![root];
    while let Some(v) = todo.pop() {
        match v {
            Value::String(x) => total += s(x),
            Value::Array(a) => {
                total += vec_of::<Value>(a.capacity());
                todo.extend(a.iter());
            }
            Value::Object(m) => {
                for (k, v) in m {
                    // Key, value and one B-tree slot's share of its node.
                    total += size_of::<String>() + size_of::<Value>() + ALLOC_OVERHEAD + s(k);
                    todo.push(v);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    total
}

#[cfg(test)]
mod tests;
