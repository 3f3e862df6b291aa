// Incremental SHA-256 in a Worker, with hash-wasm's WebAssembly build (vendored, MIT).
// Messages in:  {op:'start', id} | {op:'update', id, buf: ArrayBuffer (transferred)} |
//               {op:'end', id} | {op:'drop', id}
// Messages out: {id, hex} after 'end', or {id, error}.
/* global hashwasm */
importScripts('../vendor/hash-wasm/sha256.umd.min.js');

const jobs = new Map(); // id -> Promise<hasher>, chained so updates stay in order

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
    jobs.set(id, hashwasm.createSHA256().then((h) => (h.init(), h)));
  } else if (op === 'update') {
    chain(id, (h) => (h.update(new Uint8Array(data.buf)), h));
  } else if (op === 'end') {
    chain(id, (h) => {
      jobs.delete(id);
      self.postMessage({ id, hex: h.digest('hex') });
      return h;
    });
  } else if (op === 'drop') {
    jobs.delete(id);
  }
};
