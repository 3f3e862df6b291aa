// The send sheet (data-send-sheet): files (and a text) that arrived without a device chosen —
// shared into homedrop from the phone's gallery (the share target), pasted or dropped — with
// the devices to pick. Opened by `send:sheet` ({files, text}) or open(); Send emits
// `send:files` ({peerId, files}) per picked device and sends the text.

import { h, $, formatBytes } from './dom.js';
import { t } from '../i18n.js';
import { unableOf } from '../caps.js';

const THUMBS = 12;

export class SendSheet {
  /**
   * @param store the PeerStore (who can be picked)
   * @param selected () => peerId[] (picked in advance: the tiles' selection)
   * @param sendText (peerId, string) => Promise
   */
  constructor(bus, store, selected, sendText) {
    this.bus = bus;
    this.store = store;
    this.selected = selected;
    this.sendText = sendText;
    this.dlg = $('[data-send-sheet]');
    this.picked = new Set();
    this.files = [];
    this.text = '';
    this.urls = [];
    bus.on('send:sheet', (m) => this.open(m ?? {}));
    store.addEventListener('change', () => this.dlg.open && this.renderTargets());
    $('[data-send-cancel]', this.dlg).addEventListener('click', () => this.dlg.close());
    $('[data-send-go]', this.dlg).addEventListener('click', () => this.go());
    // `close` comes as a task of its own: by then the sheet may be open again with new files.
    this.dlg.addEventListener('close', () => !this.dlg.open && this.clear());
  }

  open({ files = [], text = '' }) {
    this.clear();
    this.files = [...files];
    this.text = typeof text === 'string' ? text : '';
    if (!this.files.length && !this.text.trim()) return;
    this.picked = new Set(this.selected());
    const peers = this.store.list();
    if (!this.picked.size && peers.length === 1) this.picked.add(peers[0].id);
    this.renderFiles();
    this.renderTargets();
    if (!this.dlg.open) this.dlg.showModal();
  }

  renderFiles() {
    const total = this.files.reduce((n, f) => n + f.size, 0);
    const n = this.files.length;
    const parts = [];
    if (n === 1) parts.push(t('request.summaryOne', { name: this.files[0].name, size: formatBytes(total) }));
    else if (n > 1) parts.push(t('files.andOthers', { first: this.files[0].name, count: n - 1, size: formatBytes(total) }));
    if (this.text.trim()) parts.push(t('send.aMessage', { text: this.text.trim().slice(0, 80) }));
    $('[data-send-summary]', this.dlg).textContent = parts.join(' · ');
    const items = this.files.map((f, i) => {
      let thumb = h('img', { class: 'offer-icon', src: 'icons/file.svg', alt: '', width: 40, height: 40 });
      if (i < THUMBS && f.type?.startsWith('image/')) {
        const url = URL.createObjectURL(f);
        this.urls.push(url);
        thumb = h('img', { class: 'offer-thumb', src: url, alt: '' });
      }
      return h('li', { class: 'offer-file', 'data-send-file': true, 'data-name': f.name }, thumb,
        h('span', { class: 'offer-name', text: f.name }),
        h('span', { class: 'offer-size', text: formatBytes(f.size) }));
    });
    $('[data-send-files]', this.dlg).replaceChildren(...items);
  }

  renderTargets() {
    const peers = this.store.list();
    for (const id of [...this.picked]) if (!peers.some((p) => p.id === id)) this.picked.delete(id);
    const buttons = peers.map((p) => {
      const b = h('button', { type: 'button', class: 'send-target', 'data-send-target': true, 'data-peer-id': p.id, 'aria-pressed': String(this.picked.has(p.id)), text: String(p.name ?? '') });
      b.addEventListener('click', () => {
        if (this.picked.has(p.id)) this.picked.delete(p.id);
        else this.picked.add(p.id);
        b.setAttribute('aria-pressed', String(this.picked.has(p.id)));
        this.updateGo();
      });
      // A device that cannot receive is still listed, with why: sending to it fails at once.
      const { unable, text } = unableOf(p);
      if (unable) b.dataset.unable = unable;
      if (unable) b.append(h('span', { class: 'peer-unable', text }));
      return b;
    });
    $('[data-send-targets]', this.dlg).replaceChildren(...buttons);
    $('[data-send-no-target]', this.dlg).hidden = peers.length > 0;
    this.updateGo();
  }

  updateGo() {
    const go = $('[data-send-go]', this.dlg);
    go.disabled = this.picked.size === 0;
    const n = this.picked.size;
    go.textContent = n > 1 ? t('send.toDevices', { count: n }) : t('chat.send');
  }

  go() {
    const ids = [...this.picked];
    if (!ids.length) return;
    for (const peerId of ids) {
      if (this.files.length) this.bus.emit('send:files', { peerId, files: this.files });
      if (this.text.trim()) {
        this.sendText(peerId, this.text).catch((err) =>
          this.bus.emit('notice', { kind: 'error', text: t('compose.failed', { reason: err?.message ?? t('error.generic') }) }));
      }
    }
    this.dlg.close();
  }

  clear() {
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
    this.files = [];
    this.text = '';
  }
}
