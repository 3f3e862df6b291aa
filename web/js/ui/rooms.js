// The room list and forms: create, join by code or link, join the household's named room
// by name, and one item per room with its link and QR code (both carry the room's token,
// not its code) and a leave button; a named room shows its name instead (only the
// household may enter it, so it has no link to share). Renders `rooms:changed` from
// rooms.js and asks for actions with the intents `room:create`, `room:join`,
// `room:joinNamed` and `room:leave`.

import { h, $, qrImage, canCopy } from './dom.js';
import { parseRoomCode, roomLink, MAX_ROOM_NAME_CHARS } from '../rooms.js';

const TEXT = {
  badName: `Enter a room name of 1 to ${MAX_ROOM_NAME_CHARS} characters, like Family.`,
  named: 'Household room: your devices at home and paired ones rejoin it by themselves.',
};

export class RoomList {
  constructor(bus) {
    this.bus = bus;
    this.list = $('[data-room-list]');
    bus.on('rooms:changed', (rooms) => this.render(rooms));
    this.wireForms();
  }

  wireForms() {
    $('.room-create-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const raw = $('[data-room-capacity]').value;
      const capacity = raw === '' ? undefined : Number(raw);
      this.bus.emit('room:create', { capacity, snapOnJoin: $('[data-room-snap-on-join]').checked });
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
      this.bus.emit('room:join', code);
    });
    this.wireNamed();
  }

  wireNamed() {
    const input = $('[data-room-name-input]');
    const form = input?.closest('form');
    form?.addEventListener('submit', (e) => {
      e.preventDefault();
      const name = input.value.trim();
      if (!name || [...name].length > MAX_ROOM_NAME_CHARS) {
        this.bus.emit('notice', { kind: 'error', text: TEXT.badName });
        return;
      }
      input.value = '';
      this.bus.emit('room:joinNamed', name);
    });
  }

  render(rooms) {
    this.list.replaceChildren(...rooms.map((r) => this.item(r)));
  }

  leaveButton(r) {
    const leave = h('button', { type: 'button', class: 'button small', 'data-room-leave': true }, 'Leave');
    leave.addEventListener('click', () => this.bus.emit('room:leave', r.code));
    return leave;
  }

  /** A named room: its name and a leave button. */
  namedItem(r) {
    return h(
      'li',
      { class: 'room named', 'data-room': true, 'data-code': r.code, 'data-room-name': r.name },
      h('div', { class: 'room-info' },
        h('span', { class: 'room-name', text: r.name }),
        h('span', { class: 'room-meta', text: TEXT.named }),
        h('div', { class: 'r-actions' }, this.leaveButton(r))),
    );
  }

  item(r) {
    if (r.name) return this.namedItem(r);
    const link = roomLink(r);
    const leave = this.leaveButton(r);
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
}
