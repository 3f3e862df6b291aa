// Bounded-memory storage for received files, in batches that survive a reload (resume).
// Secure context: OPFS, one file per batch. Plain http (phones on the LAN): IndexedDB, one
// Blob per batch. A finished file is new Blob(its batches), which stays file-backed, so
// neither receiving nor saving holds the file in memory. Either way a batch is stored whole
// or not at all, so after a reload the stored prefix of a file is exactly its batches.
// Names start with the session id of the tab that began the file; a localStorage heartbeat
// tells other tabs which sessions are alive, so at startup what closed tabs left is deleted,
// except the transfers that can still be resumed (transfer-records.js says which).

import { randomId } from './events.js';
import { openDb, runTx } from './idb.js';
import { t } from './i18n.js';

export const BATCH_BYTES = 16 * 1024 * 1024;
const DB_NAME = 'homedrop';
const STORE = 'batches';
const ALIVE_PREFIX = 'homedropAlive.';
const HEARTBEAT_MS = 5000;
const STALE_MS = 30000;
const session = randomId(6);

/** OPFS where batches can be written from the page (createWritable: Safari before 26 has
 * OPFS without it); IndexedDB everywhere else. */
function useOpfs() {
  return (
    window.isSecureContext &&
    typeof navigator.storage?.getDirectory === 'function' &&
    typeof globalThis.FileSystemFileHandle?.prototype?.createWritable === 'function'
  );
}

// ---- session heartbeat ----

function beat() {
  try {
    localStorage.setItem(ALIVE_PREFIX + session, String(Date.now()));
  } catch {
    /* ignore */
  }
}

function aliveSessions() {
  const alive = new Set([session]);
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (!k?.startsWith(ALIVE_PREFIX)) continue;
      const at = Number(localStorage.getItem(k));
      if (Date.now() - at < STALE_MS) alive.add(k.slice(ALIVE_PREFIX.length));
      else localStorage.removeItem(k);
    }
  } catch {
    /* ignore */
  }
  return alive;
}

// ---- IndexedDB helpers ----

let dbPromise = null;
function db() {
  dbPromise ??= openDb(DB_NAME, STORE);
  return dbPromise;
}

async function idb(mode, fn) {
  return runTx(await db(), STORE, mode, fn);
}

function batchKey(name, n) {
  return `${name}/${String(n).padStart(8, '0')}`;
}

/** This tab's session id: the prefix of the storage names of the files it begins. */
export function sessionId() {
  return session;
}

/** Is the tab of session `id` still open (its heartbeat is recent)? */
export function isAlive(id) {
  return aliveSessions().has(id);
}

// ---- the store worker (store-worker.js) ----

// One worker takes writes until it has been given a batch's worth of bytes, then retires:
// it is terminated once its last write is answered (that frees every Blob handle it held).
// Small files (their one short batch each) share a worker instead of starting one each.
let storer = null; // {worker, bytes, pending: Map(id -> {resolve, reject}), retired}
let nextWrite = 0;
const IDLE_STORER_MS = 1000;

function finishStorer(s, err) {
  s.worker.terminate();
  for (const w of s.pending.values()) w.reject(err);
  s.pending.clear();
  if (storer === s) storer = null;
}

function newStorer() {
  const s = { worker: new Worker(new URL('./store-worker.js', import.meta.url)), bytes: 0, pending: new Map(), retired: false };
  s.worker.onmessage = ({ data }) => {
    const w = s.pending.get(data.id);
    s.pending.delete(data.id);
    if (s.pending.size === 0) {
      if (s.retired) s.worker.terminate();
      else s.idle = setTimeout(() => retireIdle(s), IDLE_STORER_MS);
    }
    if (!w) return;
    if (data.ok) return w.resolve(data.buffers);
    const err = new Error(data.message);
    err.name = data.name;
    w.reject(err);
  };
  s.worker.onerror = (e) => finishStorer(s, new Error(e.message || t('error.storageWorker')));
  return s;
}

/** A worker with nothing to do lets its handles go after a moment. */
function retireIdle(s) {
  if (s.pending.size > 0) return;
  s.retired = true;
  if (storer === s) storer = null;
  s.worker.terminate();
}

function storeInWorker(key, buffers) {
  const s = (storer ??= newStorer());
  clearTimeout(s.idle);
  const id = nextWrite++;
  s.bytes += buffers.reduce((n, b) => n + b.byteLength, 0);
  if (s.bytes >= BATCH_BYTES) {
    s.retired = true;
    storer = null;
  }
  return new Promise((resolve, reject) => {
    s.pending.set(id, { resolve, reject });
    s.worker.postMessage({ id, key, buffers }, buffers);
  });
}

// ---- sinks ----

class IdbSink {
  constructor(name, mime) {
    this.name = name;
    this.mime = mime;
    this.count = 0;
  }

  /** Stores one batch (an array of ArrayBuffers); resolves to the same buffers. */
  write(buffers) {
    const key = batchKey(this.name, this.count);
    this.count += 1;
    return storeInWorker(key, buffers);
  }

  /** After a reload: counts the batches stored without a gap; resolves to their bytes. */
  async restore() {
    const range = IDBKeyRange.bound(`${this.name}/`, `${this.name}/\uffff`);
    const keys = (await idb('readonly', (s) => s.getAllKeys(range))) ?? [];
    const parts = (await idb('readonly', (s) => s.getAll(range))) ?? [];
    let bytes = 0;
    this.count = 0;
    while (this.count < keys.length && keys[this.count] === batchKey(this.name, this.count) && parts[this.count] instanceof Blob) {
      bytes += parts[this.count].size;
      this.count += 1;
    }
    return bytes;
  }

  /** Stored batch `n` (a Blob). */
  async readBatch(n) {
    const part = await idb('readonly', (s) => s.get(batchKey(this.name, n)));
    if (!(part instanceof Blob)) throw new Error(t('error.partMissing'));
    return part;
  }

  async finish() {
    const parts = [];
    for (let n = 0; n < this.count; n++) {
      const part = await idb('readonly', (s) => s.get(batchKey(this.name, n)));
      if (!(part instanceof Blob)) throw new Error(t('error.partMissing'));
      parts.push(part);
    }
    return new Blob(parts, { type: this.mime });
  }

  async discard() {
    const range = IDBKeyRange.bound(`${this.name}/`, `${this.name}/\uffff`);
    await idb('readwrite', (s) => s.delete(range));
  }
}

class OpfsSink {
  constructor(name, mime) {
    this.name = name;
    this.mime = mime;
    this.count = 0;
  }

  part(n) {
    return `${this.name}.${String(n).padStart(8, '0')}`;
  }

  /** Writes one batch (an array of ArrayBuffers) as its own file, committed on close;
   * resolves to the same buffers. */
  async write(buffers) {
    const dir = await navigator.storage.getDirectory();
    const handle = await dir.getFileHandle(this.part(this.count), { create: true });
    const w = await handle.createWritable();
    // One write of the whole batch (a thousand small writes cost more than the bytes).
    await w.write(new Blob(buffers));
    await w.close();
    this.count += 1;
    return buffers;
  }

  async restore() {
    const dir = await navigator.storage.getDirectory();
    let bytes = 0;
    for (this.count = 0; ; this.count++) {
      const file = await dir
        .getFileHandle(this.part(this.count))
        .then((h) => h.getFile())
        .catch(() => null);
      if (!file) return bytes;
      bytes += file.size;
    }
  }

  async readBatch(n) {
    const dir = await navigator.storage.getDirectory();
    return (await dir.getFileHandle(this.part(n))).getFile();
  }

  async finish() {
    const parts = [];
    for (let n = 0; n < this.count; n++) parts.push(await this.readBatch(n));
    return new Blob(parts, { type: this.mime });
  }

  async discard() {
    const dir = await navigator.storage.getDirectory();
    const mine = [];
    for await (const name of dir.keys()) if (name.startsWith(`${this.name}.`)) mine.push(name);
    for (const name of mine) await dir.removeEntry(name).catch(() => {});
  }
}

/** A sink for one received file: write(buffers) per batch, finish() → Blob, discard(),
 * restore() → bytes already stored, readBatch(n). `prefix`: the session that began it. */
export function openSink(tid, index, mime, prefix = session) {
  const name = `${prefix}-${tid}-${index}`;
  return useOpfs() ? new OpfsSink(name, mime) : new IdbSink(name, mime);
}

export function storageKind() {
  return useOpfs() ? 'opfs' : 'indexeddb';
}

/** Starts the heartbeat and deletes what closed tabs left behind, except the data of
 * transfers for which `keepTid(tid)` is true. */
export async function startStorage(keepTid = () => false) {
  beat();
  setInterval(beat, HEARTBEAT_MS);
  window.addEventListener('pagehide', () => {
    try {
      localStorage.removeItem(ALIVE_PREFIX + session);
    } catch {
      /* ignore */
    }
  });
  const alive = aliveSessions();
  const stale = (name) => {
    const [owner, tid] = name.split(/[-/.]/);
    return !alive.has(owner) && !keepTid(tid);
  };
  try {
    if (useOpfs()) {
      const dir = await navigator.storage.getDirectory();
      const old = [];
      for await (const name of dir.keys()) if (stale(name)) old.push(name);
      for (const name of old) await dir.removeEntry(name).catch(() => {});
    }
    const keys = await idb('readonly', (s) => s.getAllKeys());
    const old = (keys ?? []).filter((k) => stale(String(k)));
    if (old.length) await idb('readwrite', (s) => old.forEach((k) => s.delete(k)));
  } catch (err) {
    console.warn('could not clean old received data', err);
  }
}
