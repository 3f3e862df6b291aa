// Pairing: show a key (data-pair-key) with a QR code of its token's link (the dialog's
// data-pair-link)
// and countdown, or enter one; list and unpair.
// Renders `pair:key`, `pair:paired` and `pairs:changed` from pairing.js and the stored
// pairings (pairs.js); asks with the intents `pair:start`, `pair:join` (key), `pair:forget`.

import { h, $, qrImage } from './dom.js';
import { loadPairs } from '../pairs.js';
import { parsePairKey } from '../pairing.js';
import { t } from '../i18n.js';

export class PairingView {
  constructor(bus) {
    this.bus = bus;
    this.dialog = $('[data-pair-dialog]');
    this.list = $('[data-pair-list]');
    this.timer = null;
    bus.on('pair:key', (m) => this.showKey(m));
    bus.on('pair:paired', () => {
      if (this.dialog.open) this.dialog.close();
    });
    bus.on('pairs:changed', () => this.render());
    this.dialog.addEventListener('close', () => this.stopCountdown());
    $('[data-pair-start]').addEventListener('click', () => this.bus.emit('pair:start'));
    const input = $('[data-pair-key-input]');
    $('.pair-join-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const key = parsePairKey(input.value);
      if (!key) {
        this.bus.emit('notice', { kind: 'error', text: t('pair.keyInvalid') });
        return;
      }
      input.value = '';
      this.bus.emit('pair:join', key);
    });
    this.render();
  }

  /** The key to type, and a QR code of the link that carries its token instead. */
  showKey({ key, token, expiresInSecs }) {
    const link = `${location.origin}/#pair=${token || key}`;
    $('[data-pair-key]', this.dialog).textContent = key;
    this.dialog.dataset.pairLink = link;
    $('[data-qr-slot]', this.dialog).replaceChildren(qrImage(link, 200));
    this.startCountdown(Number(expiresInSecs) || 120);
    if (!this.dialog.open) this.dialog.showModal();
  }

  startCountdown(secs) {
    this.stopCountdown();
    const el = $('[data-pair-countdown]', this.dialog);
    const end = Date.now() + secs * 1000;
    const tick = () => {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      el.textContent = left > 0 ? t('pair.validFor', { count: left }) : t('pair.expired');
      if (left === 0) this.stopCountdown();
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  stopCountdown() {
    clearInterval(this.timer);
    this.timer = null;
  }

  render() {
    const pairs = loadPairs();
    this.list.replaceChildren(
      ...pairs.map((p) => {
        const forget = h('button', { type: 'button', class: 'button small', 'data-pair-forget': true }, t('pair.unpair'));
        forget.addEventListener('click', () => this.bus.emit('pair:forget', p.secret));
        const note = p.alwaysAccept ? ` · ${t('pair.autoAccept')}` : '';
        return h('li', { class: 'pair', 'data-pair': true },
          h('span', { class: 'pair-name', text: `${p.peerName || t('pair.unnamed')}${note}` }), forget);
      }),
    );
  }
}
