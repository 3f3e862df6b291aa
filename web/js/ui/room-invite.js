// Invitations (data-invite-*): invite a device of the home group into the current room;
// an invited device gets a dialog to accept or decline; the answer is shown to the inviter.

import { h, $ } from './dom.js';

export class RoomInvites {
  /** @param current () => the room code shown, or null */
  constructor(bus, signaling, current) {
    this.bus = bus;
    this.sig = signaling;
    this.current = current;
    this.peers = [];
    this.list = $('[data-invite-list]');
    bus.on('server:peers', (m) => {
      this.peers = Array.isArray(m.peers) ? m.peers : [];
      this.render();
    });
    bus.on('room:current', () => this.render());
    bus.on('server:roomInvited', (m) => this.invited(m));
    bus.on('server:roomInviteAnswer', (m) => this.answered(m));
  }

  /** Home devices not yet in the current room. */
  render() {
    const code = this.current();
    $('[data-invite-box]').hidden = !code;
    if (!code) return this.list.replaceChildren();
    const home = this.peers.filter((p) => {
      const links = p.links ?? [];
      return links.some((l) => l.via === 'home') && !links.some((l) => l.via === 'room' && l.code === code);
    });
    this.list.replaceChildren(
      ...home.map((p) => {
        const b = h('button', { type: 'button', class: 'button small', 'data-invite-peer': true, 'data-peer-id': p.id, 'data-peer-name': p.name }, String(p.name ?? ''));
        b.addEventListener('click', () => this.invite(code, p));
        return b;
      }),
    );
    if (!home.length) this.list.append(h('span', { class: 'hint', text: 'No other device at home.' }));
  }

  invite(code, p) {
    if (!this.sig.send({ type: 'roomInvite', to: p.id, code })) return;
    this.bus.emit('chat:system', { room: code, text: `Invitation sent to ${p.name}.` });
  }

  invited({ from, fromName, code }) {
    if (typeof from !== 'string' || typeof code !== 'string') return;
    const name = String(fromName ?? 'A device');
    const accept = h('button', { type: 'button', class: 'button primary', 'data-invite-accept': true }, 'Join');
    const decline = h('button', { type: 'button', class: 'button', 'data-invite-decline': true }, 'Decline');
    const dlg = h(
      'dialog',
      { class: 'dialog invite', 'data-invite': true, 'data-code': code, 'data-from': name, 'aria-label': 'Room invitation' },
      h('h2', { text: 'Room invitation' }),
      h('p', {}, h('strong', { text: name }), ` invites you to room ${code}.`),
      h('div', { class: 'dialog-actions' }, decline, accept),
    );
    const answer = (yes) => {
      this.sig.send({ type: 'roomInviteReply', to: from, code, accept: yes });
      dlg.close();
      dlg.remove();
    };
    accept.addEventListener('click', () => answer(true));
    decline.addEventListener('click', () => answer(false));
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      answer(false);
    });
    document.body.append(dlg);
    dlg.showModal();
  }

  answered({ fromName, code, accept }) {
    const name = String(fromName ?? 'The device');
    const text = accept ? `${name} accepted the invitation.` : `${name} declined the invitation.`;
    this.bus.emit('notice', { kind: accept ? 'info' : 'error', text });
    this.bus.emit('chat:system', { room: code, text, attrs: { 'data-invite-answer': true, 'data-accept': String(!!accept), 'data-from': name } });
  }
}
