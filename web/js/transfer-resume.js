// Resume (docs/protocol.md, "Resume"): a transfer whose connection is lost, or whose page
// was reloaded on either side, is paused instead of failed and continues from the last
// stored byte once both devices are back. Devices are recognised by the fingerprint of the
// certificate their live connection presented (identity.js), never by name or server id:
// only the device a transfer started with can continue it.
//
// `resume` {tid} (sender → receiver): "I can continue tid". `resumeFrom` {tid, have, done}
// (receiver → sender): the bytes stored of each file and the files already verified; the
// sender then streams every other file from its offset (transfer-send.js). Either may come
// first; a side that is not ready yet (a reloaded receiver waiting for its user's Continue, a
// reloaded sender whose files must be picked again) answers once it is.

import { TransferMsg } from './protocol.js';
import { allRecords, expiresAt, headOf, sameFile, saveRecord } from './transfer-records.js';
import { formatBytes } from './ui/dom.js';
import { t as tr, currentLanguage } from './i18n.js';

const TICK_MS = 3000;
/** A peer dialed to find a paused transfer's device is not dialed again for this long. */
const REDIAL_MS = 20000;

export class Resumer {
  constructor(manager) {
    this.m = manager;
    this.dialed = new Map(); // peerId -> when it was last dialed
    this.timer = null;
    const bus = manager.bus;
    bus.on('link:device', (link) => this.onDevice(link));
    bus.on('transfer:resume', (tid) => this.continueReceiving(tid));
    bus.on('transfer:resume-files', ({ tid, files }) => this.adoptFiles(this.m.transfers.get(tid), files));
    window.addEventListener('pagehide', () => this.keepCounters());
  }

  /** The page goes: each send's byte counter is kept with its record, so what a resume
   * sends again is counted over both visits. */
  keepCounters() {
    const records = new Map(allRecords().map((r) => [r.tid, r]));
    for (const t of this.m.transfers.values()) {
      const r = records.get(t.tid);
      if (r && t.direction === 'send' && t.sentBytes) saveRecord({ ...r, sentBytes: t.sentBytes });
    }
  }

  /** Can `t` wait for its device instead of failing when the connection goes? */
  canPause(t) {
    return t.state === 'active' && !!t.device && (t.direction === 'receive' || !!t.fileObjs);
  }

  /** Pauses `t`; `needs`: null (continues by itself), 'continue' (a reloaded receiver: its
   * user taps Continue) or 'files' (a reloaded sender: its user picks the files again). */
  pause(t, needs, info) {
    if (t.direction === 'receive') this.m.receiver.pause(t);
    t.pauses = (t.pauses ?? 0) + 1;
    t.needs = needs;
    t.kicked = null;
    this.m.setState(t, 'paused', info ?? this.waitingText(t));
    if (!needs) this.ensureTimer();
  }

  waitingText(t) {
    return tr('resume.lost', { name: t.peerName });
  }

  // ---- after a reload ----

  /** Records this tab took over at startup (transfer-records.js claimRecords). */
  async restore(records) {
    for (const r of records) {
      try {
        if (r.dir === 'send') this.restoreSend(r);
        else if (r.dir === 'receive') await this.restoreReceive(r);
      } catch (err) {
        console.warn('homedrop: could not restore a transfer', err);
      }
    }
  }

  restoreSend(r) {
    const sentBytes = Number.isSafeInteger(r.sentBytes) ? r.sentBytes : 0;
    const t = this.m.create(r.tid, 'send', null, r.files, { peerName: r.peerName, device: r.device, sentBytes });
    const params = { name: t.files[0].name, count: t.files.length, until: until(r) };
    this.pause(t, 'files', tr(t.files.length === 1 ? 'resume.pickOne' : 'resume.pickMany', params));
  }

  async restoreReceive(r) {
    const t = this.m.create(r.tid, 'receive', null, r.files, { peerName: r.peerName, device: r.device, prefix: r.prefix });
    t.state = 'active'; // restoreDone hands verified files over like a live transfer
    await this.m.receiver.restoreKept(t, r.done);
    if (t.files.every((f) => f.state === 'done')) {
      this.m.setState(t, 'done', tr('transfer.received'));
      this.m.receiver.save(t);
      return;
    }
    const stored = r.files.length ? tr('transfer.progress', { done: formatBytes(t.bytes), total: formatBytes(t.total) }) : '';
    this.pause(t, 'continue', tr('resume.interrupted', { stored, name: t.peerName, until: until(r) }));
  }

  /** The receiver's user tapped Continue: its stored data is checked, then it asks. */
  async continueReceiving(tid) {
    const t = this.m.transfers.get(tid);
    if (!t || t.state !== 'paused' || t.needs !== 'continue') return;
    t.needs = 'preparing';
    this.m.setState(t, 'paused', tr('resume.checkingStored'));
    try {
      await this.m.receiver.restorePartial(t);
    } catch (err) {
      this.m.fail(t, tr('resume.unreadable', { reason: err?.message || err }), false);
      return;
    }
    this.m.receiver.save(t);
    this.ready(t, tr('resume.waiting', { name: t.peerName }));
  }

  /** A paused send picked again, from its row or through the usual send (see recognise). */
  async adoptFiles(t, files) {
    if (!t || t.direction !== 'send' || t.state !== 'paused' || t.needs !== 'files') return false;
    const picked = t.files.map((f) => files.find((x) => sameFile(x, f)));
    const missing = t.files.find((f, i) => !picked[i]);
    if (missing) {
      this.m.bus.emit('notice', { kind: 'error', text: tr('resume.missing', { name: missing.name }) });
      return false;
    }
    t.needs = 'preparing';
    this.m.setState(t, 'paused', tr('resume.checkingFiles'));
    const heads = await Promise.all(picked.map((f) => headOf(f).catch(() => '')));
    const changed = t.files.find((f, i) => f.head && heads[i] !== f.head);
    if (changed) {
      t.needs = 'files';
      this.m.setState(t, 'paused', tr('resume.changed', { name: changed.name }));
      return false;
    }
    t.fileObjs = picked;
    this.ready(t, tr('resume.waiting', { name: t.peerName }));
    return true;
  }

  /** A paused send to peer `peerId`'s name whose files are exactly `files`, if any. */
  recognise(peerId, files) {
    const name = this.m.peerName(peerId);
    for (const t of this.m.transfers.values()) {
      if (t.direction !== 'send' || t.state !== 'paused' || t.needs !== 'files' || t.peerName !== name) continue;
      if (files.length === t.files.length && t.files.every((f) => files.some((x) => sameFile(x, f)))) return t;
    }
    return null;
  }

  ready(t, info) {
    this.pause(t, null, info);
    const link = this.m.peers.byDevice(t.device);
    if (link) this.kick(t, link);
  }

  // ---- finding the device again ----

  ensureTimer() {
    this.timer ??= setInterval(() => this.tick(), TICK_MS);
    setTimeout(() => this.tick(), 0);
  }

  /** Every few seconds while a transfer waits for its device: a link already open to it is
   * used; otherwise the peers with the name it had are dialed (the link then tells whether it
   * is the device: a look-alike's certificate differs). */
  tick() {
    const waiting = [...this.m.transfers.values()].filter((t) => t.state === 'paused' && !t.needs);
    if (!waiting.length) {
      clearInterval(this.timer);
      this.timer = null;
      return;
    }
    for (const t of waiting) {
      const link = this.m.peers.byDevice(t.device);
      if (link) {
        this.kick(t, link);
        continue;
      }
      for (const p of this.m.store.list()) {
        if (p.name !== t.peerName || this.m.peers.links.has(p.id)) continue;
        if (Date.now() - (this.dialed.get(p.id) ?? 0) < REDIAL_MS) continue;
        this.dialed.set(p.id, Date.now());
        try {
          this.m.peers.get(p.id);
        } catch {
          /* not connected to homedrop: the next tick tries again */
        }
      }
    }
  }

  onDevice(link) {
    for (const t of this.m.transfers.values()) {
      if (t.state === 'paused' && t.device === link.device) this.kick(t, link);
    }
  }

  /** Tells the device on `link` that this side is ready to continue `t` (once per link). */
  kick(t, link) {
    if (t.needs || t.kicked === link) return;
    t.kicked = link;
    t.peerId = link.peerId;
    if (t.direction === 'send') link.sendJson({ type: TransferMsg.resume, tid: t.tid });
    else this.sendHave(t, link);
  }

  async sendHave(t, link) {
    const { have, done } = await this.m.receiver.have(t);
    if (t.state !== 'paused' || t.needs || !link.isOpen) return;
    t.peerId = link.peerId;
    link.sendJson({ type: TransferMsg.resumeFrom, tid: t.tid, have, done });
  }

  // ---- messages ----

  /** `resume` / `resumeFrom` from `link`; only the transfer's own device is listened to. */
  async onMessage(link, msg) {
    const device = await link.identified;
    const t = this.m.transfers.get(msg.tid);
    if (!device || !link.isOpen) return;
    if (!t || t.device !== device || this.m.isFinal(t)) {
      if (!t || this.m.isFinal(t)) {
        link.sendJson({ type: TransferMsg.cancel, tid: String(msg.tid).slice(0, 64), reason: tr('resume.gone') });
      }
      return;
    }
    if (msg.type === TransferMsg.resume && t.direction === 'receive') this.onResume(t, link);
    else if (msg.type === TransferMsg.resumeFrom && t.direction === 'send') this.onResumeFrom(t, link, msg);
  }

  onResume(t, link) {
    if (t.state !== 'paused') return;
    t.peerId = link.peerId;
    if (!t.needs) this.sendHave(t, link);
    else if (t.needs === 'continue') this.m.setState(t, 'paused', tr('resume.back', { name: t.peerName }));
  }

  onResumeFrom(t, link, msg) {
    if (t.state !== 'paused') return; // already streaming: a second answer
    const resume = validResume(t, msg);
    if (!resume) {
      this.m.fail(t, tr('resume.badPoint', { name: t.peerName }));
      return;
    }
    t.peerId = link.peerId;
    if (t.needs === 'files') {
      this.m.setState(t, 'paused', tr('resume.ready', { name: t.peerName }));
      return;
    }
    if (t.needs) return;
    t.answer = TransferMsg.accept;
    this.m.setState(t, 'active', '');
    this.m.sender.stream(t, link, resume).catch((err) => {
      if (!this.m.isFinal(t)) this.m.fail(t, err?.message || String(err));
    });
  }
}

function until(r) {
  return new Date(expiresAt(r)).toLocaleDateString(currentLanguage());
}

/** {have, done} when `msg` fits `t`'s files, else null. */
function validResume(t, msg) {
  const { have, done } = msg;
  if (!Array.isArray(have) || have.length !== t.files.length || !Array.isArray(done)) return null;
  if (!have.every((n, i) => Number.isSafeInteger(n) && n >= 0 && n <= t.files[i].size)) return null;
  if (!done.every((i) => Number.isInteger(i) && have[i] === t.files[i]?.size)) return null;
  return { have, done };
}
