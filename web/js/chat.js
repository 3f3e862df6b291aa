// Room conversations over a mesh of data channels: one ordered channel labelled `chat`
// (negotiated, id 1) on every peer connection, beside the file channel (id 0). The server
// never sees a message: text, profiles and pings go browser to browser.
// Photos, audio and files of a room go through the ordinary transfer machinery, one
// transfer per member, announced first on the chat channel (`media`) so that the receiver
// accepts them without asking (room members share media freely; see docs/protocol.md).

import { randomId } from './events.js';
import { validThumb } from './thumbs.js';
import { cleanName } from './names.js';
import { ChatMsg, parseMessage } from './protocol.js';
import { cannotConnect } from './caps.js';

export const MAX_CHAT_TEXT = 16 * 1024;
/** Room media larger than this is offered with the usual accept / decline dialog. */
export const MAX_AUTO_ACCEPT_BYTES = 200 * 1024 * 1024;
const MAX_FRAME = 64 * 1024;
const OPEN_WAIT_MS = 15000;
const PING_TIMEOUT_MS = 5000;
const KINDS = new Set(['photo', 'audio', 'file']);
const ID_RE = /^[0-9a-f]{8,64}$/;
const CODE_RE = /^[A-Z0-9]{4,12}$/;
/** A member's clock this far off is not believed: its message gets the local time. */
const MAX_SKEW_MS = 24 * 3600 * 1000;

/** The author's time of a live message (all members order by it), if believable. */
function authorTime(ts) {
  const now = Date.now();
  return Number.isSafeInteger(ts) && Math.abs(ts - now) <= MAX_SKEW_MS ? ts : now;
}

/** An avatar is an emoji (a short string) or a ≤ 64 px JPEG data URL. */
export function cleanAvatar(a) {
  if (!a || typeof a !== 'object') return null;
  if (typeof a.image === 'string' && validThumb(a.image)) return { image: a.image };
  // eslint-disable-next-line no-control-regex
  if (typeof a.emoji === 'string' && a.emoji.length <= 16 && !/[\u0000-\u001f<>]/.test(a.emoji) && a.emoji.trim()) {
    return { emoji: a.emoji.trim() };
  }
  return null;
}

/**
 * Bus events: `chat:message` (record), `chat:profile` (peerId), `chat:open` (peerId),
 * `chat:sync` ({peerId, m}: a named room's history frame for room-sync.js); listens
 * to `profile:changed` (name or avatar changed: tell every member).
 * Who is in which room comes from the PeerStore; the chat channel of each link is kept in a
 * WeakMap keyed by the PeerLink.
 * Records: {room, id, from ('self' or peer id), name, avatar, ts, kind
 * ('text'/'photo'/'audio'/'file'), text?, fileName?, size?, mime?, tids?}.
 */
export class Chat {
  /** @param env {selfName(), avatar(), rooms()} */
  constructor(bus, peers, transfers, store, env) {
    this.bus = bus;
    this.peers = peers;
    this.transfers = transfers;
    this.store = store;
    this.env = env;
    this.byLink = new WeakMap(); // PeerLink -> its current chat RTCDataChannel
    this.channels = new Map(); // peerId -> open RTCDataChannel
    this.profiles = new Map(); // peerId -> {name, avatar}
    this.expected = new Map(); // tid -> {peerId, size} announced room media
    this.pings = new Map(); // nonce -> resolve
    peers.addEventListener('link', (e) => this.attach(e.detail));
    store.addEventListener('change', () => this.connectMembers());
    bus.on('transfer:request', (t) => this.maybeAccept(t));
    bus.on('profile:changed', () => this.broadcastProfile());
    // A lost connection to a member is dialled again (by the same rule as at first).
    bus.on('link:closed', () => setTimeout(() => this.connectMembers(), 1000));
  }

  /** Adds the `chat` channel to a new peer connection (both sides do the same). */
  attach(link) {
    const dc = link.pc.createDataChannel('chat', { negotiated: true, id: 1, ordered: true });
    this.byLink.set(link, dc);
    dc.onmessage = (e) => this.onFrame(link.peerId, e.data);
    dc.onopen = () => {
      this.channels.set(link.peerId, dc);
      this.sendProfileTo(dc);
      this.bus.emit('chat:open', link.peerId);
    };
    dc.onclose = () => {
      if (this.channels.get(link.peerId) === dc) this.channels.delete(link.peerId);
    };
  }

  /** Is the chat channel to this peer open? */
  isOpen(peerId) {
    return this.channels.get(peerId)?.readyState === 'open';
  }

  /** Sends one frame (an object) on the open chat channel to a peer; false if none. */
  sendTo(peerId, msg) {
    const dc = this.channels.get(peerId);
    try {
      dc.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  /** Members of room `code` other than this device, from the server's peer list. */
  members(code) {
    return this.store.members(code);
  }

  /**
   * Keeps a connection (and so a chat channel) to every member of every room we are in.
   * Both sides dial: two devices that see each other join at the same moment both offer at
   * once, and peer.js resolves that glare (perfect negotiation, see docs/protocol.md).
   */
  connectMembers() {
    if (!this.peers.selfId) return;
    for (const code of this.env.rooms()) {
      for (const p of this.members(code)) {
        if (!this.peers.links.has(p.id) && !cannotConnect(p)) this.peers.get(p.id);
      }
    }
  }

  profile() {
    return { type: ChatMsg.profile, name: this.env.selfName(), avatar: this.env.avatar() };
  }

  sendProfileTo(dc) {
    try {
      dc.send(JSON.stringify(this.profile()));
    } catch {
      /* closed meanwhile */
    }
  }

  broadcastProfile() {
    for (const dc of this.channels.values()) this.sendProfileTo(dc);
  }

  nameOf(peerId) {
    // The profile travels on the same ordered channel as the messages, so a `/nick` is
    // already known when the next message arrives (the server's list may lag behind).
    return this.profiles.get(peerId)?.name ?? this.store.get(peerId)?.name ?? 'Someone';
  }

  avatarOf(peerId) {
    return this.profiles.get(peerId)?.avatar ?? null;
  }

  /** The open chat channel to a peer, waiting for it to open (bounded). */
  async channel(peerId) {
    const open = this.channels.get(peerId);
    if (open?.readyState === 'open') return open;
    const link = this.peers.get(peerId);
    if (this.byLink.get(link)?.readyState === 'open') return this.byLink.get(link);
    // Waits for whichever chat channel opens: the polite side of a glare replaces its
    // connection (peer.js), and attach() then adds a new channel.
    await new Promise((resolve, reject) => {
      const off = this.bus.on('chat:open', (id) => {
        if (id !== peerId) return;
        off();
        clearTimeout(timer);
        resolve();
      });
      const timer = setTimeout(() => {
        off();
        // A connection that never opened is dropped so that the next attempt starts afresh.
        link.close();
        reject(new Error('could not reach the device'));
      }, OPEN_WAIT_MS);
    });
    return this.byLink.get(link);
  }

  /** Sends one message to every member of the room; failures are per member. */
  async toMembers(code, build) {
    const targets = this.members(code);
    const results = await Promise.allSettled(
      targets.map(async (p) => {
        const dc = await this.channel(p.id);
        dc.send(JSON.stringify(await build(p.id)));
        return p.id;
      }),
    );
    return results.filter((r) => r.status === 'rejected').length;
  }

  selfRecord(room, kind, extra) {
    return {
      room,
      id: randomId(8),
      from: 'self',
      name: this.env.selfName(),
      avatar: this.env.avatar(),
      ts: Date.now(),
      kind,
      ...extra,
    };
  }

  async sendText(room, text) {
    if (text.length > MAX_CHAT_TEXT) throw new Error('The message is too long (16 KiB at most).');
    const rec = this.selfRecord(room, 'text', { text });
    this.bus.emit('chat:message', rec);
    const failed = await this.toMembers(room, () => ({ type: ChatMsg.msg, room, id: rec.id, text, ts: rec.ts }));
    if (failed) this.bus.emit('notice', { kind: 'error', text: `The message did not reach ${failed} member(s).` });
  }

  /**
   * Sends a photo, audio or file to every member: once the member's chat channel is open,
   * one transfer each, announced on the chat channel before its offer goes out.
   * Emits `chat:transfer` ({room, id, tid}) for each transfer started.
   */
  sendMedia(room, file, kind) {
    const rec = this.selfRecord(room, kind, {
      fileName: file.name,
      size: file.size,
      mime: file.type || 'application/octet-stream',
      blob: file,
    });
    const members = this.members(room);
    rec.sending = members.length > 0; // shown with progress until every member has it
    this.bus.emit('chat:message', rec);
    for (const p of members) {
      this.channel(p.id)
        .then((dc) => {
          const t = this.transfers.sendFiles(p.id, [file]);
          const { name, size } = file;
          dc.send(JSON.stringify({ type: ChatMsg.media, room, id: rec.id, tid: t.tid, kind, name, size, mime: rec.mime, ts: rec.ts }));
          this.bus.emit('chat:transfer', { room, id: rec.id, tid: t.tid });
        })
        .catch(() => this.bus.emit('chat:system', { room, text: `Could not reach ${p.name}.` }));
    }
    return rec;
  }

  /** Round-trip time to each member over the chat channel: [{peerId, name, ms|null}]. */
  async ping(room) {
    return Promise.all(
      this.members(room).map(async (p) => {
        const start = performance.now();
        try {
          const dc = await this.channel(p.id);
          const nonce = randomId(8);
          const answered = new Promise((resolve, reject) => {
            this.pings.set(nonce, resolve);
            setTimeout(() => {
              this.pings.delete(nonce);
              reject(new Error('timeout'));
            }, PING_TIMEOUT_MS);
          });
          const sent = performance.now();
          dc.send(JSON.stringify({ type: ChatMsg.ping, nonce }));
          await answered;
          return { peerId: p.id, name: p.name, ms: performance.now() - sent };
        } catch {
          return { peerId: p.id, name: p.name, ms: null, waited: performance.now() - start };
        }
      }),
    );
  }

  /** Plain data for diagnostics (window.homedrop.state().chat). */
  snapshot() {
    return {
      channels: [...this.peers.links.values()].map((l) => ({ peerId: l.peerId, chat: this.byLink.get(l)?.readyState, pc: l.pc.connectionState })),
      members: Object.fromEntries(this.env.rooms().map((c) => [c, this.members(c).map((p) => p.id)])),
    };
  }

  // ---- incoming ----

  onFrame(peerId, data) {
    if (typeof data !== 'string' || data.length > MAX_FRAME) return;
    const m = parseMessage(data);
    if (!m) return;
    const dc = this.channels.get(peerId);
    if (m.type === ChatMsg.ping && typeof m.nonce === 'string') dc?.send(JSON.stringify({ type: ChatMsg.pong, nonce: m.nonce.slice(0, 32) }));
    else if (m.type === ChatMsg.pong) this.onPong(m.nonce);
    else if (m.type === ChatMsg.profile) this.onProfile(peerId, m);
    else if (!CODE_RE.test(m.room ?? '') || !this.store.isMember(peerId, m.room)) return;
    else if (m.type === ChatMsg.msg) this.onText(peerId, m);
    else if (m.type === ChatMsg.media) this.onMedia(peerId, m);
    else if (m.type === ChatMsg.sync || m.type === ChatMsg.history) this.bus.emit('chat:sync', { peerId, m });
  }

  onPong(nonce) {
    const resolve = this.pings.get(nonce);
    this.pings.delete(nonce);
    resolve?.();
  }

  onProfile(peerId, m) {
    const name = cleanName(m.name) ?? undefined;
    this.profiles.set(peerId, { name, avatar: cleanAvatar(m.avatar) });
    this.bus.emit('chat:profile', peerId);
  }

  peerRecord(peerId, m, kind, extra) {
    return {
      room: m.room,
      id: m.id,
      from: peerId,
      name: this.nameOf(peerId),
      avatar: this.avatarOf(peerId),
      ts: authorTime(m.ts),
      kind,
      ...extra,
    };
  }

  onText(peerId, m) {
    if (typeof m.text !== 'string' || m.text.length > MAX_CHAT_TEXT || !ID_RE.test(m.id ?? '')) return;
    this.bus.emit('chat:message', this.peerRecord(peerId, m, 'text', { text: m.text }));
  }

  onMedia(peerId, m) {
    if (!KINDS.has(m.kind) || !ID_RE.test(m.id ?? '') || typeof m.tid !== 'string' || m.tid.length > 64) return;
    if (!Number.isSafeInteger(m.size) || m.size < 0) return;
    const mime = typeof m.mime === 'string' && m.mime.length < 200 ? m.mime : '';
    // eslint-disable-next-line no-control-regex
    const fileName = String(m.name ?? 'file').replace(/[\u0000-\u001f\u007f/\\]/g, '_').slice(0, 255);
    if (this.expected.size >= 1000) this.expected.delete(this.expected.keys().next().value);
    this.expected.set(m.tid, { peerId, size: m.size });
    const rec = this.peerRecord(peerId, m, m.kind, { fileName, size: m.size, mime, tids: [m.tid] });
    this.bus.emit('chat:message', rec);
    const t = this.transfers.transfers.get(m.tid);
    if (t) this.maybeAccept(t);
  }

  /** Accepts an incoming transfer that a room member announced as room media. */
  maybeAccept(t) {
    const e = this.expected.get(t.tid);
    if (!e || t.direction !== 'receive' || t.state !== 'waiting' || t.peerId !== e.peerId) return;
    if (t.files.length !== 1 || t.files[0].size !== e.size || e.size > MAX_AUTO_ACCEPT_BYTES) return;
    if (t.warning) return; // a device whose certificate changed: its user is asked
    this.expected.delete(t.tid);
    this.transfers.accept(t.tid);
  }
}
