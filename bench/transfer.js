// The transfer bench's raw data channels (bench/transfer.rs), SDP carried by the driver.
// `makeRaw(name)` defines one connection object `window[name]` (offer/answer/accept, as
// bench/sdp.rs expects); several of them between the same two pages are parallel lanes.
// Every receiving channel counts into one `rawAll`, so a run striped over lanes or channels
// is timed from its first header to its last byte.

window.rawAll = { run: null, got: 0, total: 0, start: 0, done: null, mode: '' };

/** Receiver: each run starts with a text header `mode:total:run` on every channel. */
window.rawReceive = (dc) => {
  dc.binaryType = 'arraybuffer';
  dc.got = 0;
  dc.onmessage = (m) => {
    const all = rawAll;
    if (m.data === 'partition') {
      // PairDrop: the sender ended a partition and waits for this acknowledgement.
      dc.send('ack');
      return;
    }
    if (typeof m.data === 'string') {
      const [mode, total, run] = m.data.split(':');
      dc.got = 0;
      if (run !== all.run) Object.assign(all, { run, mode, total: Number(total), got: 0, start: performance.now(), done: null });
      return;
    }
    const n = m.data.byteLength;
    all.got += n;
    dc.got += n;
    // `pinged` (a probe): a small message back per 1,000,000 bytes, nobody waits.
    if (all.mode === 'pinged' && dc.got % 1000000 < n && all.got < all.total) dc.send('ack');
    if (all.got >= all.total && all.done === null) all.done = performance.now() - all.start;
  };
};

window.makeRaw = (name) => {
  const o = {
    async offer(cfg, channels = o.channels || 1) {
      if (o.pc) o.pc.close();
      const pc = new RTCPeerConnection(cfg);
      o.pc = pc;
      o.dcs = [];
      for (let i = 0; i < channels; i++) {
        const dc = pc.createDataChannel('raw' + i, { ordered: true });
        dc.binaryType = 'arraybuffer';
        o.dcs.push(dc);
      }
      o.dc = o.dcs[0];
      await pc.setLocalDescription(await pc.createOffer());
      await benchGathered(pc);
      return JSON.stringify(pc.localDescription);
    },
    async answer(cfg, offer) {
      if (o.pc) o.pc.close();
      const pc = new RTCPeerConnection(cfg);
      o.pc = pc;
      pc.ondatachannel = (ev) => rawReceive(ev.channel);
      await pc.setRemoteDescription(JSON.parse(offer));
      await pc.setLocalDescription(await pc.createAnswer());
      await benchGathered(pc);
      return JSON.stringify(pc.localDescription);
    },
    async accept(answer) {
      await o.pc.setRemoteDescription(JSON.parse(answer));
      await Promise.all(o.dcs.map((dc) => new Promise((r) => (dc.readyState === 'open' ? r() : (dc.onopen = r)))));
      return true;
    },
  };
  window[name] = o;
  return true;
};

/** Resolves when any of `dcs` fires bufferedamountlow. */
function anyLow(dcs, low) {
  return new Promise((r) => {
    for (const dc of dcs) {
      dc.bufferedAmountLowThreshold = low;
      dc.onbufferedamountlow = r;
    }
  });
}

let runs = 0;
function header(dcs, mode, total) {
  const id = `${Date.now()}-${++runs}`;
  for (const dc of dcs) dc.send(`${mode}:${total}:${id}`);
}

window.rawSend = {
  /** `size`-byte messages striped over `dcs` (each gets the next message while its buffer
   * is below the high-water mark `hwm`; the sender resumes when one falls to `low`). The
   * defaults, one channel: the deep-queue ceiling; a shallow queue is faster. */
  async ceiling(dcs, total, size, hwm = 12 << 20, mode = 'ceiling', low = hwm / 3) {
    const buf = new Uint8Array(size);
    header(dcs, mode, total);
    let sent = 0;
    while (sent < total) {
      let dc = dcs[0];
      for (const d of dcs) if (d.bufferedAmount < dc.bufferedAmount) dc = d;
      if (dc.bufferedAmount > hwm) {
        await anyLow(dcs, low);
        continue;
      }
      const n = Math.min(size, total - sent);
      dc.send(n === size ? buf : buf.subarray(0, n));
      sent += n;
    }
    return size;
  },
  /** PairDrop: 64,000-byte chunks; once a partition reaches 1,000,000 bytes the sender
   * says so and waits for the receiver's acknowledgement. `source`: 'memory' sends one
   * buffer over and over (the protocol alone); 'file' reads each chunk from the picked file
   * (`rawPickFile`) with a FileReader before sending it, one read at a time, as PairDrop's
   * own sender (its FileChunker) does. */
  async pairdrop(dcs, total, source = 'memory') {
    const dc = dcs[0];
    const mem = new Uint8Array(64000);
    const file = source === 'file' ? document.querySelector('[data-raw-file]').files[0] : null;
    if (file && file.size < total) throw new Error('the picked file is too small');
    const reader = new FileReader();
    const read = (off, n) =>
      new Promise((resolve, reject) => {
        reader.onload = () => resolve(reader.result);
        reader.onerror = () => reject(reader.error);
        reader.readAsArrayBuffer(file.slice(off, off + n));
      });
    let acks = 0;
    let wake = null;
    dc.onmessage = (m) => {
      if (m.data === 'ack') {
        acks++;
        if (wake) wake();
      }
    };
    header([dc], 'pairdrop', total);
    let sent = 0;
    let partition = 0;
    let waited = 0;
    while (sent < total) {
      const n = Math.min(64000, total - sent);
      dc.send(file ? await read(sent, n) : n === 64000 ? mem : mem.subarray(0, n));
      sent += n;
      partition += n;
      if (partition >= 1000000 && sent < total) {
        partition = 0;
        waited++;
        dc.send('partition');
        while (acks < waited) await new Promise((r) => (wake = r));
      }
      if (dc.bufferedAmount > 8 << 20) await anyLow([dc], 1 << 20);
    }
    return waited;
  },
  /** Paced: `mbps` MB/s in `size`-byte messages striped over `dcs`, topped up every timer
   * tick, so the SCTP queue stays short and the sender never bursts a deep buffer. */
  async paced(dcs, total, size, mbps) {
    const buf = new Uint8Array(size);
    header(dcs, 'paced', total);
    const t0 = performance.now();
    let sent = 0;
    let i = 0;
    while (sent < total) {
      const due = Math.min(total, ((performance.now() - t0) / 1000) * mbps * 1e6 + size);
      while (sent < due && sent < total) {
        const dc = dcs[i++ % dcs.length];
        if (dc.bufferedAmount > 1 << 20) break;
        const n = Math.min(size, total - sent);
        dc.send(n === size ? buf : buf.subarray(0, n));
        sent += n;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    return sent;
  },
};

/** Bytes the transports of connections `names` have sent so far. */
window.rawWire = async (names) => {
  let bytes = 0;
  for (const name of names) {
    const s = await window[name].pc.getStats();
    for (const r of s.values()) if (r.type === 'transport') bytes += r.bytesSent;
  }
  return bytes;
};
makeRaw('raw');

/** A file input the driver fills (DOM.setFileInputFiles) for `pairdrop(…, 'file')`. */
window.rawPickFile = () => {
  if (!document.querySelector('[data-raw-file]')) {
    const input = document.createElement('input');
    input.type = 'file';
    input.dataset.rawFile = '';
    document.body.appendChild(input);
  }
  return true;
};
