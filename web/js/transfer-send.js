// Sending half of the transfer protocol: offer, then the accepted files back to back, each
// fileStart → binary chunks (flow-controlled) → fileEnd(sha256); fileOk/fileBad of earlier
// files arrive while later ones stream (docs/protocol.md, "Many files").

import { Hasher } from './hasher.js';
import { thumbnails } from './thumbs.js';
import { TransferMsg } from './protocol.js';

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

/** Starts reading `file`'s slice at `off`; a read abandoned by a failed send is not an
 * unhandled rejection. */
function readSlice(file, off) {
  const p = file.slice(off, off + SLICE_BYTES).arrayBuffer();
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
    const link = this.m.peers.get(t.peerId);
    await link.ready();
    if (this.m.isFinal(t)) return;
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
    await this.locked(link, () => this.sendAll(t, link));
    this.m.setState(t, 'done', 'Sent');
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
   * byte window across files is the flow control); then waits for every verdict. */
  async sendAll(t, link) {
    t.startedAt = performance.now();
    t.info = '';
    t.sent = 0;
    t.acked = 0;
    t.ackFile = 0; // the first file not yet acknowledged in full
    let base = 0;
    for (const f of t.files) {
      f.base = base;
      f.acked = 0;
      base += f.size;
    }
    const n = t.files.length;
    let first = readSlice(t.fileObjs[0], 0);
    for (let i = 0; i < n; i++) {
      if (this.m.isFinal(t)) return;
      const following = () => (i + 1 < n ? readSlice(t.fileObjs[i + 1], 0) : null);
      first = await this.sendFile(t, link, i, first, following);
    }
    while (t.files.some((f) => !f.result)) {
      this.checkVerdicts(t);
      await this.m.wait(t);
    }
    this.checkVerdicts(t);
  }

  /** Throws once the receiver reported a damaged file. */
  checkVerdicts(t) {
    const bad = t.files.find((f) => f.result === 'bad');
    if (bad) throw new Error(`“${bad.name}” arrived damaged (checksum mismatch).`);
  }

  /** Streams one file (its first slice already being read: `first`) and its fileEnd; returns
   * the read of the next file's first slice, started while this one's last slice is sent. */
  async sendFile(t, link, index, first, following) {
    const file = t.fileObjs[index];
    const f = t.files[index];
    const chunk = chunkSize(link);
    t.highWater = tuned('homedropHighWater', HIGH_WATER_BYTES, 65536);
    t.lowWater = Math.min(tuned('homedropLowWater', t.highWater / 4, 1), t.highWater);
    const hasher = new Hasher();
    t.index = index;
    f.state = 'active';
    link.sendJson({ type: TransferMsg.fileStart, tid: t.tid, index, size: file.size });
    // The next slice is read while this one is sent: the channel's queue holds only a few
    // milliseconds of data, so waiting for the disk between slices would idle the link.
    let after = file.size === 0 ? following() : null;
    try {
      let next = first;
      for (let off = 0; off < file.size; off += SLICE_BYTES) {
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
    const sha256 = await hasher.digest();
    if (this.m.isFinal(t)) return after;
    link.sendJson({ type: TransferMsg.fileEnd, tid: t.tid, index, sha256 });
    f.sha256 = sha256;
    f.state = 'sent';
    return after;
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
      while (t.sent - t.acked > WINDOW_BYTES) await this.m.wait(t);
      if (this.m.isFinal(t)) throw new Error(t.info || t.state);
      this.checkVerdicts(t);
      const n = Math.min(chunk, buf.byteLength - p);
      link.sendBinary(new Uint8Array(buf, p, n));
      t.sent += n;
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
