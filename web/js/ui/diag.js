// Diagnostics for the household (data-diag): homedrop's recent log lines, for a bug report.
// Shown by the same answer as the "Remote access" panel (remote.js emits `household` from
// GET /remote, which answers devices at home only); the lines come from GET /api/logs, which
// the server also answers for devices at home only. They are the server's own log (sessions,
// relay, remote access), never names, texts, room codes or keys (docs/security.md). Rendered
// as text; "Copy" uses the clipboard where the browser offers it (secure contexts), else
// selects the lines for the user to copy.

import { $, canCopy } from './dom.js';
import { t } from '../i18n.js';

/** Every user-visible string of this module (catalog keys `diag.*`), read when shown. */
const TEXT = Object.freeze({
  get loading() { return t('diag.loading'); },
  get empty() { return t('diag.empty'); },
  shown: (n) => t('diag.shown', { count: n }),
  failed: (why) => t('diag.failed', { reason: why }),
  get offline() { return t('diag.offline'); },
  get copied() { return t('diag.copied'); },
  get selected() { return t('diag.selected'); },
  get nothing() { return t('diag.nothing'); },
});

export class DiagPanel {
  constructor(bus) {
    this.box = $('[data-diag]');
    this.lines = $('[data-diag-lines]');
    this.status = $('[data-diag-status]');
    $('[data-diag-load]').addEventListener('click', () => this.load());
    $('[data-diag-copy]').addEventListener('click', () => this.copy());
    bus.on('household', (home) => {
      this.box.hidden = !home;
    });
  }

  say(text) {
    this.status.textContent = text;
  }

  async load() {
    this.say(TEXT.loading);
    let res;
    try {
      res = await fetch('/api/logs', { cache: 'no-store' });
    } catch {
      this.say(TEXT.offline);
      return;
    }
    if (!res.ok) {
      this.say(TEXT.failed((await res.text().catch(() => '')).trim() || res.status));
      return;
    }
    const body = await res.json().catch(() => ({}));
    const lines = Array.isArray(body.lines) ? body.lines.map(String) : [];
    this.lines.textContent = lines.join('\n');
    this.lines.dataset.count = String(lines.length);
    this.lines.hidden = false;
    this.say(lines.length ? TEXT.shown(lines.length) : TEXT.empty);
  }

  async copy() {
    const text = this.lines.textContent;
    if (!text) {
      this.say(TEXT.nothing);
      return;
    }
    if (canCopy()) {
      try {
        await navigator.clipboard.writeText(text);
        this.say(TEXT.copied);
        return;
      } catch {
        /* not allowed here: select instead */
      }
    }
    const range = document.createRange();
    range.selectNodeContents(this.lines);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    this.say(TEXT.selected);
  }
}
