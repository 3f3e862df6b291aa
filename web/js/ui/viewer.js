// Opens a received file in the page (data-viewer): photos, videos, audio, PDFs and text, from
// the stored Blob; nothing leaves the device. The blob: URL lives only while it is shown.
// A PDF is shown from a Blob whose type is forced to application/pdf, so a file that only
// claims to be a PDF is never run as a page; text is read (at most TEXT_MAX bytes) into a
// <pre> through textContent.

import { h, $ } from './dom.js';

const TEXT_MAX = 1024 * 1024;
const TEXT_TYPES = /^(text\/|application\/(json|xml|x-yaml|javascript))/;
const TEXT_NAMES = /\.(txt|md|csv|log|json|xml|ya?ml|ini|conf)$/i;

/** How a file would be shown ('image', 'video', 'audio', 'pdf', 'text'), or null. */
export function viewKind(mime = '', name = '') {
  if (mime.startsWith('image/') && mime !== 'image/svg+xml') return 'image';
  if (mime.startsWith('video/')) return 'video';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime === 'application/pdf' || /\.pdf$/i.test(name)) return 'pdf';
  if (TEXT_TYPES.test(mime) || TEXT_NAMES.test(name)) return 'text';
  return null;
}

export class Viewer {
  constructor() {
    this.dlg = $('[data-viewer]');
    this.url = null;
    $('[data-viewer-close]', this.dlg).addEventListener('click', () => this.dlg.close());
    // `close` comes as a task of its own: by then another file may be open in the dialog.
    this.dlg.addEventListener('close', () => !this.dlg.open && this.clear());
  }

  async open(blob, name, mime) {
    const kind = viewKind(mime, name);
    if (!kind || !blob) return;
    this.clear();
    this.dlg.dataset.kind = kind;
    $('[data-viewer-title]', this.dlg).textContent = name;
    $('[data-viewer-body]', this.dlg).replaceChildren(await this.element(kind, blob, name));
    if (!this.dlg.open) this.dlg.showModal();
  }

  async element(kind, blob, name) {
    if (kind === 'text') {
      const text = await blob.slice(0, TEXT_MAX).text();
      return h('pre', { class: 'viewer-text', 'data-viewer-content': true, tabindex: 0, text });
    }
    const typed = kind === 'pdf' ? new Blob([blob], { type: 'application/pdf' }) : blob;
    this.url = URL.createObjectURL(typed);
    if (kind === 'image') return h('img', { class: 'viewer-media', src: this.url, alt: name, 'data-viewer-content': true });
    if (kind === 'pdf') return h('iframe', { class: 'viewer-pdf', src: this.url, title: name, 'data-viewer-content': true });
    return h(kind, { class: 'viewer-media', src: this.url, controls: true, playsinline: true, 'data-viewer-content': true });
  }

  clear() {
    $('[data-viewer-body]', this.dlg).replaceChildren();
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }
}
