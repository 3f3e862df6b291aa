// Extra transfer lanes: for a large file the sender opens more RTCPeerConnections to the
// same peer and stripes the file's chunks over them and the pair's own channel.
//
// Why: Chromium's SCTP is loss-limited on a busy receiver. A few UDP receive-buffer drops
// per 100,000 packets hold one association's congestion window near 64 KB whatever the
// round-trip time, so one channel moves ~1.5 MB/s at 40 ms RTT. Each extra connection is
// its own association, UDP socket and window, like parallel TCP streams (measured in
// bench/transfer.rs; numbers in docs/decisions.md).
//
// Lanes are negotiated over the same `signal` message as the pair's connection, with
// `data.lane` set. The sender always offers and the receiver always answers, so there is no
// glare to resolve; a lane exists only for one transfer and is closed after it.

/** Files at least this large are striped over lanes. */
export const LANE_MIN_BYTES = 8 * 1024 * 1024;
/** Extra connections per transfer (localStorage.homedropLanes overrides it, 0 = none). The
 * relay allows 10 TURN allocations per credential, 2 per connection: pair + 2 lanes is 6. */
export const EXTRA_LANES = 2;
/** How long the sender waits for a lane to open before going on without it. */
const LANE_OPEN_MS = 8000;
const MAX_ICE_RESTARTS = 3;
const DISCONNECTED_GRACE_MS = 5000;
const MAX_HELD_CANDIDATES = 64;
/** Lanes one receive transfer may have open. */
export const MAX_LANES_PER_TRANSFER = 4;

export function extraLanes() {
  try {
    const o = localStorage.getItem('homedropLanes');
    if (o !== null && Number.isInteger(Number(o))) return Math.max(0, Math.min(MAX_LANES_PER_TRANSFER, Number(o)));
  } catch {
    /* ignore */
  }
  return EXTRA_LANES;
}

/** `${tid}/${k}`: the transfer the lane belongs to, and its number. */
export function laneId(tid, k) {
  return `${tid}/${k}`;
}

export function parseLaneId(id) {
  if (typeof id !== 'string' || id.length > 80) return null;
  const m = /^([A-Za-z0-9_-]{1,64})\/([1-9])$/.exec(id);
  return m ? { tid: m[1], k: Number(m[2]) } : null;
}

/**
 * One extra RTCPeerConnection with one negotiated data channel. Looks like a PeerLink to the
 * transfer code (peerId, isOpen, sendJson, sendBinary, drain, maxMessageSize).
 */
export class Lane {
  /** @param opts {id, peerId, iceServers, offerer, sendSignal(data), onMessage(lane, data),
   *   onClose(lane)} */
  constructor(opts) {
    this.id = opts.id;
    this.peerId = opts.peerId;
    this.offerer = opts.offerer;
    this.sendSignal = (data) => opts.sendSignal({ lane: this.id, ...data });
    this.onClose = opts.onClose;
    this.closed = false;
    this.restarts = 0;
    this.held = [];
    this.signals = Promise.resolve();
    this.pc = new RTCPeerConnection({ iceServers: opts.iceServers });
    const dc = this.pc.createDataChannel('lane', { negotiated: true, id: 0, ordered: true });
    this.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = 1024 * 1024;
    dc.onmessage = (e) => opts.onMessage(this, e.data);
    dc.onclose = () => this.close();
    this.opened = new Promise((resolve) => {
      dc.onopen = () => resolve(true);
      this.giveUp = () => resolve(false);
    });
    this.wire();
  }

  wire() {
    const pc = this.pc;
    if (this.offerer) pc.onnegotiationneeded = () => this.offer();
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.sendSignal({ candidate: candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'closed') this.close();
    };
    pc.oniceconnectionstatechange = () => {
      const state = pc.iceConnectionState;
      clearTimeout(this.graceTimer);
      if (state === 'failed') this.restartIce();
      else if (state === 'disconnected') {
        this.graceTimer = setTimeout(() => this.restartIce(), DISCONNECTED_GRACE_MS);
      } else if (state === 'connected' || state === 'completed') this.restarts = 0;
    };
  }

  /** Only the offerer restarts; the answerer follows the new offer. */
  restartIce() {
    if (this.closed || !this.offerer) return;
    if (this.restarts >= MAX_ICE_RESTARTS) return this.close();
    this.restarts += 1;
    console.info('homedrop: lane ICE restart', this.restarts);
    this.pc.restartIce();
  }

  async offer() {
    const pc = this.pc;
    if (this.closed || pc.signalingState !== 'stable') return;
    try {
      await pc.setLocalDescription();
      if (pc.localDescription?.type === 'offer') this.sendSignal({ description: pc.localDescription.toJSON() });
    } catch (err) {
      console.warn('lane offer failed', err);
    }
  }

  setIceServers(iceServers) {
    if (this.closed) return;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    } catch {
      /* ignore */
    }
  }

  /** Feeds one `signal.data` (with `lane`) from the peer, in order. */
  signal(data) {
    this.signals = this.signals
      .then(() => this.apply(data))
      .catch((err) => console.warn('lane signal failed', err));
  }

  async apply({ description, candidate }) {
    if (this.closed) return;
    const pc = this.pc;
    if (description) {
      // Offers only go one way, so a description that does not fit is a stale one.
      if (description.type === 'offer' && this.offerer) return;
      if (description.type === 'answer' && pc.signalingState !== 'have-local-offer') return;
      await pc.setRemoteDescription(description);
      if (description.type === 'offer') {
        await pc.setLocalDescription();
        this.sendSignal({ description: pc.localDescription.toJSON() });
      }
      const held = this.held;
      this.held = [];
      for (const c of held) await pc.addIceCandidate(c).catch(() => {});
    } else if (candidate) {
      if (!pc.remoteDescription) {
        if (this.held.length < MAX_HELD_CANDIDATES) this.held.push(candidate);
        return;
      }
      await pc.addIceCandidate(candidate).catch(() => {});
    }
  }

  /** True once open, false if it did not open within LANE_OPEN_MS (then it is closed). */
  async ready() {
    const timer = setTimeout(() => this.close(), LANE_OPEN_MS);
    const ok = await this.opened;
    clearTimeout(timer);
    return ok && this.isOpen;
  }

  get isOpen() {
    return !this.closed && this.dc.readyState === 'open';
  }

  maxMessageSize() {
    return this.pc.sctp?.maxMessageSize || 64 * 1024;
  }

  drain(limit) {
    if (this.dc.bufferedAmount <= limit) return Promise.resolve();
    // Resume at a quarter of the mark: 1 MiB for the default 4 MiB.
    this.dc.bufferedAmountLowThreshold = Math.floor(limit / 4);
    return new Promise((resolve, reject) => {
      const done = () => {
        this.dc.removeEventListener('bufferedamountlow', done);
        this.dc.removeEventListener('close', done);
        if (this.isOpen) resolve();
        else reject(new Error('connection closed'));
      };
      this.dc.addEventListener('bufferedamountlow', done);
      this.dc.addEventListener('close', done);
    });
  }

  sendJson(msg) {
    if (!this.isOpen) throw new Error('connection closed');
    this.dc.send(JSON.stringify(msg));
  }

  sendBinary(view) {
    if (!this.isOpen) throw new Error('connection closed');
    this.dc.send(view);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.graceTimer);
    this.giveUp();
    try {
      this.dc.close();
      this.pc.close();
    } catch {
      /* already closed */
    }
    this.onClose(this);
  }
}

/** Every lane of this page, keyed by peer and lane id; created by senders, accepted by
 * receivers only for an active transfer from that peer. */
export class Lanes {
  constructor(manager) {
    this.m = manager;
    this.all = new Map(); // `${peerId} ${laneId}` -> Lane
    manager.peers.onLaneSignal = (from, data) => this.onSignal(from, data);
    manager.bus.on('server:iceServers', (msg) => {
      if (!Array.isArray(msg?.iceServers)) return;
      for (const lane of this.all.values()) lane.setIceServers(msg.iceServers);
    });
  }

  create(peerId, id, offerer) {
    const peers = this.m.peers;
    const lane = new Lane({
      id,
      peerId,
      offerer,
      iceServers: peers.iceServers,
      sendSignal: (data) => peers.signaling.send({ type: 'signal', to: peerId, data }),
      onMessage: (l, data) => this.m.onMessage(l, data),
      onClose: (l) => this.onClosed(l),
    });
    lane.tid = parseLaneId(id).tid;
    lane.opened.then((ok) => {
      lane.used = ok;
      const t = this.m.transfers.get(lane.tid);
      // Diagnostics (window.homedrop.state()): how many lanes a transfer had open.
      if (ok && t?.peerId === peerId) t.lanes = (t.lanes ?? 0) + 1;
    });
    this.all.set(`${peerId} ${id}`, lane);
    return lane;
  }

  /** Sender: opens up to `n` lanes for transfer `t`; resolves to the ones that opened. */
  async open(t, n) {
    const lanes = [];
    for (let k = 1; k <= n; k++) lanes.push(this.create(t.peerId, laneId(t.tid, k), true));
    const ok = await Promise.all(lanes.map((l) => l.ready()));
    return lanes.filter((l, i) => ok[i]);
  }

  onSignal(from, data) {
    const lane = this.all.get(`${from} ${data.lane}`);
    if (lane) return lane.signal(data);
    // A new lane: only an offer, for an active transfer this page receives from `from`.
    const p = parseLaneId(data.lane);
    const t = p && this.m.transfers.get(p.tid);
    if (!t || t.direction !== 'receive' || t.state !== 'active' || t.peerId !== from) return;
    if (data.description?.type !== 'offer' || this.count(t) >= MAX_LANES_PER_TRANSFER) return;
    this.create(from, data.lane, false).signal(data);
  }

  count(t) {
    let n = 0;
    for (const lane of this.all.values()) if (lane.tid === t.tid && lane.peerId === t.peerId) n++;
    return n;
  }

  /** Closes the lanes of a transfer that is over (or whose sending finished). */
  closeFor(t) {
    for (const lane of [...this.all.values()]) {
      if (lane.tid !== t.tid || lane.peerId !== t.peerId) continue;
      lane.retired = true;
      lane.close();
    }
  }

  /** A lane that carried data and closed before its transfer ended lost chunks with it. */
  onClosed(lane) {
    this.all.delete(`${lane.peerId} ${lane.id}`);
    const t = this.m.transfers.get(lane.tid);
    if (lane.retired || !lane.used || !t || t.peerId !== lane.peerId || this.m.isFinal(t)) return;
    this.m.fail(t, `The connection to ${t.peerName} was lost.`, true);
  }
}
