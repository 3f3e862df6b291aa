// Receiving half of the transfer protocol: offers, texts, and file bytes stored in batches
// (storage.js) with an `ack` after each stored batch, verified by SHA-256 at `fileEnd`.
// What is stored survives a lost connection or a reload: `have()` reports it for a resume
// (transfer-resume.js), and `restore()` rebuilds a file's state from its stored batches.

import { Hasher } from './hasher.js';
import { BATCH_BYTES, openSink, sessionId } from './storage.js';
import { validThumb } from './thumbs.js';
import { alwaysAccepts } from './pairs.js';
import { TransferMsg } from './protocol.js';
import { dropRecord, saveRecord } from './transfer-records.js';
import { t as tr } from './i18n.js';

const TID_RE = /^[0-9A-Za-z]{1,64}$/;

const MAX_FILES = 1000;
const MAX_TEXT_CHARS = 32 * 1024;

function cleanFileName(raw) {
  // eslint-disable-next-line no-control-regex
  const name = String(raw ?? '').replace(/[\u0000-\u001f\u007f/\\]/g, '_').trim().slice(0, 255);
  return name || 'file';
}

/** Validates an offer's file list; returns null when it is malformed. */
function parseFiles(files) {
  if (!Array.isArray(files) || files.length === 0 || files.length > MAX_FILES) return null;
  const out = [];
  for (const f of files) {
    if (!f || !Number.isSafeInteger(f.size) || f.size < 0) return null;
    const mime = typeof f.mime === 'string' && f.mime.length < 200 ? f.mime : '';
    const o = { name: cleanFileName(f.name), size: f.size, mime };
    if (validThumb(f.thumb)) o.thumb = f.thumb;
    out.push(o);
  }
  return out;
}

/** One file being received: its sink, hash and the batch collecting in memory. */
class Incoming {
  constructor(t, index) {
    this.t = t;
    this.index = index;
    this.file = t.files[index];
    this.sink = openSink(t.tid, index, this.file.mime, t.prefix);
    this.hasher = new Hasher({ crc: true }); // CRC-32 for "Save all" (a ZIP needs it)
    this.parts = [];
    this.partBytes = 0;
    this.received = 0;
    this.chain = Promise.resolve();
  }
}

export class Receiver {
  constructor(manager) {
    this.m = manager;
    this.current = new Map(); // peerId -> Incoming (the file whose chunks are arriving)
    this.pending = new Map(); // tid -> Set<Incoming> not yet handed over
  }

  async onOffer(link, msg) {
    const files = parseFiles(msg.files);
    if (typeof msg.tid !== 'string' || !TID_RE.test(msg.tid) || !files) return;
    if (this.m.transfers.has(msg.tid)) return;
    const t = this.m.create(msg.tid, 'receive', link.peerId, files);
    t.info = tr('receive.from', { name: t.peerName });
    const peer = this.m.peerInfo(link.peerId);
    // A device with a verified device's name or pairing but another certificate (verify.js)
    // is never accepted without its user seeing why.
    t.device = await link.identified; // the certificate of the live link (identity.js)
    if (this.m.verifier?.judge(peer, t.device) === 'changed') {
      t.warning = tr('receive.codeChanged', { name: t.peerName });
    }
    if (this.m.isFinal(t)) return;
    if (alwaysAccepts(peer) && !t.warning) this.accept(t.tid);
    else this.m.bus.emit('transfer:request', t);
  }

  onText(link, msg) {
    if (typeof msg.text !== 'string' || msg.text.length > MAX_TEXT_CHARS) return;
    this.m.bus.emit('received:text', { from: this.m.peerName(link.peerId), text: msg.text });
  }

  accept(tid) {
    const t = this.m.transfers.get(tid);
    if (!t || t.state !== 'waiting' || t.direction !== 'receive') return;
    if (!this.m.tell(t, { type: TransferMsg.accept, tid })) {
      this.m.fail(t, tr('transfer.lost', { name: t.peerName }), false);
      return;
    }
    t.startedAt = performance.now();
    t.prefix = sessionId();
    this.m.setState(t, 'active', '');
    this.save(t);
  }

  /** Keeps what a reloaded page needs to offer to continue (transfer-records.js); nothing
   * without the other device's certificate (such a transfer cannot be resumed). */
  save(t) {
    if (!t.device) return;
    const files = t.files.map((f) => ({ name: f.name, size: f.size, mime: f.mime }));
    const done = {};
    t.files.forEach((f, i) => {
      if (f.state === 'done') done[i] = { sha256: f.sha256, crc: f.crc };
    });
    const finished = t.state === 'done';
    saveRecord({ tid: t.tid, dir: 'receive', device: t.device, peerName: t.peerName, files, prefix: t.prefix, done, holder: sessionId(), finished });
  }

  decline(tid) {
    const t = this.m.transfers.get(tid);
    if (!t || t.state !== 'waiting' || t.direction !== 'receive') return;
    this.m.tell(t, { type: TransferMsg.decline, tid });
    this.m.setState(t, 'declined', tr('transfer.state.declined'));
  }

  onControl(t, msg, link) {
    // A resumed transfer starts again with the fileStart that answers its resumeFrom.
    if (t.state === 'paused' && !t.needs && msg.type === TransferMsg.fileStart) {
      t.startedAt = performance.now();
      this.m.setState(t, 'active', '');
    }
    if (t.state !== 'active') return;
    if (msg.type === TransferMsg.fileStart) this.onFileStart(t, msg, link);
    else if (msg.type === TransferMsg.fileEnd) this.onFileEnd(t, msg, link);
  }

  onFileStart(t, msg, link) {
    const f = t.files[msg.index];
    const offset = msg.offset ?? 0;
    if (!f || msg.size !== f.size) {
      this.m.fail(t, tr('receive.notOffered'));
      return;
    }
    // The previous file may still be stored and verified on its own chain (files are
    // pipelined); only its chunks must be over, which its fileEnd said. A resumed file
    // continues exactly at what is stored of it.
    let inc = t.incoming?.get(msg.index);
    if (f.state === 'done' || (inc ? inc.received : 0) !== offset || (inc && inc.parts.length)) {
      this.m.fail(t, tr('receive.badResume'));
      return;
    }
    if (!inc) {
      inc = new Incoming(t, msg.index);
      this.track(t, inc);
    }
    this.current.set(link.peerId, inc);
    f.state = 'active';
    this.m.touch(t);
  }

  onChunk(link, data) {
    const inc = this.current.get(link.peerId);
    if (!inc || this.m.isFinal(inc.t)) return;
    const n = data.byteLength;
    inc.received += n;
    if (inc.received > inc.file.size) {
      this.current.delete(link.peerId);
      this.m.fail(inc.t, tr('receive.tooMuch'));
      return;
    }
    // Keep the buffers until the batch is full; storage.js turns each batch into one Blob.
    inc.parts.push(data);
    inc.partBytes += n;
    inc.file.bytes += n;
    inc.t.bytes += n;
    this.m.touch(inc.t);
    if (inc.partBytes >= BATCH_BYTES) this.flush(inc);
  }

  /** Stores the collected batch (in order, after earlier ones) and acks it once stored. */
  flush(inc) {
    if (inc.partBytes === 0) return;
    const buffers = inc.parts;
    const upTo = inc.received;
    inc.parts = [];
    inc.partBytes = 0;
    inc.chain = inc.chain.then(async () => {
      if (this.m.isFinal(inc.t)) return;
      // Stored first (in a worker), then hashed: batches stay in order on this chain.
      for (const buf of await inc.sink.write(buffers)) inc.hasher.update(buf);
      this.m.tell(inc.t, { type: TransferMsg.ack, tid: inc.t.tid, index: inc.index, bytes: upTo });
    });
    inc.chain.catch((err) => this.storageFailed(inc, err));
  }

  storageFailed(inc, err) {
    if (this.m.isFinal(inc.t)) return;
    const why =
      err?.name === 'QuotaExceededError'
        ? tr('receive.noSpace')
        : tr('receive.storeFailed', { detail: `${err?.name || 'Error'}: ${err?.message || err}` });
    this.m.fail(inc.t, tr('receive.failed', { name: inc.file.name, reason: why }));
  }

  /** A file's fileEnd may come after the next file's fileStart (the sender does not wait
   * for its hash): it is found by index; its chunks were all before that fileStart. */
  onFileEnd(t, msg, link) {
    const inc = t.incoming?.get(msg.index);
    if (!inc || inc.ended) return;
    if (this.current.get(link.peerId) === inc) this.current.delete(link.peerId);
    inc.ended = true;
    this.flush(inc);
    // On the file's chain, so a resume's have() sees the verdict.
    inc.chain = inc.chain.then(() => this.verify(inc, String(msg.sha256 ?? '').toLowerCase()));
    inc.chain.catch((err) => this.storageFailed(inc, err));
  }

  async verify(inc, expected) {
    const { t, file, index } = inc;
    if (this.m.isFinal(t)) return;
    const { hex: actual, crc } = await inc.hasher.digests();
    if (this.m.isFinal(t)) return;
    if (inc.received !== file.size || actual !== expected) {
      const reason = inc.received !== file.size ? 'size' : 'checksum';
      this.m.tell(t, { type: TransferMsg.fileBad, tid: t.tid, index, reason });
      file.state = 'failed';
      this.m.fail(t, tr(reason === 'size' ? 'receive.damagedSize' : 'receive.damagedChecksum', { name: file.name }), false);
      return;
    }
    const blob = await inc.sink.finish();
    this.untrack(t, inc);
    this.m.tell(t, { type: TransferMsg.fileOk, tid: t.tid, index });
    file.state = 'done';
    file.sha256 = actual;
    file.crc = crc;
    this.handOver(t, index, blob, inc.sink);
    if (t.files.every((f) => f.state === 'done')) this.m.setState(t, 'done', tr('transfer.received'));
    else this.m.touch(t);
    this.save(t);
  }

  /** A verified file goes to the inbox. */
  handOver(t, index, blob, sink) {
    const file = t.files[index];
    this.m.bus.emit('received:file', {
      transfer: t,
      index,
      name: file.name,
      size: file.size,
      mime: file.mime,
      sha256: file.sha256,
      crc: file.crc,
      blob,
      discard: () => sink.discard().catch(() => {}),
    });
  }

  track(t, inc) {
    if (!this.pending.has(t.tid)) this.pending.set(t.tid, new Set());
    this.pending.get(t.tid).add(inc);
    (t.incoming ??= new Map()).set(inc.index, inc);
  }

  untrack(t, inc) {
    this.pending.get(t.tid)?.delete(inc);
    t.incoming?.delete(inc.index);
  }

  /** Deletes whatever an abandoned transfer had stored. */
  cleanup(t) {
    dropRecord(t.tid);
    for (const [peerId, inc] of this.current) {
      if (inc.t === t) this.current.delete(peerId);
    }
    for (const inc of this.pending.get(t.tid) ?? []) {
      inc.hasher.drop();
      // After the pending writes settle, so nothing lands after the delete.
      inc.chain
        .catch(() => {})
        .then(() => inc.sink.discard())
        .catch(() => {});
    }
    this.pending.delete(t.tid);
    // A restored transfer discarded before Continue: its batches have no Incoming yet.
    if (!t.prefix) return;
    t.files.forEach((f, i) => {
      if (f.state !== 'done' && !t.incoming?.has(i)) openSink(t.tid, i, f.mime, t.prefix).discard().catch(() => {});
    });
  }

  dropLink(peerId) {
    this.current.delete(peerId);
  }

  // ---- resume (transfer-resume.js) ----

  /** The connection went: what arrived so far is stored, so it is not asked for again. */
  pause(t) {
    for (const [peerId, inc] of this.current) if (inc.t === t) this.current.delete(peerId);
    for (const inc of t.incoming?.values() ?? []) this.flush(inc);
  }

  /** {have: stored bytes per file, done: verified indexes} once every write and check of
   * the transfer has settled: what `resumeFrom` tells the sender. */
  async have(t) {
    await Promise.allSettled([...(t.incoming?.values() ?? [])].map((inc) => inc.chain));
    const have = [];
    const done = [];
    t.files.forEach((f, i) => {
      if (f.state === 'done') done.push(i);
      have.push(f.state === 'done' ? f.size : (t.incoming?.get(i)?.received ?? 0));
    });
    return { have, done };
  }

  /** After a reload: the files verified before it go to the inbox again, and the bytes
   * kept of the others are counted (shown until the user continues or discards). */
  async restoreKept(t, done) {
    for (let i = 0; i < t.files.length; i++) {
      const f = t.files[i];
      const d = done?.[i];
      const sink = openSink(t.tid, i, f.mime, t.prefix);
      const bytes = await sink.restore();
      f.bytes = Math.min(bytes, f.size);
      if (typeof d?.sha256 !== 'string' || bytes !== f.size) continue;
      Object.assign(f, { state: 'done', sha256: d.sha256, crc: d.crc });
      this.handOver(t, i, await sink.finish(), sink);
    }
    t.bytes = t.files.reduce((n, f) => n + f.bytes, 0);
  }

  /** After a reload, before continuing: each unfinished file's stored batches are counted
   * and hashed again (the SHA-256 at fileEnd covers the whole file). */
  async restorePartial(t) {
    for (let i = 0; i < t.files.length; i++) {
      const f = t.files[i];
      if (f.state === 'done' || t.incoming?.has(i)) continue;
      const inc = new Incoming(t, i);
      const bytes = await inc.sink.restore();
      if (bytes === 0 || bytes > f.size) {
        inc.hasher.drop();
        if (bytes) await inc.sink.discard();
        continue;
      }
      for (let n = 0; n < inc.sink.count; n++) inc.hasher.update(await (await inc.sink.readBatch(n)).arrayBuffer());
      inc.received = bytes;
      f.bytes = bytes;
      this.track(t, inc);
    }
    t.bytes = t.files.reduce((n, f) => n + f.bytes, 0);
  }
}
