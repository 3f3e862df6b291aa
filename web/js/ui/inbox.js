// Received files (data-received-file + data-save) and texts (data-received-text).
//
// A received file stays stored (and its row keeps offering Save) until the user removes it
// or closes the tab: a Save tap only starts a download, which the browser may drop (rapid
// downloads are), so it can always be repeated. The blob: URL exists only for one save and is
// revoked soon after (Firefox holds the whole file in its parent process while one lives).
// Files of one transfer sit in one batch row with "Save all" (one ZIP, zip.js) and, where the
// browser has the File System Access API, "Save to folder…".

import { h, $, formatBytes, canCopy } from './dom.js';
import { zipBlob, zipNames } from '../zip.js';
import { viewKind } from './viewer.js';

/** How long a blob: URL lives after its download was started. */
const REVOKE_AFTER_MS = 10000;
const PREVIEW_MAX_BYTES = 30 * 1000 * 1000;
const OPEN_BATCH_MAX = 12;

/** Starts the download of `blob` as `name`; the URL goes soon after. */
function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
}

function canPickFolder() {
  return window.isSecureContext && typeof window.showDirectoryPicker === 'function';
}

/** Writes each file into a folder the user picks, never over a file already there. */
async function saveToFolder(entries) {
  const dir = await window.showDirectoryPicker({ mode: 'readwrite' });
  const names = zipNames(entries.map((e) => e.name));
  for (let i = 0; i < entries.length; i++) {
    let name = names[i];
    for (let n = 2; await dir.getFileHandle(name).then(() => true, () => false); n++) {
      const dot = names[i].lastIndexOf('.');
      name = dot > 0 ? `${names[i].slice(0, dot)} (${n})${names[i].slice(dot)}` : `${names[i]} (${n})`;
    }
    const file = await dir.getFileHandle(name, { create: true });
    await entries[i].blob.stream().pipeTo(await file.createWritable());
  }
}

export class Inbox {
  /** @param viewer the Viewer (ui/viewer.js): photos, videos, PDFs, texts opened in the page */
  constructor(bus, viewer) {
    this.bus = bus;
    this.viewer = viewer;
    this.files = $('[data-received-list]');
    this.texts = $('[data-text-list]');
    this.empty = $('.inbox-empty');
    this.batches = new Map(); // tid -> batch row
    bus.on('received:file', (f) => this.addFile(f));
    bus.on('received:text', (m) => this.addText(m));
  }

  /** The batch row of a transfer of several files, made at its first file. */
  batch(t) {
    let b = this.batches.get(t.tid);
    if (b) return b;
    const n = t.files.length;
    const total = formatBytes(t.total);
    b = { entries: new Set(), tid: t.tid };
    b.list = h('ul', { class: 'received-list batch-files' });
    b.count = h('span', { class: 'r-count', 'data-batch-count': true });
    const saveAll = h('button', { type: 'button', class: 'button primary small', 'data-save-all': true }, 'Save all (ZIP)');
    saveAll.addEventListener('click', () => this.saveAll(b, saveAll));
    const folder = canPickFolder() ? h('button', { type: 'button', class: 'button small', 'data-save-folder': true }, 'Save to folder…') : null;
    folder?.addEventListener('click', () =>
      saveToFolder([...b.entries]).catch((err) => {
        if (err?.name !== 'AbortError') this.bus.emit('notice', { kind: 'error', text: `Could not save to the folder: ${err?.message || err}` });
      }),
    );
    const removeAll = h('button', { type: 'button', class: 'button small', 'data-dismiss-all': true }, 'Remove all');
    removeAll.addEventListener('click', () => [...b.entries].forEach((e) => e.remove()));
    b.el = h(
      'li',
      { class: 'received received-batch', 'data-received-batch': true, 'data-transfer-id': t.tid, 'data-files': n },
      h('div', { class: 'r-text' },
        h('span', { class: 'r-name', text: `${t.files[0].name} and ${n - 1} other file${n > 2 ? 's' : ''}, ${total}` }),
        h('span', { class: 'r-meta', text: `from ${t.peerName}` }),
        b.count),
      h('div', { class: 'r-actions' }, saveAll, folder, removeAll),
      // A few files (an album's photos) are shown at once; hundreds wait behind the summary.
      h('details', { class: 'r-details', 'data-received-files': true, open: n <= OPEN_BATCH_MAX }, h('summary', { text: 'Files' }), b.list),
    );
    b.total = n;
    this.batches.set(t.tid, b);
    this.files.prepend(b.el);
    return b;
  }

  saveAll(b, button) {
    const entries = [...b.entries];
    if (!entries.length) return;
    const day = new Date().toISOString().slice(0, 10);
    const name = `homedrop-${day}-${entries.length}-files.zip`;
    button.dataset.zipName = name;
    download(zipBlob(entries), name);
    button.dataset.saves = String(Number(button.dataset.saves || 0) + 1);
  }

  addFile(f) {
    const multi = f.transfer.files.length > 1;
    const b = multi ? this.batch(f.transfer) : null;
    const entry = { name: f.name, blob: f.blob, crc: f.crc, remove: null };
    const save = h('button', { type: 'button', class: 'button primary small', 'data-save': true }, 'Save');
    const dismiss = h('button', { type: 'button', class: 'button small', 'data-dismiss': true, 'aria-label': `Remove ${f.name}` }, 'Remove');
    const status = h('span', { class: 'r-status', 'data-save-status': true });
    const kind = viewKind(f.mime, f.name);
    const open = kind ? h('button', { type: 'button', class: 'button small', 'data-open': true, 'aria-label': `Open ${f.name}` }, 'Open') : null;
    open?.addEventListener('click', () => this.viewer.open(entry.blob, f.name, f.mime));
    const preview = kind === 'image' && f.size <= PREVIEW_MAX_BYTES
      ? this.preview(f.blob, () => open.click(), f.name)
      : h('span', { class: 'r-icon', 'aria-hidden': 'true' }, h('img', { src: 'icons/file.svg', alt: '', width: 40, height: 40 }));
    const li = h(
      'li',
      { class: 'received', 'data-received-file': true, 'data-name': f.name, 'data-size': f.size, 'data-sha256': f.sha256, 'data-kind': kind ?? 'file' },
      preview,
      h('div', { class: 'r-text' },
        h('span', { class: 'r-name', text: f.name }),
        h('span', { class: 'r-meta', text: `${formatBytes(f.size)} from ${f.transfer.peerName}` }),
        status),
      h('div', { class: 'r-actions' }, open, save, dismiss),
    );
    save.addEventListener('click', () => {
      if (!entry.blob) return;
      download(entry.blob, f.name);
      const saves = Number(li.dataset.saves || 0) + 1;
      li.dataset.saves = String(saves);
      li.classList.add('saved');
      save.textContent = 'Save again';
      status.textContent = 'Download started. If none appeared, tap Save again; the file stays here until you remove it.';
    });
    entry.remove = () => {
      entry.blob = null; // the last reference to the stored data goes
      f.discard();
      li.remove();
      if (b) this.dropFromBatch(b, entry);
      this.updateEmpty();
    };
    dismiss.addEventListener('click', entry.remove);
    if (b) {
      b.entries.add(entry);
      b.list.append(li);
      b.count.textContent = `${b.entries.size} of ${b.total} received`;
    } else {
      this.files.prepend(li);
    }
    this.updateEmpty();
  }

  dropFromBatch(b, entry) {
    b.entries.delete(entry);
    b.count.textContent = `${b.entries.size} of ${b.total} kept`;
    if (b.entries.size === 0) {
      b.el.remove();
      this.batches.delete(b.tid);
    }
  }

  /** An image preview that opens the photo; its blob: URL goes once the image is decoded. */
  preview(blob, onOpen, name) {
    const url = URL.createObjectURL(blob);
    const img = h('img', { class: 'r-preview', src: url, alt: '' });
    const done = () => URL.revokeObjectURL(url);
    img.addEventListener('load', done, { once: true });
    img.addEventListener('error', done, { once: true });
    return h('button', { type: 'button', class: 'r-preview-button', tabindex: -1, 'aria-label': `Open ${name}`, onclick: onOpen }, img);
  }

  addText({ from, text }) {
    const body = h('p', { class: 'm-text', 'data-received-text': true, text });
    const actions = h('div', { class: 'r-actions' });
    if (canCopy()) {
      const copy = h('button', { type: 'button', class: 'button small' }, 'Copy');
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(text);
          copy.textContent = 'Copied';
        } catch {
          this.bus.emit('notice', { kind: 'error', text: 'Could not copy to the clipboard.' });
        }
      });
      actions.append(copy);
    }
    const dismiss = h('button', { type: 'button', class: 'button small' }, 'Remove');
    actions.append(dismiss);
    const li = h('li', { class: 'message' }, h('span', { class: 'm-from', text: `From ${from}` }), body, actions);
    dismiss.addEventListener('click', () => {
      li.remove();
      this.updateEmpty();
    });
    this.texts.prepend(li);
    this.updateEmpty();
    const short = text.length > 120 ? `${text.slice(0, 120)}…` : text;
    this.bus.emit('notice', { kind: 'info', text: `Message from ${from}: ${short}` });
  }

  updateEmpty() {
    this.empty.hidden = this.files.children.length + this.texts.children.length > 0;
  }
}
