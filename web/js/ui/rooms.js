// The room list and forms: create, join by code or link, and one item per room with its
// link and QR code (both carry the room's token, not its code) and a leave button. Renders `rooms:changed` from rooms.js and asks for
// actions with the intents `room:create`, `room:join` and `room:leave`.

import { h, $, qrImage, canCopy } from './dom.js';
import { parseRoomCode, roomLink } from '../rooms.js';
import { t } from '../i18n.js';

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
        this.bus.emit('notice', { kind: 'error', text: t('room.codeInvalid') });
        return;
      }
      input.value = '';
      this.bus.emit('room:join', code);
    });
  }

  render(rooms) {
    this.list.replaceChildren(...rooms.map((r) => this.item(r)));
  }

  item(r) {
    const link = roomLink(r);
    const leave = h('button', { type: 'button', class: 'button small', 'data-room-leave': true }, t('room.leave'));
    leave.addEventListener('click', () => this.bus.emit('room:leave', r.code));
    const actions = h('div', { class: 'r-actions' }, leave);
    if (canCopy()) {
      const copy = h('button', { type: 'button', class: 'button small' }, t('room.copyLink'));
      copy.addEventListener('click', () => navigator.clipboard.writeText(link).then(() => (copy.textContent = t('inbox.copied')), () => {}));
      actions.prepend(copy);
    }
    return h(
      'li',
      { class: 'room', 'data-room': true, 'data-code': r.code },
      h('div', { class: 'room-info' },
        h('span', { class: 'room-code', text: r.code }),
        h('span', { class: 'room-meta', text: Number.isInteger(r.capacity) ? t('room.capacity', { count: r.capacity }) : '' }),
        h('a', { class: 'room-link', href: link, 'data-room-link': true, text: link }),
        actions),
      qrImage(link, 140),
    );
  }
}
