// The incoming request dialog (data-request): sender, files, thumbnails, accept / decline.
// Shows `transfer:request`; answers with the intents `transfer:accept` / `transfer:decline`.

import { h, formatBytes } from './dom.js';
import { isPaired, setAlwaysAccept } from '../pairs.js';

export class RequestDialogs {
  /** @param store the PeerStore (is the sender paired?) */
  constructor(bus, store) {
    this.bus = bus;
    this.store = store;
    this.open = new Map(); // tid -> dialog
    bus.on('transfer:request', (t) => this.show(t));
    bus.on('transfer:update', (t) => {
      if (t.state !== 'waiting') this.close(t.tid);
    });
  }

  show(t) {
    if (t.state !== 'waiting') return; // already answered (room media is accepted at once)
    const peer = this.store.get(t.peerId);
    const total = t.files.reduce((n, f) => n + f.size, 0);
    const what = t.files.length === 1 ? 'a file' : `${t.files.length} files`;
    const always = isPaired(peer) && !t.warning
      ? h('label', { class: 'check' }, h('input', { type: 'checkbox', 'data-always-accept': true }), ' Always accept from this device')
      : null;
    const accept = h('button', { type: 'button', class: 'button primary', 'data-accept': true }, 'Accept');
    const decline = h('button', { type: 'button', class: 'button', 'data-decline': true }, 'Decline');
    const dlg = h(
      'dialog',
      // An alert dialog: screen readers announce the request as it opens.
      { class: 'dialog request', role: 'alertdialog', 'data-request': true, 'data-request-id': t.tid, 'aria-label': 'Incoming files', 'aria-describedby': `request-${t.tid}` },
      h('h2', { text: 'Incoming files' }),
      h('p', { id: `request-${t.tid}` }, h('strong', { 'data-request-from': true, text: t.peerName }), ` wants to send you ${what} (${formatBytes(total)}).`),
      t.warning ? h('p', { class: 'warning', role: 'alert', 'data-request-warning': true, text: `⚠ ${t.warning}` }) : null,
      h('ul', { class: 'offer-files' }, t.files.map((f) => this.fileItem(f))),
      always,
      h('div', { class: 'dialog-actions' }, decline, accept),
    );
    accept.addEventListener('click', () => {
      if (always?.querySelector('input').checked) setAlwaysAccept(peer, true);
      this.close(t.tid);
      this.bus.emit('transfer:accept', t.tid);
    });
    decline.addEventListener('click', () => {
      this.close(t.tid);
      this.bus.emit('transfer:decline', t.tid);
    });
    // Escape means "no".
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      decline.click();
    });
    document.body.append(dlg);
    this.open.set(t.tid, dlg);
    dlg.showModal();
    accept.focus();
  }

  fileItem(f) {
    const thumb = f.thumb ? h('img', { class: 'offer-thumb', src: f.thumb, alt: '' }) : h('img', { class: 'offer-icon', src: 'icons/file.svg', alt: '', width: 40, height: 40 });
    return h(
      'li',
      { class: 'offer-file', 'data-request-file': true, 'data-name': f.name, 'data-size': f.size },
      thumb,
      h('span', { class: 'offer-name', text: f.name }),
      h('span', { class: 'offer-size', text: formatBytes(f.size) }),
    );
  }

  close(tid) {
    const dlg = this.open.get(tid);
    if (!dlg) return;
    this.open.delete(tid);
    if (dlg.open) dlg.close();
    dlg.remove();
  }
}
