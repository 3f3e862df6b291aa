// Pairing: show a key (data-pair-key) with QR and countdown, or enter one; list and unpair.

import { h, $, qrImage } from './dom.js';
import { addPair, loadPairs, removePair } from '../pairs.js';

export class Pairing {
  /** @param onPaired () => void, called after a new secret is stored (reconnects) */
  constructor(bus, signaling, onPaired) {
    this.bus = bus;
    this.sig = signaling;
    this.onPaired = onPaired;
    this.dialog = $('[data-pair-dialog]');
    this.list = $('[data-pair-list]');
    this.pendingKey = null;
    this.timer = null;
    bus.on('server:pairKey', (m) => this.showKey(m));
    bus.on('server:paired', (m) => this.paired(m));
    bus.on('welcome', () => this.flushPending());
    this.dialog.addEventListener('close', () => this.stopCountdown());
    $('[data-pair-start]').addEventListener('click', () => this.send({ type: 'pairStart' }));
    const input = $('[data-pair-key-input]');
    $('.pair-join-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const key = input.value.replace(/\D/g, '');
      if (key.length !== 6) {
        this.bus.emit('notice', { kind: 'error', text: 'The pairing key has 6 digits.' });
        return;
      }
      input.value = '';
      this.send({ type: 'pairJoin', key });
    });
    this.render();
  }

  send(msg) {
    if (!this.sig.send(msg)) this.bus.emit('notice', { kind: 'error', text: 'Not connected to homedrop right now; try again in a moment.' });
  }

  /** From #pair=KEY: join once online. */
  joinFromFragment(key) {
    if (this.sig.online) this.send({ type: 'pairJoin', key });
    else this.pendingKey = key;
  }

  flushPending() {
    if (!this.pendingKey) return;
    const key = this.pendingKey;
    this.pendingKey = null;
    this.sig.send({ type: 'pairJoin', key });
  }

  showKey({ key, expiresInSecs }) {
    if (typeof key !== 'string') return;
    const link = `${location.origin}/#pair=${key}`;
    $('[data-pair-key]', this.dialog).textContent = key;
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
      el.textContent = left > 0 ? `Valid for ${left} s` : 'This key has expired. Start again for a new one.';
      if (left === 0) this.stopCountdown();
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  stopCountdown() {
    clearInterval(this.timer);
    this.timer = null;
  }

  paired({ secret, peerName }) {
    addPair(secret, peerName);
    if (this.dialog.open) this.dialog.close();
    this.render();
    this.bus.emit('notice', { kind: 'info', text: `Paired with ${peerName}.` });
    this.onPaired();
  }

  render() {
    const pairs = loadPairs();
    this.list.replaceChildren(
      ...pairs.map((p) => {
        const forget = h('button', { type: 'button', class: 'button small', 'data-pair-forget': true }, 'Unpair');
        forget.addEventListener('click', () => this.forget(p.secret));
        const note = p.alwaysAccept ? ' · accepts files automatically' : '';
        return h('li', { class: 'pair', 'data-pair': true },
          h('span', { class: 'pair-name', text: `${p.peerName || 'Unnamed device'}${note}` }), forget);
      }),
    );
  }

  forget(secret) {
    this.sig.send({ type: 'pairForget', secret });
    removePair(secret);
    this.render();
    this.bus.emit('notice', { kind: 'info', text: 'Device unpaired.' });
  }
}
