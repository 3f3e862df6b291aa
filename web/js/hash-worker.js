// Incremental SHA-256 in a Worker, with hash-wasm's WebAssembly build (vendored, MIT), and,
// when asked, the CRC-32 (ZIP's checksum, for "Save all") of the same bytes beside it.
// Messages in:  {op:'start', id, crc?: bool} | {op:'update', id, buf: ArrayBuffer (transferred)} |
//               {op:'end', id} | {op:'drop', id}
// Messages out: {id, hex, crc?: number} after 'end', or {id, error}.
/* global hashwasm */
importScripts('../vendor/hash-wasm/sha256.umd.min.js');

const jobs = new Map(); // id -> Promise<{h, crc}>, chained so updates stay in order

// CRC-32 (IEEE 802.3, reflected 0xEDB88320), four bytes per step with four tables.
const T = (() => {
  const t = new Uint32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let s = 1; s < 4; s++) t[s * 256 + n] = (t[(s - 1) * 256 + n] >>> 8) ^ t[t[(s - 1) * 256 + n] & 0xff];
  }
  return t;
})();

/** Continues the CRC `c` (pre-inverted state) over `b`. */
function crcUpdate(c, b) {
  let i = 0;
  const end4 = b.length & ~3;
  for (; i < end4; i += 4) {
    c ^= b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    c = T[768 + (c & 0xff)] ^ T[512 + ((c >>> 8) & 0xff)] ^ T[256 + ((c >>> 16) & 0xff)] ^ T[c >>> 24];
  }
  for (; i < b.length; i++) c = T[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return c;
}

function chain(id, fn) {
  const job = jobs.get(id);
  if (!job) return;
  const next = job.then(fn);
  jobs.set(id, next);
  next.catch((err) => {
    jobs.delete(id);
    self.postMessage({ id, error: String(err?.message ?? err) });
  });
}

self.onmessage = ({ data }) => {
  const { op, id } = data;
  if (op === 'start') {
    const crc = data.crc ? 0xffffffff : null;
    jobs.set(id, hashwasm.createSHA256().then((h) => (h.init(), { h, crc })));
  } else if (op === 'update') {
    chain(id, (j) => {
      const bytes = new Uint8Array(data.buf);
      j.h.update(bytes);
      if (j.crc !== null) j.crc = crcUpdate(j.crc, bytes);
      return j;
    });
  } else if (op === 'end') {
    chain(id, (j) => {
      jobs.delete(id);
      const out = { id, hex: j.h.digest('hex') };
      if (j.crc !== null) out.crc = (j.crc ^ 0xffffffff) >>> 0;
      self.postMessage(out);
      return j;
    });
  } else if (op === 'drop') {
    jobs.delete(id);
  }
};
