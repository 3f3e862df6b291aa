// Screen sharing, browser to browser and out of the file-transfer path. Every peer connection
// gets one more negotiated data channel, `screen` (id 2, beside the file channel 0 and room
// chat 1); a share opens a SECOND RTCPeerConnection per receiving device, send-only on the
// sharing side, whose offer, answer and ICE candidates travel over that channel. The server
// never sees any of it (no new signaling message), and the media connection's DTLS fingerprint
// arrives over a channel that is itself DTLS-protected end to end.
//
// One captured stream at a time per device (getDisplayMedia, video only); it goes to one
// device or to every member of a room, at most MAX_RECEIVERS devices. Either side may stop:
// the receiver's stop ends its own session (the capture stops once no receiver is left), the
// sharer's stop, or the browser's own "Stop sharing" (the track's `ended`), ends them all.
//
// Listens to the intents `screen:share` ({peerId} or {room}), `screen:stop` (a sid, or
// nothing: the outgoing share), `link:closed`. Emits `screen:changed` (this.view()) and
// `notice` (errors, and an incoming share).

import { randomId } from './events.js';
import { ScreenMsg, parseMessage } from './protocol.js';

export const MAX_RECEIVERS = 8;
/** Shares shown at once on this device (one per sending device). */
const MAX_VIEWS = 4;
const MAX_FRAME = 64 * 1024;
const MAX_HELD_CANDIDATES = 64;
const OPEN_WAIT_MS = 15000;
const SID_RE = /^[0-9a-f]{16}$/;

const TEXT = Object.freeze({
  unsupported: 'This browser cannot share its screen.',
  noReceivers: 'Nobody to share the screen with.',
  tooMany: `A screen goes to ${MAX_RECEIVERS} devices at most.`,
  failed: (name) => `Could not share the screen with ${name}.`,
  denied: 'Screen sharing was not allowed.',
  incoming: (name) => `${name} is sharing a screen with you.`,
});

/** True where this page can capture a screen: a secure context with getDisplayMedia, and not
 * a touch-only device (phones and tablets do not share screens). */
export function canShareScreen() {
  if (typeof navigator.mediaDevices?.getDisplayMedia !== 'function') return false;
  const touchOnly = navigator.maxTouchPoints > 0 && !matchMedia('(any-pointer: fine)').matches;
  return !touchOnly;
}

function sendOn(dc, msg) {
  if (dc?.readyState !== 'open') return;
  try {
    dc.send(JSON.stringify(msg));
  } catch {
    /* closed meanwhile: link:closed ends the session */
  }
}

export class ScreenShare {
  /** @param peers the PeerManager, @param store the PeerStore */
  constructor(bus, peers, store) {
    this.bus = bus;
    this.peers = peers;
    this.store = store;
    this.byLink = new WeakMap(); // PeerLink -> its `screen` RTCDataChannel
    this.out = null; // {stream, track, sessions: Map(peerId -> session)}
    this.views = new Map(); // peerId -> incoming session
    this.lastTrack = null; // the last captured track (diagnostics: was it stopped?)
    peers.addEventListener('link', (e) => this.attach(e.detail));
    bus.on('screen:share', (target) => this.share(target ?? {}));
    bus.on('screen:stop', (sid) => (sid ? this.stopSession(sid, true) : this.stopShare()));
    bus.on('link:closed', (peerId) => this.dropPeer(peerId));
  }

  /** Adds the `screen` channel to a new peer connection (both sides do the same). */
  attach(link) {
    const dc = link.pc.createDataChannel('screen', { negotiated: true, id: 2, ordered: true });
    this.byLink.set(link, dc);
    dc.onmessage = (e) => this.onFrame(link, e.data);
  }

  changed() {
    this.bus.emit('screen:changed', this.view());
  }

  /** What the UI renders: {sharing: [{peerId, name}] | null, views: [{sid, peerId, name, stream}]}. */
  view() {
    const name = (id) => this.store.get(id)?.name ?? 'A device';
    return {
      sharing: this.out ? [...this.out.sessions.keys()].map((peerId) => ({ peerId, name: name(peerId) })) : null,
      views: [...this.views.values()].map((s) => ({ sid: s.sid, peerId: s.peerId, name: name(s.peerId), stream: s.stream })),
    };
  }

  /** Plain data for diagnostics (window.homedrop.state().screen). */
  snapshot() {
    const v = this.view();
    return {
      sharing: v.sharing?.map((r) => r.peerId) ?? null,
      views: v.views.map((s) => ({ sid: s.sid, peerId: s.peerId })),
      track: this.lastTrack?.readyState ?? null,
    };
  }

  // ---- sharing ----

  /** Shares the screen with one device or a room's members; adds them to a running share. */
  async share({ peerId, room }) {
    const targets = room ? this.store.members(room).map((p) => p.id) : [peerId].filter((id) => this.store.get(id));
    if (!canShareScreen()) return this.notice(TEXT.unsupported);
    if (!targets.length) return this.notice(TEXT.noReceivers);
    if (!this.out) await this.capture();
    if (!this.out) return; // refused, or already ended
    for (const id of targets) {
      if (this.out.sessions.has(id)) continue;
      if (this.out.sessions.size >= MAX_RECEIVERS) {
        this.notice(TEXT.tooMany);
        break;
      }
      this.offerTo(id);
    }
    // Nobody could be asked (not connected): do not keep capturing for no one.
    if (this.out.sessions.size === 0) this.stopShare();
    this.changed();
  }

  /** Asks the user for a screen or window; this.out holds it unless refused. */
  async capture() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (err) {
      this.notice(err?.name === 'NotAllowedError' ? TEXT.denied : `${TEXT.denied} (${err?.message ?? err})`);
      return;
    }
    if (this.out) {
      // Two clicks raced: keep the first capture.
      for (const t of stream.getTracks()) t.stop();
      return;
    }
    const track = stream.getVideoTracks()[0];
    if ('contentHint' in track) track.contentHint = 'detail';
    // The browser's own "Stop sharing" button.
    track.addEventListener('ended', () => this.stopShare());
    this.out = { stream, track, sessions: new Map() };
    this.lastTrack = track;
  }

  /** One send-only media connection to `peerId`, negotiated over the screen channel. */
  offerTo(peerId) {
    let link;
    try {
      link = this.peers.get(peerId);
    } catch (err) {
      return this.notice(err.message);
    }
    const s = this.session(link, randomId(8), 'send');
    this.out.sessions.set(peerId, s);
    s.pc.addTransceiver(this.out.track, { direction: 'sendonly', streams: [this.out.stream] });
    const run = async () => {
      const dc = await this.channel(link);
      s.dc = dc;
      await s.pc.setLocalDescription();
      this.send(s, { type: ScreenMsg.offer, sid: s.sid, sdp: s.pc.localDescription.sdp });
    };
    this.queue(s, run, () => this.notice(TEXT.failed(this.store.get(peerId)?.name ?? 'the device')));
  }

  /** The screen channel of `link` once it is open (bounded wait). */
  async channel(link) {
    await link.ready();
    const dc = this.byLink.get(link);
    if (!dc) throw new Error('no screen channel');
    if (dc.readyState === 'open') return dc;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('screen channel did not open')), OPEN_WAIT_MS);
      dc.addEventListener('open', () => (clearTimeout(timer), resolve()), { once: true });
      dc.addEventListener('close', () => (clearTimeout(timer), reject(new Error('closed'))), { once: true });
    });
    return dc;
  }

  /** A media session with `link`'s peer: its own RTCPeerConnection, ICE over the channel. */
  session(link, sid, role) {
    const pc = new RTCPeerConnection({ iceServers: link.iceServers });
    const s = { sid, role, peerId: link.peerId, link, pc, dc: this.byLink.get(link), stream: null, held: [], ended: false };
    s.chain = Promise.resolve();
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.queue(s, () => this.send(s, { type: ScreenMsg.ice, sid, candidate: candidate.toJSON() }));
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.endSession(s, true);
    };
    return s;
  }

  /** Runs `step` after the session's earlier steps (descriptions and candidates apply in
   * order); a failed step ends the session. */
  queue(s, step, onError = () => {}) {
    s.chain = s.chain.then(step).catch((err) => {
      if (s.ended) return;
      console.warn('homedrop: screen session failed', err);
      onError(err);
      this.endSession(s, true);
    });
  }

  send(s, msg) {
    if (!s.ended) sendOn(s.dc, msg);
  }

  /** Stops the outgoing share: every receiver is told, the capture ends. */
  stopShare() {
    const out = this.out;
    if (!out) return;
    this.out = null;
    for (const s of out.sessions.values()) this.endSession(s, true);
    for (const t of out.stream.getTracks()) t.stop();
    this.changed();
  }

  // ---- sessions, both roles ----

  sessionBySid(sid) {
    for (const s of this.out?.sessions.values() ?? []) if (s.sid === sid) return s;
    for (const s of this.views.values()) if (s.sid === sid) return s;
    return null;
  }

  /** The user stopped one session (a viewer's stop button, or the sharer's for one device). */
  stopSession(sid, tell) {
    const s = this.sessionBySid(sid);
    if (s) this.endSession(s, tell);
  }

  /** Ends a session, telling the other side when `tell`; the last receiver gone ends the share. */
  endSession(s, tell) {
    if (s.ended) return;
    if (tell) this.send(s, { type: ScreenMsg.stop, sid: s.sid });
    s.ended = true;
    try {
      s.pc.close();
    } catch {
      /* already closed */
    }
    if (s.role === 'send' && this.out?.sessions.get(s.peerId) === s) {
      this.out.sessions.delete(s.peerId);
      if (this.out.sessions.size === 0) this.stopShare();
    }
    if (s.role === 'view' && this.views.get(s.peerId) === s) this.views.delete(s.peerId);
    this.changed();
  }

  dropPeer(peerId) {
    const s = this.out?.sessions.get(peerId);
    if (s) this.endSession(s, false);
    const v = this.views.get(peerId);
    if (v) this.endSession(v, false);
  }

  // ---- incoming ----

  onFrame(link, data) {
    if (typeof data !== 'string' || data.length > MAX_FRAME) return;
    const m = parseMessage(data);
    if (!m || typeof m.sid !== 'string' || !SID_RE.test(m.sid)) return;
    if (m.type === ScreenMsg.offer) return this.onOffer(link, m);
    const s = this.sessionBySid(m.sid);
    if (!s || s.peerId !== link.peerId) return;
    if (m.type === ScreenMsg.stop) this.endSession(s, false);
    else if (m.type === ScreenMsg.answer && s.role === 'send' && typeof m.sdp === 'string') {
      this.queue(s, async () => {
        await s.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        await this.flush(s);
      });
    } else if (m.type === ScreenMsg.ice && m.candidate && typeof m.candidate === 'object') {
      this.queue(s, () => this.addCandidate(s, m.candidate));
    }
  }

  /** A device shares its screen with us: a receive-only session, shown at once. */
  onOffer(link, m) {
    if (typeof m.sdp !== 'string' || !this.store.get(link.peerId)) return;
    const old = this.views.get(link.peerId);
    if (old) this.endSession(old, true); // one share per sending device: the newest wins
    if (this.views.size >= MAX_VIEWS) {
      sendOn(this.byLink.get(link), { type: ScreenMsg.stop, sid: m.sid });
      return;
    }
    const s = this.session(link, m.sid, 'view');
    this.views.set(link.peerId, s);
    if (!old) this.bus.emit('notice', { kind: 'info', text: TEXT.incoming(this.store.get(link.peerId)?.name ?? 'A device') });
    if (!old) this.bus.emit('view:show', { view: 'devices' }); // the viewer is in the devices view
    s.pc.ontrack = (e) => {
      s.stream = e.streams[0] ?? new MediaStream([e.track]);
      this.changed();
    };
    this.queue(s, async () => {
      await s.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      await s.pc.setLocalDescription();
      this.send(s, { type: ScreenMsg.answer, sid: s.sid, sdp: s.pc.localDescription.sdp });
      await this.flush(s);
    });
    this.changed();
  }

  async addCandidate(s, candidate) {
    if (!s.pc.remoteDescription) {
      if (s.held.length < MAX_HELD_CANDIDATES) s.held.push(candidate);
      return;
    }
    try {
      await s.pc.addIceCandidate(candidate);
    } catch (err) {
      console.debug('homedrop: screen candidate dropped', err?.message);
    }
  }

  async flush(s) {
    const held = s.held;
    s.held = [];
    for (const c of held) await this.addCandidate(s, c);
  }

  notice(text) {
    this.bus.emit('notice', { kind: 'error', text });
  }
}
