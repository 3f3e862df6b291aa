// The room conversation view (data-room-chat): one log per room (data-chat-log), tabs when
// in several rooms, the message box with its commands, and the capture buttons.
// Messages come from chat.js on the bus; history comes from and goes to history.js.
// /nick, /create and /join are the intents `name:set` + `profile:changed`, `room:create`
// and `room:join`; sending and /ping are calls to chat.js, which answer.

import { h, $ } from './dom.js';
import { renderEntry, setProgress, setMedia } from './room-entry.js';
import { loadRoom, saveMessage, clearRoom, historyKey, byTime } from '../history.js';
import { parseCommand, messageText } from '../chat-commands.js';
import { cleanName } from '../names.js';
import { parseRoomCode } from '../rooms.js';
import { initCapture } from './room-capture.js';
import { t, formatNumber } from '../i18n.js';

export class RoomChat {
  constructor(bus, chat) {
    this.bus = bus;
    this.chat = chat;
    this.logs = new Map(); // code -> {ul, entries: Map id -> {li, rec}}
    this.names = new Map(); // code -> name, for named rooms
    this.byTid = new Map(); // tid -> {code, id}
    this.current = null;
    this.root = $('[data-room-chat]');
    this.tabs = $('[data-chat-tabs]');
    this.box = $('[data-chat-logs]');
    this.input = $('[data-chat-input]');
    this.wire();
    initCapture(bus, {
      room: () => this.current,
      send: (file, kind) => this.sendMedia(file, kind),
      system: (text) => this.system(this.current, text),
    });
  }

  wire() {
    const bus = this.bus;
    bus.on('room:joined', (r) => this.onJoined(r));
    bus.on('room:left', (code) => this.onLeft(code));
    bus.on('chat:message', (rec) => this.add(rec, true));
    bus.on('chat:system', ({ room, text, attrs }) => this.system(room ?? this.current, text, attrs));
    bus.on('chat:transfer', ({ room, id, tid }) => this.byTid.set(tid, { code: room, id, progress: new Map() }));
    bus.on('transfer:update', (t) => this.onTransfer(t));
    bus.on('received:file', (f) => this.onReceived(f));
    $('[data-chat-form]').addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
  }

  log(code) {
    let l = this.logs.get(code);
    if (!l) {
      const ul = h('ul', { class: 'chat-log', 'data-chat-log': true, 'data-code': code, 'aria-live': 'polite', hidden: true });
      l = { ul, entries: new Map() };
      this.logs.set(code, l);
      this.box.append(ul);
    }
    return l;
  }

  /** Where the room's history is kept (a named room's under its name). */
  key(code) {
    return historyKey(code, this.names.get(code));
  }

  async onJoined({ code, snapOnJoin, fresh, members, name }) {
    if (name) this.names.set(code, name);
    const first = !this.logs.has(code);
    this.log(code);
    if (fresh || !this.current) this.select(code);
    else this.renderTabs();
    if (first) await this.loadHistory(code);
    if (snapOnJoin && fresh && members > 1) this.bus.emit('room:snapPrompt', code);
  }

  onLeft(code) {
    this.logs.get(code)?.ul.remove();
    this.logs.delete(code);
    this.names.delete(code);
    if (this.current === code) this.current = null;
    this.select(this.current ?? this.logs.keys().next().value ?? null);
  }

  select(code) {
    this.current = code;
    for (const [c, l] of this.logs) l.ul.hidden = c !== code;
    this.root.dataset.shownRoom = code ?? '';
    $('[data-chat-empty]').hidden = !!code;
    // No room, no conversation: the form and the avatar wait for one.
    $('[data-chat-form]').hidden = !code;
    $('.chat-me', this.root).hidden = !code;
    this.renderTabs();
    this.bus.emit('room:current', code);
  }

  renderTabs() {
    const tabs = [...this.logs.keys()].map((code) => {
      const b = h('button', { type: 'button', class: 'chat-tab', role: 'tab', 'data-chat-tab': true, 'data-code': code, 'aria-selected': String(code === this.current) }, this.names.get(code) ?? code);
      b.addEventListener('click', () => this.select(code));
      return b;
    });
    this.tabs.replaceChildren(...tabs);
    this.tabs.hidden = tabs.length < 2;
  }

  async loadHistory(code) {
    let records = [];
    try {
      records = await loadRoom(this.key(code));
    } catch (err) {
      console.warn('history unavailable', err);
    }
    const l = this.logs.get(code);
    if (!l) return;
    for (const r of records) if (!l.entries.has(r.id)) this.place(l, { ...r, room: code });
  }

  /**
   * Puts a message where it belongs: ordered by (author's time, id), the order every
   * device of the room uses (system lines stay where they were said).
   */
  place(l, rec) {
    const li = this.entry(l, rec);
    let before = null;
    for (let node = l.ul.lastElementChild; node; node = node.previousElementSibling) {
      const other = node.dataset.msgId && l.entries.get(node.dataset.msgId)?.rec;
      if (!other) continue;
      if (byTime(other, rec) <= 0) break;
      before = node;
    }
    l.ul.insertBefore(li, before);
    return li;
  }

  entry(l, rec) {
    const li = renderEntry(rec);
    l.entries.set(rec.id, { li, rec });
    return li;
  }

  /** A new message (sent or received): show it, remember its transfers, store it. */
  add(rec, persist) {
    const l = this.log(rec.room);
    if (l.entries.has(rec.id)) return;
    this.place(l, rec).scrollIntoView?.({ block: 'nearest' });
    for (const tid of rec.tids ?? []) this.byTid.set(tid, { code: rec.room, id: rec.id, progress: new Map() });
    // Received media is stored once it has arrived; everything else now.
    if (persist && (rec.kind === 'text' || rec.from === 'self')) this.store(rec);
  }

  store(rec) {
    const { tids, sending, ...keep } = rec; // eslint-disable-line no-unused-vars
    saveMessage({ ...keep, room: this.key(rec.room) }).catch((err) => console.warn('history not saved', err));
  }

  onTransfer(t) {
    const ref = this.byTid.get(t.tid);
    const found = ref && this.logs.get(ref.code)?.entries.get(ref.id);
    if (!found) return;
    ref.progress.set(t.tid, t);
    const all = [...ref.progress.values()];
    const bytes = all.reduce((n, x) => n + x.bytes, 0);
    const total = all.reduce((n, x) => n + x.total, 0);
    const failed = all.filter((x) => ['failed', 'cancelled', 'declined'].includes(x.state));
    const state = all.every((x) => x.state === 'done') ? 'done' : failed.length === all.length ? 'failed' : 'active';
    const info = failed.length ? failed.map((x) => x.info).filter(Boolean).join(' · ') : '';
    setProgress(found.li, bytes, total, state, info);
    if (t.direction === 'send' && t.state === 'done' && t.files[0]?.sha256 && !found.rec.sha256) {
      found.rec.sha256 = t.files[0].sha256;
      found.li.querySelector('[data-chat-media]').dataset.sha256 = found.rec.sha256;
      this.store(found.rec);
    }
  }

  onReceived(f) {
    const ref = this.byTid.get(f.transfer.tid);
    const found = ref && this.logs.get(ref.code)?.entries.get(ref.id);
    if (!found) return;
    Object.assign(found.rec, { blob: f.blob, sha256: f.sha256, mime: f.mime || found.rec.mime });
    setMedia(found.li, found.rec);
    this.store(found.rec);
  }

  system(code, text, attrs = {}) {
    if (!code) {
      this.bus.emit('notice', { kind: 'info', text });
      return;
    }
    const li = h('li', { class: 'chat-system', 'data-chat-system': true, ...attrs, text });
    this.log(code).ul.append(li);
  }

  sendMedia(file, kind) {
    if (!this.current) return this.system(null, t('chat.joinFirst'));
    this.chat.sendMedia(this.current, file, kind);
  }

  submit() {
    const raw = this.input.value;
    if (!raw.trim()) return;
    this.input.value = '';
    const c = parseCommand(raw);
    if (c) return this.command(c);
    if (!this.current) return this.system(null, t('chat.noRoom'));
    this.chat.sendText(this.current, messageText(raw)).catch((err) => this.system(this.current, err.message));
  }

  async command({ cmd, arg }) {
    const code = this.current;
    const needRoom = ['clear', 'ping'].includes(cmd);
    if (needRoom && !code) return this.system(null, t('chat.joinFirst'));
    if (cmd === 'help') return this.system(code, t('chat.help'));
    if (cmd === 'unknown') return this.system(code, t('chat.unknown', { command: arg }));
    if (cmd === 'nick') return this.nick(code, arg);
    if (cmd === 'create') {
      const cap = arg ? Number(arg) : undefined;
      if (arg && !(Number.isInteger(cap) && cap >= 2 && cap <= 50)) return this.system(code, t('chat.usage.create'));
      return this.bus.emit('room:create', { capacity: cap, snapOnJoin: false });
    }
    if (cmd === 'join') {
      const room = parseRoomCode(arg);
      return room ? this.bus.emit('room:join', room) : this.system(code, t('chat.usage.join'));
    }
    if (cmd === 'clear') return this.clear(code);
    if (cmd === 'ping') return this.ping(code);
  }

  nick(code, arg) {
    const name = cleanName(arg);
    if (!name) return this.system(code, t('chat.usage.nick'));
    this.bus.emit('name:set', name);
    this.bus.emit('profile:changed');
    this.system(code, t('chat.nick', { name }));
  }

  async clear(code) {
    await clearRoom(this.key(code)).catch(() => {});
    const l = this.log(code);
    l.ul.replaceChildren();
    l.entries.clear();
    this.system(code, t('chat.cleared'), { 'data-cleared': true });
  }

  async ping(code) {
    const results = await this.chat.ping(code);
    if (!results.length) return this.system(code, t('chat.alone'));
    for (const r of results) {
      const text = r.ms === null ? t('chat.ping.none', { name: r.name }) : t('chat.ping.ms', { name: r.name, ms: formatNumber(r.ms, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) });
      const attrs = { 'data-ping-result': true, 'data-peer-id': r.peerId, 'data-rtt': r.ms === null ? '' : r.ms.toFixed(1) };
      this.system(code, text, attrs);
    }
  }
}
