// Security codes (data-verify-card): one row per device this one is connected to, with its
// status and "Compare codes", which opens the code dialog (data-verify-dialog): the same
// 12 digits show on both devices when nobody is in between; "They match" marks the device
// verified (verify:confirm), "They differ" warns and drops the connection. Device tiles get
// data-verified / data-verify-warning and a badge. Renders `verify:update`.

import { h, $ } from './dom.js';

const STATUS_TEXT = {
  verified: '✓ Verified',
  changed: '⚠ Security code changed',
  unverified: 'Not verified',
};

export class VerifyView {
  /** @param verifier the Verifier (verify.js) @param store the PeerStore */
  constructor(bus, verifier, store, peers) {
    this.bus = bus;
    this.verifier = verifier;
    this.store = store;
    this.peers = peers;
    this.list = $('[data-verify-list]');
    this.empty = $('.verify-empty');
    bus.on('verify:update', () => this.render());
    bus.on('link:closed', () => this.render());
    store.addEventListener('change', () => this.render());
  }

  render() {
    const rows = [];
    for (const p of this.store.list()) {
      const status = this.verifier.statusOf(p.id);
      this.markTile(p.id, status);
      const text = STATUS_TEXT[status] ?? 'Not connected yet';
      const button = h('button', { type: 'button', class: 'button small', 'data-verify-start': true, 'data-peer-id': p.id, onclick: () => this.open(p.id) }, 'Compare codes');
      rows.push(h('li', { class: `verify-row verify-${status}`, 'data-verify-peer': true, 'data-peer-id': p.id, 'data-status': status }, h('span', { class: 'verify-name', text: String(p.name ?? '') }), h('span', { class: 'verify-status', text }), button));
    }
    this.list.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
  }

  markTile(peerId, status) {
    const tile = document.querySelector(`[data-peer][data-peer-id="${CSS.escape(peerId)}"]`);
    if (!tile) return;
    tile.toggleAttribute('data-verified', status === 'verified');
    tile.toggleAttribute('data-verify-warning', status === 'changed');
    let badge = tile.querySelector('.peer-verify');
    if (!badge) {
      badge = h('span', { class: 'peer-verify' });
      tile.append(badge);
    }
    badge.textContent = status === 'verified' || status === 'changed' ? STATUS_TEXT[status] : '';
    badge.hidden = !badge.textContent;
  }

  async open(peerId) {
    const peer = this.store.get(peerId);
    const code = h('p', { class: 'verify-code', 'data-verify-code': true, text: 'Connecting…' });
    const match = h('button', { type: 'button', class: 'button primary', 'data-verify-match': true, disabled: true }, 'They match');
    const differ = h('button', { type: 'button', class: 'button', 'data-verify-differ': true, disabled: true }, 'They differ');
    const close = h('button', { type: 'button', class: 'button', 'data-verify-close': true }, 'Close');
    const warning = this.verifier.statusOf(peerId) === 'changed'
      ? h('p', { class: 'warning', role: 'alert', 'data-verify-changed': true, text: `⚠ ${peer?.name ?? 'This device'} shows a different certificate than when you verified it. Compare the codes again; if they differ, someone may be in between.` })
      : null;
    const dlg = h('dialog', { class: 'dialog verify', 'data-verify-dialog': true, 'data-peer-id': peerId, 'aria-label': 'Security code' },
      h('h2', { text: `Security code with ${peer?.name ?? 'this device'}` }),
      h('p', { text: 'The same code shows on both devices when nobody is in between. Compare it on both screens (or read it out on a call).' }),
      warning, code,
      h('div', { class: 'dialog-actions' }, close, differ, match));
    const done = () => {
      dlg.close();
      dlg.remove();
    };
    close.addEventListener('click', done);
    match.addEventListener('click', () => {
      this.bus.emit('verify:confirm', { peerId });
      done();
    });
    differ.addEventListener('click', () => {
      this.bus.emit('notice', { kind: 'error', text: `The codes differ: someone may be between you and ${peer?.name ?? 'the other device'}. The connection was closed; do not send anything until the codes match.` });
      this.peers.links.get(peerId)?.close();
      done();
    });
    document.body.append(dlg);
    dlg.showModal();
    try {
      const r = await this.verifier.code(peerId);
      code.textContent = r.code;
      dlg.dataset.code = r.code;
      match.disabled = differ.disabled = false;
    } catch (err) {
      code.textContent = `No secure connection to ${peer?.name ?? 'the device'}: ${err?.message || err}.`;
      dlg.dataset.failed = '';
    }
  }
}
