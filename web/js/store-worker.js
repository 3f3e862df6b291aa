// Stores batches of received bytes as Blobs in IndexedDB, from a short-lived worker.
//
// Why a worker that is thrown away after about one batch's worth of bytes (one 16 MiB batch,
// or the small last batches of several small files: storage.js retires it): a Blob's bytes stay in the browser
// process for as long as any JavaScript handle to it exists, and handles are only released
// by garbage collection, which can lag by hundreds of MiB during a fast transfer (measured:
// +500 MiB per GiB received). Terminating the worker frees its heap, and every handle with
// it, at once. The buffers are handed back (transferred, not copied) for hashing.

const DB_NAME = 'homedrop';
const STORE = 'batches';

let dbPromise = null;
function open() {
  dbPromise ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return dbPromise;
}

function run(db, mode, fn) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const req = fn(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error ?? req.error);
    tx.onabort = () => reject(tx.error ?? new Error('storage transaction aborted'));
  });
}

self.onmessage = async ({ data }) => {
  const { id, key, buffers } = data;
  try {
    const db = await open();
    const blob = new Blob(buffers);
    await run(db, 'readwrite', (s) => s.put(blob, key));
    // Spot-check: what IndexedDB hands back must be a Blob of the same size.
    const back = await run(db, 'readonly', (s) => s.get(key));
    if (!(back instanceof Blob) || back.size !== blob.size) {
      throw new Error('the browser could not store the received data');
    }
    self.postMessage({ id, ok: true, buffers }, buffers);
  } catch (err) {
    self.postMessage({ id, ok: false, name: err?.name || 'Error', message: String(err?.message || err) });
  }
};
