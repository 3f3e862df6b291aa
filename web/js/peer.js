// One RTCPeerConnection per pair of devices, negotiated with the "perfect negotiation"
// pattern over `signal` messages, carrying one negotiated data channel (id 0, "homedrop").

const OPEN_TIMEOUT_MS = 25000;

export class PeerLink {
  /**
   * @param opts {selfId, peerId, iceServers, sendSignal(data), onMessage(link, data), onClose(link)}
   */
  constructor(opts) {
    this.peerId = opts.peerId;
    this.polite = opts.selfId < opts.peerId;
    this.sendSignal = opts.sendSignal;
    this.onMessage = opts.onMessage;
    this.onClose = opts.onClose;
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
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.close();
    };
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
      });
      this.links.set(peerId, link);
      this.onLink(link);
    }
    return link;
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
