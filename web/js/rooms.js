// Rooms over signaling: create, join (by code, link or #room=TOKEN), leave, rejoin after a
// reconnect, and invitations from the home group. The rooms joined are kept in
// sessionStorage so a reload rejoins them (the conversation's history is per room).
// A room has a 6-character code to type and a 32-hex token that links, QR codes and
// rejoining use: wrong codes spend a budget shared by everyone (docs/security.md), so
// while someone is guessing, typed codes are refused and tokens still work.
// ui/rooms.js and ui/room-invite.js render what this module emits and ask for actions
// with intents on the bus.
//
// Listens to the intents `room:create` ({capacity, snapOnJoin}), `room:join` (code),
// `room:leave` (code), `invite:send` ({code, peer}), `invite:reply` ({to, code, accept}).
// Emits `rooms:changed` (the rooms, [{code, token, capacity, members}]), `room:joined`
// ({code, capacity, members, snapOnJoin, fresh}), `room:left` (code), `room:invited`
// ({from, fromName, code}), and `notice` / `chat:system` lines.

import { ClientMsg, ServerMsg, serverEvent } from './protocol.js';
import { t } from './i18n.js';

const CODE_RE = /^[A-Z0-9]{4,12}$/;
const TOKEN_RE = /^[0-9a-f]{32}$/;
const SAVED_KEY = 'homedropRooms';
/** A saved room that does not answer a rejoin within this time no longer exists. */
const FORGET_AFTER_MS = 10000;

/** The rooms saved for a reload: [{code, token}] (a bare code from an older page too). */
function savedRooms() {
  try {
    const v = JSON.parse(sessionStorage.getItem(SAVED_KEY) ?? '[]');
    if (!Array.isArray(v)) return [];
    return v
      .map((r) => (typeof r === 'string' ? { code: r } : r))
      .filter((r) => r && typeof r.code === 'string' && CODE_RE.test(r.code))
      .map((r) => ({ code: r.code, token: TOKEN_RE.test(r.token) ? r.token : undefined }))
      .slice(0, 8);
  } catch {
    return [];
  }
}

/** Accepts "abc def", "ABCDEF", a token, or a full link with #room=TOKEN (or =CODE). */
export function parseRoomCode(raw) {
  const s = String(raw ?? '').trim();
  const m = s.match(/room=([A-Za-z0-9]+)/);
  const found = m ? m[1] : s;
  if (TOKEN_RE.test(found.toLowerCase())) return found.toLowerCase();
  const code = found.toUpperCase().replace(/[^A-Z0-9]/g, '');
  return CODE_RE.test(code) ? code : null;
}

/** The room's link: its token when known (never refused while codes are being guessed). */
export function roomLink(room) {
  return `${location.origin}/#room=${room.token || room.code}`;
}

export class Rooms {
  constructor(bus, signaling) {
    this.bus = bus;
    this.sig = signaling;
    this.rooms = new Map(); // code -> {code, token, capacity, members}
    this.pendingJoin = null;
    const saved = savedRooms();
    this.tokens = new Map(saved.filter((r) => r.token).map((r) => [r.code, r.token])); // code -> token
    this.rejoining = new Set(saved.map((r) => r.code));
    bus.on(serverEvent(ServerMsg.roomJoined), (m) => this.joined(m));
    bus.on(serverEvent(ServerMsg.roomLeft), (m) => this.left(m.code));
    bus.on(serverEvent(ServerMsg.roomInvited), (m) => this.invited(m));
    bus.on(serverEvent(ServerMsg.roomInviteAnswer), (m) => this.answered(m));
    bus.on('welcome', () => this.rejoin());
    bus.on('room:create', ({ capacity, snapOnJoin }) => this.create(capacity, snapOnJoin));
    bus.on('room:join', (code) => this.join(code));
    bus.on('room:leave', (code) => this.send({ type: ClientMsg.roomLeave, code }));
    bus.on('invite:send', ({ code, peer }) => this.invite(code, peer));
    bus.on('invite:reply', ({ to, code, accept }) => {
      this.sig.send({ type: ClientMsg.roomInviteReply, to, code, accept });
    });
  }

  /** Sends a message the user asked for; offline, says so instead. */
  send(msg) {
    if (!this.sig.send(msg)) this.bus.emit('notice', { kind: 'error', text: t('error.offline') });
  }

  /** Creates a room (capacity 2 to 50, else the server's default). */
  create(capacity, snapOnJoin = false) {
    const msg = { type: ClientMsg.roomCreate, snapOnJoin };
    if (Number.isInteger(capacity) && capacity >= 2 && capacity <= 50) msg.capacity = capacity;
    this.send(msg);
  }

  /** Joins by code or token (roomJoin's `code` takes either). */
  join(code) {
    if (this.rooms.has(code) || [...this.rooms.values()].some((r) => r.token === code)) return;
    this.send({ type: ClientMsg.roomJoin, code });
  }

  /** Joins a room from #room=TOKEN (or CODE) when online (called at start and on hashchange). */
  joinFromFragment(code) {
    if (this.sig.online) this.join(code);
    else this.pendingJoin = code;
  }

  rejoin() {
    const codes = [...this.rooms.keys(), ...this.rejoining];
    this.rejoining = new Set(codes);
    if (this.pendingJoin) codes.push(this.pendingJoin);
    this.pendingJoin = null;
    this.rooms.clear();
    this.changed();
    // By token where known: a rejoin is no guess, and is not refused while others guess.
    for (const code of new Set(codes)) this.sig.send({ type: ClientMsg.roomJoin, code: this.tokens.get(code) ?? code });
    // A room that no longer exists is forgotten instead of retried forever.
    clearTimeout(this.forgetTimer);
    this.forgetTimer = setTimeout(() => {
      this.rejoining.clear();
      this.save();
    }, FORGET_AFTER_MS);
  }

  joined({ code, token, capacity, members, snapOnJoin }) {
    if (typeof code !== 'string' || !CODE_RE.test(code)) return;
    const isNew = !this.rooms.has(code) && !this.rejoining.delete(code);
    if (typeof token === 'string' && TOKEN_RE.test(token)) this.tokens.set(code, token);
    this.rooms.set(code, { code, token: this.tokens.get(code), capacity, members });
    this.save();
    this.changed();
    if (isNew) this.bus.emit('notice', { kind: 'info', text: t('room.joined', { code }) });
    this.bus.emit('room:joined', { code, capacity, members, snapOnJoin: snapOnJoin === true, fresh: isNew });
  }

  left(code) {
    this.rooms.delete(code);
    this.tokens.delete(code);
    this.save();
    this.changed();
    this.bus.emit('room:left', code);
  }

  changed() {
    this.bus.emit('rooms:changed', [...this.rooms.values()]);
  }

  save() {
    try {
      const codes = new Set([...this.rooms.keys(), ...this.rejoining]);
      sessionStorage.setItem(SAVED_KEY, JSON.stringify([...codes].map((code) => ({ code, token: this.tokens.get(code) }))));
    } catch {
      /* storage blocked */
    }
  }

  codes() {
    return [...this.rooms.keys()];
  }

  // ---- invitations ----

  invite(code, peer) {
    if (!this.sig.send({ type: ClientMsg.roomInvite, to: peer.id, code })) return;
    this.bus.emit('chat:system', { room: code, text: t('invite.sent', { name: peer.name }) });
  }

  invited({ from, fromName, code }) {
    if (typeof from !== 'string' || typeof code !== 'string') return;
    this.bus.emit('room:invited', { from, fromName: String(fromName ?? t('invite.someDevice')), code });
  }

  answered({ fromName, code, accept }) {
    const name = String(fromName ?? t('invite.theDevice'));
    const text = t(accept ? 'invite.accepted' : 'invite.declined', { name });
    this.bus.emit('notice', { kind: accept ? 'info' : 'error', text });
    this.bus.emit('chat:system', { room: code, text, attrs: { 'data-invite-answer': true, 'data-accept': String(!!accept), 'data-from': name } });
  }
}
