// Rooms over signaling: create, join (by code, link or #room=TOKEN), leave, rejoin after a
// reconnect, and invitations from the home group. The rooms joined are kept in
// sessionStorage so a reload rejoins them (the conversation's history is per room).
// A room has a 6-character code to type and a 32-hex token that links, QR codes and
// rejoining use: wrong codes spend a budget shared by everyone (docs/security.md), so
// while someone is guessing, typed codes are refused and tokens still work.
// ui/rooms.js and ui/room-invite.js render what this module emits and ask for actions
// with intents on the bus.
//
// Named rooms ("Family", for the household's devices: docs/protocol.md) are joined by name
// and remembered in localStorage: every connect rejoins them by name (a named room ends
// with its last member, so its code changes), and leaving one forgets it.
//
// Listens to the intents `room:create` ({capacity, snapOnJoin}), `room:join` (code),
// `room:joinNamed` (name), `room:leave` (code), `invite:send` ({code, peer}),
// `invite:reply` ({to, code, accept}).
// Emits `rooms:changed` (the rooms, [{code, token, capacity, members, name?}]), `room:joined`
// ({code, capacity, members, snapOnJoin, fresh, name?}), `room:left` (code), `room:invited`
// ({from, fromName, code}), and `notice` / `chat:system` lines.

import { ClientMsg, ErrorCode, ServerMsg, serverEvent } from './protocol.js';

const CODE_RE = /^[A-Z0-9]{4,12}$/;
const TOKEN_RE = /^[0-9a-f]{32}$/;
const SAVED_KEY = 'homedropRooms';
/** A saved room that does not answer a rejoin within this time no longer exists. */
const FORGET_AFTER_MS = 10000;
const NAMED_KEY = 'homedropNamedRooms';
const MAX_NAMED = 8;
export const MAX_ROOM_NAME_CHARS = 40;
const TEXT = {
  offline: 'Not connected to homedrop right now; try again in a moment.',
  notRejoined: 'Household rooms are not rejoined from here: ',
};

/** The same name however it is spelled (the server compares names the same way). */
export function nameKey(name) {
  return String(name).normalize('NFC').trim().toLowerCase();
}

/** The named rooms this device rejoins: their names as the server spelled them. */
function savedNames() {
  try {
    const v = JSON.parse(localStorage.getItem(NAMED_KEY) ?? '[]');
    if (!Array.isArray(v)) return [];
    return v.filter((n) => typeof n === 'string' && n.trim() && [...n].length <= MAX_ROOM_NAME_CHARS).slice(0, MAX_NAMED);
  } catch {
    return [];
  }
}

function storeNames(names) {
  try {
    localStorage.setItem(NAMED_KEY, JSON.stringify(names.slice(0, MAX_NAMED)));
  } catch {
    /* storage blocked */
  }
}

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
    this.names = new Map(); // code -> name, for the named rooms we are in
    this.rejoiningNames = new Set(); // name keys asked for by a rejoin
    this.askedName = false; // the user asked for a named room (its refusal is theirs to see)
    bus.on(serverEvent(ServerMsg.roomJoined), (m) => this.joined(m));
    bus.on(serverEvent(ServerMsg.error), (m) => m.ref === ClientMsg.roomJoinNamed && this.namedRefused(m));
    bus.on('room:joinNamed', (name) => this.joinNamed(name));
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
    if (!this.sig.send(msg)) this.bus.emit('notice', { kind: 'error', text: TEXT.offline });
  }

  /** Joins (or makes) the household's room called `name`. */
  joinNamed(name) {
    const key = nameKey(name);
    if (!key || [...this.names.values()].some((n) => nameKey(n) === key)) return;
    this.askedName = true;
    this.send({ type: ClientMsg.roomJoinNamed, name: String(name).trim() });
  }

  /** A named room was refused: said when the user asked; a rejoin says it once, quietly. */
  namedRefused(m) {
    const text = typeof m.message === 'string' ? m.message : '';
    if (this.askedName) this.bus.emit('notice', { kind: 'error', text });
    else if (m.code === ErrorCode.notAllowed) this.bus.emit('notice', { kind: 'info', text: TEXT.notRejoined + text });
    this.askedName = false;
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
    // Named rooms by name: the room may have ended and been made again with a new code.
    const codes = [...this.rooms.keys(), ...this.rejoining].filter((c) => !this.names.has(c));
    this.rejoining = new Set(codes);
    if (this.pendingJoin) codes.push(this.pendingJoin);
    this.pendingJoin = null;
    // A named room that ended meanwhile comes back with a new code: its old one is gone.
    for (const code of this.names.keys()) this.bus.emit('room:left', code);
    this.rooms.clear();
    this.names.clear();
    this.changed();
    const names = savedNames();
    this.rejoiningNames = new Set(names.map(nameKey));
    this.askedName = false;
    for (const name of names) this.sig.send({ type: ClientMsg.roomJoinNamed, name });
    // By token where known: a rejoin is no guess, and is not refused while others guess.
    for (const code of new Set(codes)) this.sig.send({ type: ClientMsg.roomJoin, code: this.tokens.get(code) ?? code });
    // A room that no longer exists is forgotten instead of retried forever.
    clearTimeout(this.forgetTimer);
    this.forgetTimer = setTimeout(() => {
      this.rejoining.clear();
      this.save();
    }, FORGET_AFTER_MS);
  }

  joined({ code, token, capacity, members, snapOnJoin, name }) {
    if (typeof code !== 'string' || !CODE_RE.test(code)) return;
    name = typeof name === 'string' && name.trim() ? name : undefined;
    const rejoined = name ? this.rejoiningNames.delete(nameKey(name)) : this.rejoining.delete(code);
    const isNew = !this.rooms.has(code) && !rejoined;
    if (name) {
      this.names.set(code, name);
      this.remember(name);
      this.askedName = false;
    }
    if (typeof token === 'string' && TOKEN_RE.test(token)) this.tokens.set(code, token);
    this.rooms.set(code, { code, token: this.tokens.get(code), capacity, members, name });
    this.save();
    this.changed();
    if (isNew) this.bus.emit('notice', { kind: 'info', text: name ? `You are in the room ${name}.` : `You are in room ${code}.` });
    this.bus.emit('room:joined', { code, capacity, members, snapOnJoin: snapOnJoin === true, fresh: isNew, name });
  }

  /** Keeps a named room for the next connect (once per name, newest spelling). */
  remember(name) {
    const others = savedNames().filter((n) => nameKey(n) !== nameKey(name));
    storeNames([...others, name]);
  }

  left(code) {
    const name = this.names.get(code);
    if (name) storeNames(savedNames().filter((n) => nameKey(n) !== nameKey(name)));
    this.names.delete(code);
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
      const codes = new Set([...this.rooms.keys(), ...this.rejoining].filter((c) => !this.names.has(c)));
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
    this.bus.emit('chat:system', { room: code, text: `Invitation sent to ${peer.name}.` });
  }

  invited({ from, fromName, code }) {
    if (typeof from !== 'string' || typeof code !== 'string') return;
    this.bus.emit('room:invited', { from, fromName: String(fromName ?? 'A device'), code });
  }

  answered({ fromName, code, accept }) {
    const name = String(fromName ?? 'The device');
    const text = accept ? `${name} accepted the invitation.` : `${name} declined the invitation.`;
    this.bus.emit('notice', { kind: accept ? 'info' : 'error', text });
    this.bus.emit('chat:system', { room: code, text, attrs: { 'data-invite-answer': true, 'data-accept': String(!!accept), 'data-from': name } });
  }
}
