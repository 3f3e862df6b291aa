// Security codes (data-verify-card): one row per device this one is connected to, with its
// status and "Compare codes", which opens the code dialog (data-verify-dialog): the same
// 12 digits show on both devices when nobody is in between; "They match" marks the device
// verified (verify:confirm), "They differ" warns and drops the connection. Device tiles get
// data-verified / data-verify-warning and a badge. Renders `verify:update`.

import { h, $ } from './dom.js';
import { t } from '../i18n.js';

const STATUSES = new Set(['verified', 'changed', 'unverified']);
const statusText = (status) => t(STATUSES.has(status) ? `verify.status.${status}` : 'verify.status.unknown');

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
      const text = statusText(status);
      const button = h('button', { type: 'button', class: 'button small', 'data-verify-start': true, 'data-peer-id': p.id, onclick: () => this.open(p.id) }, t('verify.compare'));
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
    badge.textContent = status === 'verified' || status === 'changed' ? statusText(status) : '';
    badge.hidden = !badge.textContent;
  }

  async open(peerId) {
    const peer = this.store.get(peerId);
    const code = h('p', { class: 'verify-code', 'data-verify-code': true, text: t('verify.connecting') });
    const match = h('button', { type: 'button', class: 'button primary', 'data-verify-match': true, disabled: true }, t('verify.match'));
    const differ = h('button', { type: 'button', class: 'button', 'data-verify-differ': true, disabled: true }, t('verify.differ'));
    const close = h('button', { type: 'button', class: 'button', 'data-verify-close': true }, t('dialog.close'));
    const warning = this.verifier.statusOf(peerId) === 'changed'
      ? h('p', { class: 'warning', role: 'alert', 'data-verify-changed': true, text: t('verify.changedWarning', { name: peer?.name ?? t('verify.thisDevice') }) })
      : null;
    const dlg = h('dialog', { class: 'dialog verify', 'data-verify-dialog': true, 'data-peer-id': peerId, 'aria-label': t('verify.title') },
      h('h2', { text: t('verify.with', { name: peer?.name ?? t('verify.thisDevice') }) }),
      h('p', { text: t('verify.explain') }),
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
      this.bus.emit('notice', { kind: 'error', text: t('verify.differNotice', { name: peer?.name ?? t('peer.other') }) });
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
      code.textContent = t('verify.noSecure', { name: peer?.name ?? t('peer.other'), reason: err?.message || err });
      dlg.dataset.failed = '';
    }
  }
}
