// The incoming request sheet (data-request): who sends how much first ("f001.bin and 199
// other files, 200 MB"), large previews of the photos, the files (folded when many), accept /
// decline. It opens at its top, the Accept button focused.
// Shows `transfer:request`; answers with the intents `transfer:accept` / `transfer:decline`.

import { h, formatBytes } from './dom.js';
import { isPaired, setAlwaysAccept } from '../pairs.js';
import { t as tr } from '../i18n.js';

const PREVIEWS = 6;
const FOLD_AFTER = 6;

/** "a.jpg, 2.1 MB" or "f001.bin and 199 other files, 200 MB". */
function summary(files) {
  const total = formatBytes(files.reduce((n, f) => n + f.size, 0));
  if (files.length === 1) return tr('request.summaryOne', { name: files[0].name, size: total });
  return tr('files.andOthers', { first: files[0].name, count: files.length - 1, size: total });
}

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
    const always = isPaired(peer) && !t.warning
      ? h('label', { class: 'check' }, h('input', { type: 'checkbox', 'data-always-accept': true }), ' ', tr('request.always'))
      : null;
    const accept = h('button', { type: 'button', class: 'button primary', 'data-accept': true }, tr('request.accept'));
    const decline = h('button', { type: 'button', class: 'button', 'data-decline': true }, tr('request.decline'));
    const dlg = h(
      'dialog',
      // An alert dialog: screen readers announce the request as it opens.
      { class: 'dialog sheet request', role: 'alertdialog', 'data-request': true, 'data-request-id': t.tid, 'aria-labelledby': `request-title-${t.tid}`, 'aria-describedby': `request-what-${t.tid}` },
      h('h2', { id: `request-title-${t.tid}` }, h('strong', { 'data-request-from': true, text: t.peerName }), ' ', tr('request.wantsToSend')),
      h('p', { class: 'request-what', id: `request-what-${t.tid}`, 'data-request-summary': true, text: summary(t.files) }),
      t.warning ? h('p', { class: 'warning', role: 'alert', 'data-request-warning': true, text: `⚠ ${t.warning}` }) : null,
      this.previews(t.files),
      this.fileList(t.files),
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
    dlg.scrollTop = 0;
    accept.focus({ preventScroll: true });
  }

  /** Up to PREVIEWS thumbnails of the offered photos, large, above the list. */
  previews(files) {
    const thumbs = files.filter((f) => f.thumb).slice(0, PREVIEWS);
    if (!thumbs.length) return null;
    return h('div', { class: 'request-previews', 'data-request-previews': true },
      thumbs.map((f) => h('img', { class: 'request-preview', src: f.thumb, alt: f.name, 'data-request-preview': true })));
  }

  /** Every file by name and size; folded away behind a summary when there are many. */
  fileList(files) {
    const list = h('ul', { class: 'offer-files' }, files.map((f) => this.fileItem(f)));
    if (files.length <= FOLD_AFTER) return list;
    return h('details', { class: 'request-files', 'data-request-files': true }, h('summary', { text: tr('request.showAll', { count: files.length }) }), list);
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
