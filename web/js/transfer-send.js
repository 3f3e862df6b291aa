// Sending half of the transfer protocol: offer, then the accepted files back to back, each
// fileStart → binary chunks (flow-controlled), and its fileEnd(sha256) as soon as its hash is
// ready (possibly among the next file's chunks); fileOk/fileBad of earlier files arrive
// while later ones stream (docs/protocol.md, "Many files"). A resumed transfer
// (transfer-resume.js) streams the same way from the receiver's `resumeFrom` offsets.

import { Hasher } from './hasher.js';
import { thumbnails } from './thumbs.js';
import { TransferMsg } from './protocol.js';
import { dropRecord, headOf, saveRecord } from './transfer-records.js';
import { cannotReceiveFiles } from './caps.js';

/** Default chunk size; localStorage.homedropChunk overrides it (benchmarks). */
export const CHUNK_BYTES = 16 * 1024;
export const SLICE_BYTES = 4 * 1024 * 1024;
/** At most this much queued on the channel (docs/protocol.md, "Speed and flow control"):
 * Chromium's SCTP sends a deep queue in bursts its renderer cannot hand on to the network
 * process, and drops the excess (seen as retransmissions and a collapsed window). */
export const HIGH_WATER_BYTES = 256 * 1024;
export const WINDOW_BYTES = 48 * 1024 * 1024;
const MAX_TEXT_CHARS = 32 * 1024;

/** A number from localStorage (benchmarks tune the client this way), or `fallback`. */
function tuned(key, fallback, min) {
  try {
    const o = Number(localStorage.getItem(key));
    if (Number.isFinite(o) && o >= min) return Math.floor(o);
  } catch {
    /* ignore */
  }
  return fallback;
}

/** Starts reading `file`'s slice at `off` (up to `end`); a read abandoned by a failed send
 * is not an unhandled rejection. */
function readSlice(file, off, end = file.size) {
  const p = file.slice(off, Math.min(off + SLICE_BYTES, end)).arrayBuffer();
  p.catch(() => {});
  return p;
}

function chunkSize(link) {
  return Math.min(tuned('homedropChunk', CHUNK_BYTES, 1024), link.maxMessageSize());
}

export class Sender {
  constructor(manager) {
    this.m = manager;
    this.locks = new WeakMap(); // link -> promise chain: one file stream per channel at a time
  }

  async sendText(peerId, text) {
    if (text.length > MAX_TEXT_CHARS) throw new Error('The text is too long (32 KiB at most).');
    const link = this.m.peers.get(peerId);
    await link.ready();
    link.sendJson({ type: TransferMsg.text, tid: this.m.newTid(), text });
  }

  /** Starts a transfer of `files` (File objects) to one peer; returns its record. */
  sendFiles(peerId, files) {
    const meta = files.map((f) => ({
      name: f.name,
      size: f.size,
      mime: f.type || 'application/octet-stream',
      lastModified: f.lastModified,
    }));
    const t = this.m.create(this.m.newTid(), 'send', peerId, meta);
    t.fileObjs = files;
    t.info = 'Connecting…';
    this.run(t).catch((err) => {
      if (!this.m.isFinal(t)) this.m.fail(t, err?.message || String(err));
    });
    return t;
  }

  async run(t) {
    // A device that said it cannot receive files fails the transfer now, not after a timeout.
    const unable = cannotReceiveFiles(this.m.store.get(t.peerId));
    if (unable) throw new Error(unable);
    const link = this.m.peers.get(t.peerId);
    await link.ready();
    if (this.m.isFinal(t)) return;
    // The heads (recognising the files after a reload) are hashed while the peer decides.
    const heads = Promise.all(t.fileObjs.map((f) => headOf(f).catch(() => '')));
    const thumbs = await thumbnails(t.fileObjs);
    const files = t.files.map((f, i) => {
      const o = { name: f.name, size: f.size, mime: f.mime };
      if (thumbs[i]) o.thumb = thumbs[i];
      return o;
    });
    link.sendJson({ type: TransferMsg.offer, tid: t.tid, files });
    t.info = `Waiting for ${t.peerName} to accept…`;
    this.m.touch(t, true);
    while (!t.answer) await this.m.wait(t);
    if (t.answer === TransferMsg.decline) {
      this.m.setState(t, 'declined', `${t.peerName} declined.`);
      return;
    }
    this.m.setState(t, 'active', t.files.length > 1 ? 'Queued…' : '');
    await this.remember(t, link, await heads);
    await this.stream(t, link, null);
  }

  /** Keeps what a reloaded page needs to recognise this transfer (transfer-records.js). */
  async remember(t, link, heads) {
    t.device = await link.identified;
    if (!t.device || this.m.isFinal(t)) return;
    t.files.forEach((f, i) => {
      f.head = heads[i];
    });
    const files = t.files.map((f) => ({ name: f.name, size: f.size, mime: f.mime, lastModified: f.lastModified, head: f.head }));
    saveRecord({ tid: t.tid, dir: 'send', device: t.device, peerName: t.peerName, files });
  }

  /** Streams the files on `link` (from the receiver's `have`/`done` when resuming) until
   * done; a pause (lost connection) or a newer run ends it quietly. */
  async stream(t, link, resume) {
    const gen = (t.gen = (t.gen ?? 0) + 1);
    try {
      await this.locked(link, () => this.sendAll(t, link, resume, gen));
    } catch (err) {
      if (t.gen !== gen || t.state === 'paused') return;
      throw err;
    }
    if (t.gen !== gen || t.state !== 'active') return;
    this.m.setState(t, 'done', 'Sent');
    dropRecord(t.tid);
    t.fileObjs = null;
  }

  /** Runs fn while holding the channel's stream lock. */
  locked(link, fn) {
    const prev = this.locks.get(link) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(fn);
    this.locks.set(link, run.catch(() => {}));
    return run;
  }

  /** Sends every file back to back: file i+1's bytes flow while file i is verified (the
   * byte window across files is the flow control); then waits for every verdict. Resuming,
   * the files the receiver verified are skipped and the others start at its stored bytes. */
  async sendAll(t, link, resume, gen) {
    t.startedAt = performance.now();
    t.info = '';
    t.sentBytes ??= 0; // payload bytes put on the wire, over every run (resume overhead)
    this.layout(t, resume);
    const todo = t.files.map((_, i) => i).filter((i) => !t.files[i].result);
    const live = () => t.gen === gen && t.state === 'active';
    const read = (k) => {
      const i = todo[k];
      return k < todo.length && t.files[i].offset === 0 ? readSlice(t.fileObjs[i], 0) : null;
    };
    let first = read(0);
    t.ends = [];
    for (let k = 0; k < todo.length; k++) {
      if (!live()) throw new Error('paused');
      first = await this.sendFile(t, link, todo[k], first, () => read(k + 1));
    }
    await Promise.all(t.ends);
    while (t.files.some((f) => !f.result)) {
      this.checkVerdicts(t);
      if (!live()) throw new Error('paused');
      await this.m.wait(t);
    }
    this.checkVerdicts(t);
  }

  /** Each file's place in the byte stream, and what the receiver already has. */
  layout(t, resume) {
    const done = new Set(resume?.done ?? []);
    let base = 0;
    t.files.forEach((f, i) => {
      f.base = base;
      base += f.size;
      f.offset = resume ? resume.have[i] : 0;
      f.acked = f.offset;
      f.bytes = f.offset;
      f.result = done.has(i) ? 'ok' : undefined;
      if (f.result) f.state = 'done';
    });
    t.bytes = t.files.reduce((n, f) => n + f.bytes, 0);
    t.ackFile = 0;
    t.sent = 0;
    this.acked(t, t.files[0] ?? {}, t.files[0]?.acked ?? 0);
  }

  /** Throws once the receiver reported a damaged file. */
  checkVerdicts(t) {
    const bad = t.files.find((f) => f.result === 'bad');
    if (bad) throw new Error(`“${bad.name}” arrived damaged (checksum mismatch).`);
  }

  /** Streams one file from its offset (its first slice may already be being read: `first`)
   * and its fileEnd; returns the read of the next file's first slice, started while this
   * one's last slice is sent. */
  async sendFile(t, link, index, first, following) {
    const file = t.fileObjs[index];
    const f = t.files[index];
    const chunk = chunkSize(link);
    t.highWater = tuned('homedropHighWater', HIGH_WATER_BYTES, 65536);
    t.lowWater = Math.min(tuned('homedropLowWater', t.highWater / 4, 1), t.highWater);
    const hasher = new Hasher();
    t.index = index;
    t.sent = f.base + f.offset;
    f.state = 'active';
    link.sendJson({ type: TransferMsg.fileStart, tid: t.tid, index, size: file.size, offset: f.offset });
    // The next slice is read while this one is sent: the channel's queue holds only a few
    // milliseconds of data, so waiting for the disk between slices would idle the link.
    let after = f.offset === file.size ? following() : null;
    try {
      await this.hashPrefix(file, f.offset, hasher);
      let next = first ?? (f.offset < file.size ? readSlice(file, f.offset) : null);
      for (let off = f.offset; off < file.size; off += SLICE_BYTES) {
        const buf = await next;
        const more = off + SLICE_BYTES < file.size;
        next = more ? readSlice(file, off + SLICE_BYTES) : null;
        if (!more) after = following();
        await this.sendSlice(t, link, buf, chunk, f);
        hasher.update(buf);
      }
    } catch (err) {
      hasher.drop();
      throw this.readError(err, file);
    }
    // The next file starts at once; this one's fileEnd follows when its hash is ready (the
    // receiver finds a fileEnd by index), so the channel never waits for the hash worker.
    f.state = 'sent';
    t.ends.push(
      hasher.digest().then((sha256) => {
        if (this.m.isFinal(t) || t.state !== 'active' || !link.isOpen) return;
        link.sendJson({ type: TransferMsg.fileEnd, tid: t.tid, index, sha256 });
        f.sha256 = sha256;
      }),
    );
    return after;
  }

  /** Resuming at `offset`: the bytes the receiver already has are hashed from the file (the
   * SHA-256 at fileEnd is of the whole file), not sent. */
  async hashPrefix(file, offset, hasher) {
    for (let off = 0; off < offset; off += SLICE_BYTES) hasher.update(await readSlice(file, off, offset));
  }

  readError(err, file) {
    if (err?.name === 'NotReadableError' || err?.name === 'NotFoundError') {
      return new Error(`Could not read “${file.name}” (was it moved or changed?).`);
    }
    return err;
  }

  async sendSlice(t, link, buf, chunk, f) {
    for (let p = 0; p < buf.byteLength; p += chunk) {
      if (link.dc.bufferedAmount > t.highWater) await link.drain(t.lowWater);
      while (t.sent - t.acked > WINDOW_BYTES && t.state === 'active') await this.m.wait(t);
      if (t.state !== 'active') throw new Error(t.info || t.state);
      this.checkVerdicts(t);
      const n = Math.min(chunk, buf.byteLength - p);
      link.sendBinary(new Uint8Array(buf, p, n));
      t.sent += n;
      t.sentBytes += n;
      f.bytes += n;
      t.bytes += n;
      this.m.touch(t);
    }
  }

  /** Acks are per file; the window counts the bytes of the files acknowledged without a gap. */
  acked(t, f, bytes) {
    if (f.base === undefined) return;
    f.acked = Math.max(f.acked, Math.min(bytes, f.size));
    while (t.ackFile < t.files.length && t.files[t.ackFile].acked >= t.files[t.ackFile].size) t.ackFile++;
    const g = t.files[t.ackFile];
    t.acked = g ? g.base + g.acked : t.total;
  }

  onControl(t, msg) {
    const f = Number.isInteger(msg.index) ? t.files[msg.index] : undefined;
    switch (msg.type) {
      case TransferMsg.accept:
      case TransferMsg.decline:
        t.answer ??= msg.type;
        break;
      case TransferMsg.ack:
        if (f && Number.isFinite(msg.bytes)) this.acked(t, f, msg.bytes);
        break;
      case TransferMsg.fileOk:
        if (!f || f.result) return;
        f.result = 'ok';
        f.state = 'done';
        this.acked(t, f, f.size);
        this.m.touch(t);
        break;
      case TransferMsg.fileBad:
        if (!f) return;
        f.result = 'bad';
        f.state = 'failed';
        break;
      default:
        return;
    }
    this.m.wake(t);
  }
}
