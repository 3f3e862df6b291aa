// Rooms over signaling: create, join (by code, link or #room=CODE), leave, rejoin after a
// reconnect, and invitations from the home group. The codes joined are kept in
// sessionStorage so a reload rejoins them (the conversation's history is per room).
// ui/rooms.js and ui/room-invite.js render what this module emits and ask for actions
// with intents on the bus.
//
// Listens to the intents `room:create` ({capacity, snapOnJoin}), `room:join` (code),
// `room:leave` (code), `invite:send` ({code, peer}), `invite:reply` ({to, code, accept}).
// Emits `rooms:changed` (the rooms, [{code, capacity, members}]), `room:joined`
// ({code, capacity, members, snapOnJoin, fresh}), `room:left` (code), `room:invited`
// ({from, fromName, code}), and `notice` / `chat:system` lines.

import { ClientMsg, ServerMsg, serverEvent } from './protocol.js';

const CODE_RE = /^[A-Z0-9]{4,12}$/;
const SAVED_KEY = 'homedropRooms';
/** A saved room that does not answer a rejoin within this time no longer exists. */
const FORGET_AFTER_MS = 10000;

function savedCodes() {
  try {
    const v = JSON.parse(sessionStorage.getItem(SAVED_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((c) => typeof c === 'string' && CODE_RE.test(c)).slice(0, 8) : [];
  } catch {
    return [];
  }
}

/** Accepts "abc def", "ABCDEF" or a full link with #room=ABCDEF. */
export function parseRoomCode(raw) {
  const s = String(raw ?? '').trim();
  const m = s.match(/room=([A-Za-z0-9]+)/);
  const code = (m ? m[1] : s).toUpperCase().replace(/[^A-Z0-9]/g, '');
  return CODE_RE.test(code) ? code : null;
}

export function roomLink(code) {
  return `${location.origin}/#room=${code}`;
}

export class Rooms {
  constructor(bus, signaling) {
    this.bus = bus;
    this.sig = signaling;
    this.rooms = new Map(); // code -> {code, capacity, members}
    this.pendingJoin = null;
    this.rejoining = new Set(savedCodes());
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
    if (!this.sig.send(msg)) this.bus.emit('notice', { kind: 'error', text: 'Not connected to homedrop right now; try again in a moment.' });
  }

  /** Creates a room (capacity 2 to 50, else the server's default). */
  create(capacity, snapOnJoin = false) {
    const msg = { type: ClientMsg.roomCreate, snapOnJoin };
    if (Number.isInteger(capacity) && capacity >= 2 && capacity <= 50) msg.capacity = capacity;
    this.send(msg);
  }

  join(code) {
    if (this.rooms.has(code)) return;
    this.send({ type: ClientMsg.roomJoin, code });
  }

  /** Joins a room from #room=CODE when online (called at start and on hashchange). */
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
    for (const code of new Set(codes)) this.sig.send({ type: ClientMsg.roomJoin, code });
    // A room that no longer exists is forgotten instead of retried forever.
    clearTimeout(this.forgetTimer);
    this.forgetTimer = setTimeout(() => {
      this.rejoining.clear();
      this.save();
    }, FORGET_AFTER_MS);
  }

  joined({ code, capacity, members, snapOnJoin }) {
    if (typeof code !== 'string' || !CODE_RE.test(code)) return;
    const isNew = !this.rooms.has(code) && !this.rejoining.delete(code);
    this.rooms.set(code, { code, capacity, members });
    this.save();
    this.changed();
    if (isNew) this.bus.emit('notice', { kind: 'info', text: `You are in room ${code}.` });
    this.bus.emit('room:joined', { code, capacity, members, snapOnJoin: snapOnJoin === true, fresh: isNew });
  }

  left(code) {
    this.rooms.delete(code);
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
      sessionStorage.setItem(SAVED_KEY, JSON.stringify([...codes]));
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
