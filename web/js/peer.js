// One RTCPeerConnection per pair of devices, negotiated with the "perfect negotiation"
// pattern over `signal` messages, carrying one negotiated data channel (id 0, "homedrop").
// ICE servers are homedrop's own STUN/TURN (from `welcome`, then `iceServers` with TURN
// credentials once linked); a failed ICE connection is restarted before giving up, and the
// path in use (see pathOf) is reported so each transfer can show it.

const OPEN_TIMEOUT_MS = 25000;
/** ICE restarts tried in a row (without reconnecting) before a failed connection is closed. */
const MAX_ICE_RESTARTS = 3;
/** A connection 'disconnected' this long is treated as failed: Chromium may stay there for
 * good (e.g. while a relay candidate is still pending) instead of reaching 'failed'. */
const DISCONNECTED_GRACE_MS = 5000;
/** How often the selected candidate pair is re-read while a link is open. */
const PATH_POLL_MS = 3000;

export const PATH_LAN = 'direct on the LAN';
export const PATH_INTERNET = 'direct over the internet';
export const PATH_RELAY = 'relayed through homedrop';

/** Private, loopback, link-local, ULA, mDNS or hidden: an address that stays at home. */
function isLocalAddress(addr) {
  const a = String(addr ?? '').toLowerCase();
  if (!a || a.endsWith('.local')) return true;
  if (a.includes(':')) return a === '::1' || /^f[cd]/.test(a) || /^fe[89ab]/.test(a);
  const [x, y] = a.split('.').map(Number);
  return x === 10 || x === 127 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168) || (x === 169 && y === 254);
}

/** The path of the selected candidate pair in a getStats() report, or null before one. */
export function pathOf(stats) {
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId) ?? pair;
  });
  if (!pair) {
    stats.forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
    });
  }
  const local = pair && stats.get(pair.localCandidateId);
  const remote = pair && stats.get(pair.remoteCandidateId);
  if (!local || !remote) return null;
  if (local.candidateType === 'relay' || remote.candidateType === 'relay') return PATH_RELAY;
  const addr = (c) => c.address ?? c.ip;
  return isLocalAddress(addr(local)) && isLocalAddress(addr(remote)) ? PATH_LAN : PATH_INTERNET;
}

export class PeerLink {
  /**
   * @param opts {selfId, peerId, iceServers, sendSignal(data), onMessage(link, data), onClose(link),
   *   onPath(link, path)}
   */
  constructor(opts) {
    this.peerId = opts.peerId;
    this.polite = opts.selfId < opts.peerId;
    this.sendSignal = opts.sendSignal;
    this.onMessage = opts.onMessage;
    this.onClose = opts.onClose;
    this.onPath = opts.onPath ?? (() => {});
    this.path = null;
    this.restarts = 0;
    this.pathTimer = null;
    this.graceTimer = null;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.closed = false;
    this.signals = Promise.resolve();
    this.pc = new RTCPeerConnection({ iceServers: opts.iceServers });
    this.dc = this.pc.createDataChannel('homedrop', { negotiated: true, id: 0, ordered: true });
    this.dc.binaryType = 'arraybuffer';
    // Set synchronously: a message arriving before a handler exists would be lost.
    this.dc.onmessage = (e) => this.onMessage(this, e.data);
    this.dc.onclose = () => this.close();
    this.dc.bufferedAmountLowThreshold = 1024 * 1024;
    this.dc.addEventListener('open', () => this.watchPath(), { once: true });
    this.opened = new Promise((resolve, reject) => {
      this.dc.addEventListener('open', () => resolve(), { once: true });
      this.rejectOpen = reject;
    });
    this.opened.catch(() => {});
    this.wirePc();
  }

  wirePc() {
    const pc = this.pc;
    pc.onnegotiationneeded = () => this.makeOffer();
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.sendSignal({ candidate: candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'closed') this.close();
    };
    pc.oniceconnectionstatechange = () => {
      const state = pc.iceConnectionState;
      console.debug('homedrop: ICE', state);
      clearTimeout(this.graceTimer);
      if (state === 'failed') this.restartIce();
      else if (state === 'disconnected') {
        this.graceTimer = setTimeout(() => this.restartIce(), DISCONNECTED_GRACE_MS);
      } else if (state === 'connected' || state === 'completed') {
        this.restarts = 0;
        this.updatePath();
      }
    };
  }

  /** ICE failed or stayed disconnected (a path went away, e.g. Wi-Fi to mobile, or client
   * isolation): gather again and renegotiate. */
  restartIce() {
    if (this.closed) return;
    if (this.restarts >= MAX_ICE_RESTARTS) {
      this.close();
      return;
    }
    this.restarts += 1;
    console.info('homedrop: ICE restart', this.restarts);
    // negotiationneeded follows; makeOffer's implicit offer then carries new ICE credentials
    // (the same as createOffer({iceRestart: true})).
    this.pc.restartIce();
  }

  /** New ICE servers (fresh TURN credentials): used by the next gathering or restart. */
  setIceServers(iceServers) {
    if (this.closed) return;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    } catch (err) {
      console.warn('setConfiguration failed', err);
    }
  }

  watchPath() {
    this.updatePath();
    this.pathTimer = setInterval(() => this.updatePath(), PATH_POLL_MS);
  }

  async updatePath() {
    if (this.closed) return;
    try {
      const path = pathOf(await this.pc.getStats());
      if (path && path !== this.path && !this.closed) {
        this.path = path;
        this.onPath(this, path);
      }
    } catch {
      /* closed meanwhile */
    }
  }

  async makeOffer() {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.sendSignal({ description: this.pc.localDescription.toJSON() });
    } catch (err) {
      console.warn('offer failed', err);
    } finally {
      this.makingOffer = false;
    }
  }

  /** Feeds one `signal.data` from the peer; signals are applied strictly in order. */
  signal(data) {
    this.signals = this.signals.then(() => this.applySignal(data)).catch((err) => {
      console.warn('signal failed', err);
    });
  }

  async applySignal({ description, candidate } = {}) {
    if (this.closed) return;
    const pc = this.pc;
    if (description) {
      const collision =
        description.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      await pc.setRemoteDescription(description);
      if (description.type === 'offer') {
        await pc.setLocalDescription();
        this.sendSignal({ description: pc.localDescription.toJSON() });
      }
    } else if (candidate) {
      try {
        await pc.addIceCandidate(candidate);
      } catch (err) {
        if (!this.ignoreOffer) throw err;
      }
    }
  }

  get isOpen() {
    return !this.closed && this.dc.readyState === 'open';
  }

  /** Resolves when the data channel is open; rejects if it closes or takes too long. */
  ready() {
    if (this.isOpen) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('connection closed'));
    const timeout = new Promise((_, reject) => {
      setTimeout(() => reject(new Error('could not connect to the device')), OPEN_TIMEOUT_MS);
    });
    return Promise.race([this.opened, timeout]);
  }

  /** Largest binary message this channel takes. */
  maxMessageSize() {
    return this.pc.sctp?.maxMessageSize || 64 * 1024;
  }

  /** Resolves once bufferedAmount is at most `limit` bytes. */
  drain(limit) {
    if (this.dc.bufferedAmount <= limit) return Promise.resolve();
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
    clearInterval(this.pathTimer);
    clearTimeout(this.graceTimer);
    this.rejectOpen(new Error('connection closed'));
    try {
      this.dc.close();
      this.pc.close();
    } catch {
      /* already closed */
    }
    this.onClose(this);
  }
}

/** Keeps one PeerLink per remote peer id, creating them lazily. */
export class PeerManager {
  constructor(bus, signaling) {
    this.bus = bus;
    this.signaling = signaling;
    this.links = new Map();
    this.selfId = null;
    this.iceServers = [];
    this.onMessage = () => {};
    /** Called with every new PeerLink, before negotiation (room chat adds its channel). */
    this.onLink = () => {};
    bus.on('welcome', ({ id, iceServers }) => {
      this.closeAll();
      this.selfId = id;
      this.iceServers = iceServers;
    });
    bus.on('server:iceServers', (m) => this.setIceServers(m.iceServers));
    bus.on('disconnected', () => this.closeAll());
    bus.on('server:signal', (m) => this.onSignal(m));
    bus.on('server:peers', (m) => this.prune(m.peers));
  }

  get(peerId) {
    let link = this.links.get(peerId);
    if (!link) {
      if (!this.selfId) throw new Error('not connected to homedrop');
      link = new PeerLink({
        selfId: this.selfId,
        peerId,
        iceServers: this.iceServers,
        sendSignal: (data) => this.signaling.send({ type: 'signal', to: peerId, data }),
        onMessage: (l, data) => this.onMessage(l, data),
        onClose: (l) => this.forget(l),
        onPath: (l, path) => this.bus.emit('link:path', { peerId: l.peerId, path }),
      });
      this.links.set(peerId, link);
      this.onLink(link);
    }
    return link;
  }

  /** TURN credentials arrived or were renewed: for new links and the ones already open. */
  setIceServers(iceServers) {
    if (!Array.isArray(iceServers)) return;
    this.iceServers = iceServers;
    for (const link of this.links.values()) link.setIceServers(iceServers);
  }

  /** The path of the link to `peerId`, once known. */
  pathTo(peerId) {
    return this.links.get(peerId)?.path ?? null;
  }

  onSignal({ from, data }) {
    if (typeof from !== 'string' || !data || typeof data !== 'object') return;
    if (!this.selfId) return;
    this.get(from).signal(data);
  }

  forget(link) {
    if (this.links.get(link.peerId) === link) this.links.delete(link.peerId);
    this.bus.emit('link:closed', link.peerId);
  }

  prune(peers) {
    const ids = new Set((peers ?? []).map((p) => p.id));
    for (const [id, link] of this.links) if (!ids.has(id)) link.close();
  }

  closeAll() {
    for (const link of [...this.links.values()]) link.close();
  }
}
