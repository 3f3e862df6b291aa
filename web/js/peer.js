// One RTCPeerConnection per pair of devices, negotiated with the "perfect negotiation" pattern
// over `signal` messages, carrying one negotiated data channel (id 0, "homedrop"). Either side
// may dial at any moment: on glare the roles from the two ids decide who gives way
// (docs/protocol.md, "Negotiation roles"). ICE servers are homedrop's own STUN/TURN; a failed
// ICE connection is restarted before giving up; the path in use (pathOf) is reported. No link
// is made to or from a browser without WebRTC (caps.js): its offers get `{unable}` back.

import { ClientMsg, ServerMsg, serverEvent } from './protocol.js';
import { certificates, remoteFingerprint } from './identity.js';
import { cannotConnect, hasWebRTC, refuseOffer, refusedText } from './caps.js';

const OPEN_TIMEOUT_MS = 25000;
/** ICE restarts tried in a row (without reconnecting) before a failed connection is closed. */
const MAX_ICE_RESTARTS = 3;
/** 'disconnected' this long counts as failed: Chromium may stay there for good (a relay candidate pending). */
const DISCONNECTED_GRACE_MS = 5000;
/** How often the selected candidate pair is re-read while a link is open. */
const PATH_POLL_MS = 3000;
const MAX_HELD_CANDIDATES = 64; // remote ICE candidates kept while they cannot be applied yet

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

/**
 * One connection to one peer. Events: `pc` (a new RTCPeerConnection, before negotiation: room
 * chat adds its channel), `message` (detail: data of the file channel), `path` (detail: the
 * path in use), `close`. Listeners go on before `start()`.
 */
export class PeerLink extends EventTarget {
  /** @param opts {selfId, peerId, iceServers, sendSignal(data)} */
  constructor(opts) {
    super();
    this.peerId = opts.peerId;
    this.polite = opts.selfId < opts.peerId;
    this.sendSignal = opts.sendSignal;
    this.path = null;
    this.restarts = 0;
    this.pathTimer = null;
    this.graceTimer = null;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.closed = false;
    this.signals = Promise.resolve();
    /** Remote candidates waiting for a remote description (see applyCandidate). */
    this.heldCandidates = [];
    this.stats = {
      sentCandidates: 0,
      receivedCandidates: 0,
      droppedCandidates: 0,
      ignoredOffers: 0,
      rollbacks: 0,
      replaced: 0,
    };
    this.iceServers = opts.iceServers;
    this.opened = new Promise((resolve, reject) => {
      this.resolveOpen = resolve;
      this.rejectOpen = reject;
    });
    this.opened.catch(() => {});
    /** Resolves to the other device's fingerprint (or null when it cannot be read). */
    this.identified = new Promise((resolve) => {
      this.resolveIdentified = resolve;
    });
  }

  /** Makes the first RTCPeerConnection (once the owner listens to the link's events). */
  start() {
    this.createPc();
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  /** A new RTCPeerConnection with the negotiated data channel (id 0). */
  createPc() {
    this.pc = new RTCPeerConnection({ iceServers: this.iceServers, certificates: certificates() });
    const dc = this.pc.createDataChannel('homedrop', { negotiated: true, id: 0, ordered: true });
    this.dc = dc;
    dc.binaryType = 'arraybuffer';
    // Set synchronously: a message arriving before a handler exists would be lost.
    dc.onmessage = (e) => this.emit('message', e.data);
    dc.onclose = () => this.close();
    dc.bufferedAmountLowThreshold = 256 * 1024;
    dc.onopen = () => {
      this.resolveOpen();
      this.watchPath();
      this.identify();
    };
    this.wirePc();
    this.emit('pc');
  }

  /** The polite side of a glare on the very first negotiation starts over with a fresh
   * RTCPeerConnection instead of rolling its offer back: in Chromium 156 ICE gathering begun
   * for a rolled-back offer hung in 3 of 12 glare rounds ('gathering', no candidate, even
   * after restartIce()), and then no pair is ever checked. Nothing was connected yet, so
   * nothing is lost; room chat re-adds its channel on the `pc` event. */
  replacePc() {
    const old = this.pc;
    const oldDc = this.dc;
    old.onnegotiationneeded = old.onicecandidate = null;
    old.onconnectionstatechange = old.oniceconnectionstatechange = null;
    oldDc.onmessage = oldDc.onclose = oldDc.onopen = null;
    this.makingOffer = false;
    this.heldCandidates = [];
    this.stats.replaced += 1;
    this.createPc();
    try {
      old.close();
    } catch {
      /* already closed */
    }
  }

  wirePc() {
    const pc = this.pc;
    pc.onnegotiationneeded = () => this.makeOffer();
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate) return;
      this.stats.sentCandidates += 1;
      this.sendSignal({ candidate: candidate.toJSON() });
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
    this.iceServers = iceServers;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    } catch (err) {
      console.warn('setConfiguration failed', err);
    }
  }

  /** Reads the other device's certificate fingerprint from the live connection (identity.js)
   * and emits `device` ({fingerprint, source}) once; `this.device` holds it. */
  async identify() {
    for (let tries = 0; tries < 30 && !this.closed && !this.device; tries++) {
      try {
        const id = await remoteFingerprint(this.pc, tries >= 20);
        if (id && !this.closed) {
          this.device = id.fingerprint;
          this.deviceSource = id.source;
          this.resolveIdentified(id.fingerprint);
          this.emit('device', id);
          return;
        }
      } catch {
        /* closed meanwhile */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.resolveIdentified(this.device ?? null);
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
        this.emit('path', path);
      }
    } catch {
      /* closed meanwhile */
    }
  }

  async makeOffer() {
    const pc = this.pc;
    // negotiationneeded is only meaningful in 'stable'; outside it an argument-less
    // setLocalDescription() would make an answer, not an offer.
    if (this.closed || pc.signalingState !== 'stable') return;
    try {
      this.makingOffer = true;
      await pc.setLocalDescription();
      const desc = pc.localDescription;
      // A colliding offer may have replaced this connection or rolled the offer back meanwhile
      // (polite side): send nothing then.
      if (pc === this.pc && desc?.type === 'offer') {
        this.trace('offer sent');
        this.sendSignal({ description: desc.toJSON() });
      }
    } catch (err) {
      console.warn('offer failed', err);
    } finally {
      if (pc === this.pc) this.makingOffer = false;
    }
  }

  /** Feeds one `signal.data` from the peer; signals are applied strictly in order. */
  signal(data) {
    this.signals = this.signals.then(() => this.applySignal(data)).catch((err) => {
      console.warn('signal failed', err);
    });
  }

  async applySignal({ description, candidate, unable } = {}) {
    if (this.closed) return;
    if (unable) return this.rejectOpen(new Error(refusedText()));
    if (description) await this.applyDescription(description);
    else if (candidate) await this.applyCandidate(candidate);
  }

  /** Perfect negotiation: on an offer collision the impolite side ignores the other's offer,
   * the polite side takes it: on a fresh connection the first time (see replacePc), later by
   * an implicit rollback in setRemoteDescription. */
  async applyDescription(description) {
    const collision =
      description.type === 'offer' && (this.makingOffer || this.pc.signalingState !== 'stable');
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) {
      this.stats.ignoredOffers += 1;
      this.trace('colliding offer ignored (impolite)');
      return;
    }
    if (collision && this.neverNegotiated()) {
      this.trace('own first offer dropped with its connection (polite)');
      this.replacePc();
    } else if (collision) {
      this.stats.rollbacks += 1;
      this.trace('own offer rolled back (polite)');
    }
    const pc = this.pc;
    await pc.setRemoteDescription(description);
    if (description.type === 'offer') {
      await pc.setLocalDescription();
      this.trace('answer sent');
      this.sendSignal({ description: pc.localDescription.toJSON() });
    }
    await this.flushCandidates();
  }

  /** True before any remote description was applied on the current connection. */
  neverNegotiated() {
    return !this.pc.remoteDescription && !this.pc.currentRemoteDescription;
  }

  /** Candidates wait while there is no remote description or while an offer was just
   * ignored (they most likely belong to it). Once a description is applied they are tried
   * against it: the ones of another ICE generation (the ignored offer's) are dropped quietly,
   * so nothing is lost should the other side's answer reuse the offer's credentials. */
  async applyCandidate(candidate) {
    this.stats.receivedCandidates += 1;
    if (this.ignoreOffer || !this.pc.remoteDescription) {
      if (this.heldCandidates.length < MAX_HELD_CANDIDATES) this.heldCandidates.push(candidate);
      return;
    }
    await this.addCandidate(candidate);
  }

  async flushCandidates() {
    const held = this.heldCandidates;
    this.heldCandidates = [];
    for (const c of held) await this.addCandidate(c);
  }

  async addCandidate(candidate) {
    const ufrag = /a=ice-ufrag:(\S+)/.exec(this.pc.remoteDescription?.sdp ?? '')?.[1];
    if (candidate.usernameFragment && ufrag && candidate.usernameFragment !== ufrag) {
      this.stats.droppedCandidates += 1;
      return;
    }
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      // A candidate of an abandoned offer or an older ICE generation: not an error.
      this.stats.droppedCandidates += 1;
      console.debug('homedrop: candidate dropped', err?.message);
    }
  }

  trace(what) {
    console.debug(`homedrop: negotiation ${this.polite ? 'polite' : 'impolite'} ${what}`);
  }

  /** Plain data for diagnostics (window.homedrop.state().links). */
  snapshot() {
    const pc = this.pc;
    return {
      peerId: this.peerId,
      polite: this.polite,
      signaling: pc.signalingState,
      ice: pc.iceConnectionState,
      gathering: pc.iceGatheringState,
      connection: pc.connectionState,
      channel: this.dc.readyState,
      device: this.device ?? null,
      deviceSource: this.deviceSource ?? null,
      ...this.stats,
    };
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

  /** Resolves once bufferedAmount is at most `low` bytes (at once if it already is). */
  drain(low) {
    if (this.dc.bufferedAmount <= low) return Promise.resolve();
    this.dc.bufferedAmountLowThreshold = Math.floor(low);
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
    this.resolveIdentified(this.device ?? null);
    try {
      this.dc.close();
      this.pc.close();
    } catch {
      /* already closed */
    }
    this.emit('close');
  }
}

/** Keeps one PeerLink per remote peer id, made lazily; a link whose peer left the store's
 * list is closed. Events: `link` (detail: a PeerLink with a new RTCPeerConnection, before
 * negotiation: room chat adds its channel), `message` ({link, data} of a file channel). On the
 * bus: `link:path` ({peerId, path}), `link:device` (the PeerLink, once the other device's
 * certificate fingerprint is known), `link:closed` (peerId). */
export class PeerManager extends EventTarget {
  constructor(bus, signaling, store) {
    super();
    this.bus = bus;
    this.signaling = signaling;
    this.store = store;
    this.links = new Map();
    this.selfId = null;
    this.iceServers = [];
    bus.on('welcome', ({ id, iceServers }) => {
      this.closeAll();
      this.selfId = id;
      this.iceServers = iceServers;
    });
    bus.on(serverEvent(ServerMsg.iceServers), (m) => this.setIceServers(m.iceServers));
    bus.on('disconnected', () => this.closeAll());
    bus.on(serverEvent(ServerMsg.signal), (m) => this.onSignal(m));
    store.addEventListener('change', (e) => this.prune(e.detail));
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  get(peerId) {
    let link = this.links.get(peerId);
    if (!link) {
      if (!this.selfId) throw new Error('not connected to homedrop');
      const why = cannotConnect(this.store.get(peerId));
      if (why) throw new Error(why);
      const l = new PeerLink({
        selfId: this.selfId,
        peerId,
        iceServers: this.iceServers,
        sendSignal: (data) => this.signaling.send({ type: ClientMsg.signal, to: peerId, data }),
      });
      l.addEventListener('message', (e) => this.emit('message', { link: l, data: e.detail }));
      l.addEventListener('close', () => this.forget(l));
      l.addEventListener('path', (e) => this.bus.emit('link:path', { peerId, path: e.detail }));
      l.addEventListener('pc', () => this.emit('link', l));
      l.addEventListener('device', () => this.bus.emit('link:device', l));
      l.start();
      this.links.set(peerId, l);
      link = l;
    }
    return link;
  }

  /** TURN credentials arrived or were renewed: for new links and the ones already open. */
  setIceServers(iceServers) {
    if (!Array.isArray(iceServers)) return;
    this.iceServers = iceServers;
    for (const link of this.links.values()) link.setIceServers(iceServers);
  }

  /** The open link whose other end presented certificate `device`, if any. */
  byDevice(device) {
    if (!device) return null;
    for (const l of this.links.values()) if (l.device === device && l.isOpen) return l;
    return null;
  }

  /** The path of the link to `peerId`, once known. */
  pathTo(peerId) {
    return this.links.get(peerId)?.path ?? null;
  }

  onSignal({ from, data }) {
    if (typeof from !== 'string' || !data || typeof data !== 'object') return;
    if (!this.selfId) return;
    if (!hasWebRTC()) return refuseOffer(data, (d) => this.signaling.send({ type: ClientMsg.signal, to: from, data: d }));
    this.get(from).signal(data);
  }

  forget(link) {
    if (this.links.get(link.peerId) === link) this.links.delete(link.peerId);
    this.bus.emit('link:closed', link.peerId);
  }

  prune(peers) {
    const ids = new Set(peers.map((p) => p.id));
    for (const [id, link] of this.links) if (!ids.has(id)) link.close();
  }

  /** Plain data for diagnostics, one entry per link. */
  snapshot() {
    return [...this.links.values()].map((l) => l.snapshot());
  }

  closeAll() {
    for (const link of [...this.links.values()]) link.close();
  }
}
