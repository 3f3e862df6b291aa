// Received files (data-received-file + data-save) and texts (data-received-text).

import { h, $, formatBytes, canCopy } from './dom.js';

const REVOKE_AFTER_SAVE_MS = 60000;
const PREVIEW_MAX_BYTES = 30 * 1000 * 1000;

export class Inbox {
  constructor(bus) {
    this.bus = bus;
    this.files = $('[data-received-list]');
    this.texts = $('[data-text-list]');
    this.empty = $('.inbox-empty');
    bus.on('received:file', (f) => this.addFile(f));
    bus.on('received:text', (m) => this.addText(m));
  }

  addFile(f) {
    const url = URL.createObjectURL(f.blob);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      URL.revokeObjectURL(url);
      f.discard();
    };
    const save = h('a', { class: 'button primary small', href: url, download: f.name, 'data-save': true }, 'Save');
    const dismiss = h('button', { type: 'button', class: 'button small', 'aria-label': `Remove ${f.name}` }, 'Remove');
    const status = h('span', { class: 'r-status' });
    const preview =
      f.mime.startsWith('image/') && f.size <= PREVIEW_MAX_BYTES
        ? h('img', { class: 'r-preview', src: url, alt: '' })
        : null;
    const li = h(
      'li',
      { class: 'received', 'data-received-file': true, 'data-name': f.name, 'data-size': f.size, 'data-sha256': f.sha256 },
      preview,
      h('div', { class: 'r-text' },
        h('span', { class: 'r-name', text: f.name }),
        h('span', { class: 'r-meta', text: `${formatBytes(f.size)} from ${f.transfer.peerName}` }),
        status),
      h('div', { class: 'r-actions' }, save, dismiss),
    );
    save.addEventListener('click', () => {
      status.textContent = 'Saved';
      li.classList.add('saved');
      // Let the download take hold of the blob before its URL and stored parts go away.
      setTimeout(() => {
        release();
        save.replaceWith(h('span', { class: 'r-saved', text: 'Saved' }));
      }, REVOKE_AFTER_SAVE_MS);
    });
    dismiss.addEventListener('click', () => {
      release();
      li.remove();
      this.updateEmpty();
    });
    this.files.prepend(li);
    this.updateEmpty();
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
    this.bus.emit('notice', { kind: 'info', text: `New message from ${from}.` });
  }

  updateEmpty() {
    this.empty.hidden = this.files.children.length + this.texts.children.length > 0;
  }
}
