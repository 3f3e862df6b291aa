// Rooms: create, join by code or link (also #room=CODE), list with link, QR and leave.
// The codes joined are kept in sessionStorage so a reload rejoins them (the conversation's
// history is per room). Emits `room:joined` ({code, capacity, members, snapOnJoin, fresh})
// and `room:left` (code) for the conversation view.

import { h, $, qrImage, canCopy } from './dom.js';

const CODE_RE = /^[A-Z0-9]{4,12}$/;
const SAVED_KEY = 'homedropRooms';

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
    this.list = $('[data-room-list]');
    this.pendingJoin = null;
    this.rejoining = new Set(savedCodes());
    bus.on('server:roomJoined', (m) => this.joined(m));
    bus.on('server:roomLeft', (m) => this.left(m.code));
    bus.on('welcome', () => this.rejoin());
    this.wireForms();
  }

  wireForms() {
    $('.room-create-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const raw = $('[data-room-capacity]').value;
      this.create(raw === '' ? undefined : Number(raw), $('[data-room-snap-on-join]').checked);
    });
    const input = $('[data-room-code-input]');
    input.addEventListener('input', () => {
      // Codes are shown uppercased; pasted links are left alone.
      if (!/[/=:]/.test(input.value)) input.value = input.value.toUpperCase();
    });
    $('.room-join-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const code = parseRoomCode(input.value);
      if (!code) {
        this.bus.emit('notice', { kind: 'error', text: 'Enter a room code like ABC234, or paste a room link.' });
        return;
      }
      input.value = '';
      this.join(code);
    });
  }

  send(msg) {
    if (!this.sig.send(msg)) this.bus.emit('notice', { kind: 'error', text: 'Not connected to homedrop right now; try again in a moment.' });
  }

  /** Creates a room (capacity 2 to 50, else the server's default). */
  create(capacity, snapOnJoin = false) {
    const msg = { type: 'roomCreate', snapOnJoin };
    if (Number.isInteger(capacity) && capacity >= 2 && capacity <= 50) msg.capacity = capacity;
    this.send(msg);
  }

  join(code) {
    if (this.rooms.has(code)) return;
    this.send({ type: 'roomJoin', code });
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
    this.list.replaceChildren();
    for (const code of new Set(codes)) this.sig.send({ type: 'roomJoin', code });
    // A room that no longer exists is forgotten instead of retried forever.
    clearTimeout(this.forgetTimer);
    this.forgetTimer = setTimeout(() => {
      this.rejoining.clear();
      this.save();
    }, 10000);
  }

  joined({ code, capacity, members, snapOnJoin }) {
    if (typeof code !== 'string' || !CODE_RE.test(code)) return;
    const isNew = !this.rooms.has(code) && !this.rejoining.delete(code);
    this.rooms.set(code, { code, capacity, members });
    this.save();
    this.render();
    if (isNew) this.bus.emit('notice', { kind: 'info', text: `You are in room ${code}.` });
    this.bus.emit('room:joined', { code, capacity, members, snapOnJoin: snapOnJoin === true, fresh: isNew });
  }

  left(code) {
    this.rooms.delete(code);
    this.save();
    this.render();
    this.bus.emit('room:left', code);
  }

  save() {
    try {
      const codes = new Set([...this.rooms.keys(), ...this.rejoining]);
      sessionStorage.setItem(SAVED_KEY, JSON.stringify([...codes]));
    } catch {
      /* storage blocked */
    }
  }

  render() {
    this.list.replaceChildren(...[...this.rooms.values()].map((r) => this.item(r)));
  }

  item(r) {
    const link = roomLink(r.code);
    const leave = h('button', { type: 'button', class: 'button small', 'data-room-leave': true }, 'Leave');
    leave.addEventListener('click', () => this.send({ type: 'roomLeave', code: r.code }));
    const actions = h('div', { class: 'r-actions' }, leave);
    if (canCopy()) {
      const copy = h('button', { type: 'button', class: 'button small' }, 'Copy link');
      copy.addEventListener('click', () => navigator.clipboard.writeText(link).then(() => (copy.textContent = 'Copied'), () => {}));
      actions.prepend(copy);
    }
    return h(
      'li',
      { class: 'room', 'data-room': true, 'data-code': r.code },
      h('div', { class: 'room-info' },
        h('span', { class: 'room-code', text: r.code }),
        h('span', { class: 'room-meta', text: Number.isInteger(r.capacity) ? `up to ${r.capacity} devices` : '' }),
        h('a', { class: 'room-link', href: link, 'data-room-link': true, text: link }),
        actions),
      qrImage(link, 140),
    );
  }

  codes() {
    return [...this.rooms.keys()];
  }
}
