// Invitations (data-invite-*): invite a device of the home group into the current room;
// an invited device gets a dialog to accept or decline; the answer is shown to the inviter.
// Renders the PeerStore and `room:current`, shows `room:invited` (rooms.js), and asks with
// the intents `invite:send` ({code, peer}) and `invite:reply` ({to, code, accept}).

import { h, $ } from './dom.js';
import { t } from '../i18n.js';

export class RoomInvites {
  constructor(bus, store) {
    this.bus = bus;
    this.store = store;
    this.current = null; // the room code shown
    this.list = $('[data-invite-list]');
    store.addEventListener('change', () => this.render());
    bus.on('room:current', (code) => {
      this.current = code;
      this.render();
    });
    bus.on('room:invited', (m) => this.invited(m));
  }

  /** Home devices not yet in the current room. */
  render() {
    const code = this.current;
    $('[data-invite-box]').hidden = !code;
    if (!code) return this.list.replaceChildren();
    const home = this.store.invitable(code);
    this.list.replaceChildren(
      ...home.map((p) => {
        const b = h('button', { type: 'button', class: 'button small', 'data-invite-peer': true, 'data-peer-id': p.id, 'data-peer-name': p.name }, String(p.name ?? ''));
        b.addEventListener('click', () => this.bus.emit('invite:send', { code, peer: p }));
        return b;
      }),
    );
    if (!home.length) this.list.append(h('span', { class: 'hint', text: t('invite.nobody') }));
  }

  invited({ from, fromName: name, code }) {
    const accept = h('button', { type: 'button', class: 'button primary', 'data-invite-accept': true }, t('invite.join'));
    const decline = h('button', { type: 'button', class: 'button', 'data-invite-decline': true }, t('request.decline'));
    const dlg = h(
      'dialog',
      { class: 'dialog invite', role: 'alertdialog', 'data-invite': true, 'data-code': code, 'data-from': name, 'aria-label': t('invite.title'), 'aria-describedby': `invite-${code}` },
      h('h2', { text: t('invite.title') }),
      h('p', { id: `invite-${code}` }, h('strong', { text: name }), ' ', t('invite.text', { code })),
      h('div', { class: 'dialog-actions' }, decline, accept),
    );
    const answer = (yes) => {
      this.bus.emit('invite:reply', { to: from, code, accept: yes });
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
}
