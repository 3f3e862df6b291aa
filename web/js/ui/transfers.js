// Transfer rows (data-transfer), one per batch, with overall progress (per-file detail in a
// closed <details>, rendered only when opened), speed, ETA, cancel and
// the network path (data-path: direct on the LAN / over the internet / relayed through homedrop).
// Renders `transfer:update` and `link:path`; the cancel button emits `transfer:cancel` (tid).
// A paused transfer (transfer-resume.js) says why; a reloaded receiver's row has Continue
// (`transfer:resume`), a reloaded sender's row a picker for the same files
// (`transfer:resume-files`), and Cancel discards what was kept.

import { h, $, formatBytes, formatDuration } from './dom.js';
import { t as tr } from '../i18n.js';

const STATES = new Set(['waiting', 'active', 'paused', 'done', 'failed', 'cancelled', 'declined']);
const FINAL = new Set(['done', 'failed', 'cancelled', 'declined']);
const MAX_ROWS = 30;

/** The network path as text (data-path): `lan`, `internet` or `relay` from peer.js. */
function pathText(path) {
  return ['lan', 'internet', 'relay'].includes(path) ? tr(`path.${path}`) : '';
}

export class TransferList {
  constructor(bus) {
    this.bus = bus;
    this.root = $('[data-transfer-list]');
    this.empty = $('.transfers-empty');
    this.rows = new Map(); // tid -> {el, speed, last, peerId}
    this.paths = new Map(); // peerId -> path of its current connection
    bus.on('transfer:update', (t) => this.render(t));
    bus.on('link:path', ({ peerId, path }) => this.showPath(peerId, path));
    bus.on('link:closed', (peerId) => this.paths.delete(peerId));
  }

  /** A connection's path became known or changed: rows still running follow it. */
  showPath(peerId, path) {
    this.paths.set(peerId, path);
    for (const row of this.rows.values()) {
      const label = row.el.querySelector('[data-path]');
      if (row.peerId === peerId && (!FINAL.has(row.el.dataset.state) || !label.textContent)) label.textContent = pathText(path);
    }
  }

  render(t) {
    let row = this.rows.get(t.tid);
    if (!row) {
      row = this.makeRow(t);
      this.rows.set(t.tid, row);
      this.root.prepend(row.el);
      this.trim();
    }
    this.empty.hidden = true;
    const { el } = row;
    el.dataset.state = t.state;
    el.querySelector('.t-state').textContent = STATES.has(t.state) ? tr(`transfer.state.${t.state}`) : t.state;
    const bar = el.querySelector('[data-progress]');
    bar.max = Math.max(t.total, 1);
    bar.value = t.state === 'done' ? bar.max : Math.min(t.bytes, t.total);
    row.t = t;
    row.peerId = t.peerId;
    if (row.details?.open) this.renderFiles(row);
    el.querySelector('[data-transfer-info]').textContent = this.info(t, row);
    const path = el.querySelector('[data-path]');
    if (!path.textContent && this.paths.has(t.peerId)) path.textContent = pathText(this.paths.get(t.peerId));
    const cancel = el.querySelector('[data-cancel]');
    cancel.hidden = FINAL.has(t.state);
    cancel.textContent = t.state === 'paused' && t.needs ? tr('transfer.discard') : tr('transfer.cancel');
    el.querySelector('[data-resume]').hidden = !(t.state === 'paused' && t.needs === 'continue');
    el.querySelector('[data-resume-pick]').hidden = !(t.state === 'paused' && t.needs === 'files');
    if (t.state === 'paused') row.last = null; // the speed starts again after the pause
  }

  /** Continue (a reloaded receiver) and "Pick the files again" (a reloaded sender). */
  resumeControls(t) {
    const input = h('input', { type: 'file', multiple: true, class: 'visually-hidden', 'data-resume-files': true });
    input.addEventListener('change', () => {
      const files = [...input.files];
      input.value = '';
      if (files.length) this.bus.emit('transfer:resume-files', { tid: t.tid, files });
    });
    return [
      h('button', { type: 'button', class: 'button small primary', 'data-resume': true, hidden: true, onclick: () => this.bus.emit('transfer:resume', t.tid) }, tr('transfer.continue')),
      h('label', { class: 'button small primary', 'data-resume-pick': true, hidden: true }, tr('transfer.pickAgain'), input),
    ];
  }

  info(t, row) {
    if (t.state !== 'active' || !t.startedAt || t.info) return t.info || '';
    const now = performance.now();
    const last = row.last;
    if (!last) {
      row.last = { at: now, bytes: t.bytes };
      return tr('transfer.starting');
    }
    const dt = (now - last.at) / 1000;
    if (dt >= 0.5) {
      const rate = (t.bytes - last.bytes) / dt;
      row.speed = row.speed ? row.speed * 0.7 + rate * 0.3 : rate;
      row.last = { at: now, bytes: t.bytes };
    }
    const done = tr('transfer.progress', { done: formatBytes(t.bytes), total: formatBytes(t.total) });
    if (!row.speed) return done;
    const eta = (t.total - t.bytes) / row.speed;
    return `${done} · ${tr('transfer.speed', { size: formatBytes(row.speed) })} · ${tr('transfer.left', { time: formatDuration(eta) })}`;
  }

  /** Per-file detail, only while it is shown (a batch of 200 files costs nothing closed). */
  renderFiles(row) {
    const { t } = row;
    if (!row.files) {
      row.files = t.files.map((f) => {
        const bar = h('progress', { class: 'file-progress', max: Math.max(f.size, 1), value: 0, 'data-file-progress': true });
        const li = h('li', { class: 't-file', 'data-transfer-file': true, 'data-name': f.name }, h('span', { class: 't-file-name', text: f.name }), h('span', { class: 't-file-size', text: formatBytes(f.size) }), bar);
        return { li, bar };
      });
      row.list.append(...row.files.map((f) => f.li));
    }
    t.files.forEach((f, i) => {
      const fp = row.files[i];
      fp.bar.value = f.state === 'done' ? fp.bar.max : Math.min(f.bytes, f.size);
      fp.li.dataset.state = f.state;
    });
  }

  makeRow(t) {
    const toFrom = t.direction === 'send' ? 'transfer.to' : 'transfer.from';
    const n = t.files.length;
    const what = n === 1 ? t.files[0].name : tr('files.andOthers', { first: t.files[0].name, count: n - 1, size: formatBytes(t.total) });
    const row = { speed: 0, last: null, peerId: t.peerId, t, files: null, details: null, list: null };
    if (n > 1) {
      row.list = h('ul', { class: 't-files' });
      row.details = h('details', { class: 't-details', 'data-transfer-files': true }, h('summary', { text: tr('transfer.files', { count: n }) }), row.list);
      row.details.addEventListener('toggle', () => row.details.open && this.renderFiles(row));
    }
    row.el = h(
      'li',
      { class: 'transfer', 'data-transfer': true, 'data-transfer-id': t.tid, 'data-direction': t.direction, 'data-state': t.state, 'data-files': n },
      h('div', { class: 't-head' },
        h('span', { class: 't-dir', 'aria-hidden': 'true', text: t.direction === 'send' ? '↑' : '↓' }),
        h('span', { class: 't-title', text: tr(toFrom, { name: t.peerName, what }) }),
        h('span', { class: 't-state' })),
      h('progress', { class: 't-progress', max: Math.max(t.total, 1), value: 0, 'data-progress': true, 'aria-label': tr('transfer.progressLabel') }),
      // Speed and time left change every moment: kept out of the list's live announcements.
      h('p', { class: 't-info', 'data-transfer-info': true, 'aria-live': 'off' }),
      h('p', { class: 't-path', 'data-path': true }),
      row.details,
      ...this.resumeControls(t),
      h('button', { type: 'button', class: 'button small', 'data-cancel': true, onclick: () => this.bus.emit('transfer:cancel', t.tid) }, tr('transfer.cancel')),
    );
    return row;
  }

  /** Forgets old finished rows so the list stays short. */
  trim() {
    const rows = [...this.rows.entries()];
    for (const [tid, row] of rows.slice(0, Math.max(0, rows.length - MAX_ROWS))) {
      if (!FINAL.has(row.el.dataset.state)) continue;
      row.el.remove();
      this.rows.delete(tid);
    }
  }
}
