// Room conversation history, kept only on this device (IndexedDB), per room (see historyKey).
//
// Why IndexedDB: it is available on plain http (no secure context needed) and stores Blobs,
// so photos and audio survive a reload. Bounded: the newest MAX_PER_ROOM messages of a room
// are kept, and media larger than MAX_MEDIA_BYTES is kept as a line without its bytes.

const DB_NAME = 'homedrop-chat';
const STORE = 'messages';
export const MAX_PER_ROOM = 500;
export const MAX_MEDIA_BYTES = 20 * 1024 * 1024;

/**
 * Where a room's history is kept: a coded room's under its code, a named room's under its
 * name (a named room ends with its last member and comes back with a new code).
 */
export function historyKey(code, name) {
  return name ? `name:${String(name).normalize('NFC').trim().toLowerCase()}` : code;
}

/** Chat order on every device: the author's time, then the message id. */
export function byTime(a, b) {
  return a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

let dbPromise = null;

function openDb() {
  if (dbPromise) return dbPromise;
  dbPromise = new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      const store = req.result.createObjectStore(STORE, { keyPath: 'seq', autoIncrement: true });
      store.createIndex('room', 'room');
      store.createIndex('roomId', ['room', 'id'], { unique: true });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  dbPromise.catch(() => (dbPromise = null));
  return dbPromise;
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

function result(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Stores (or replaces, by room + id) one message record; trims the room to its bound. */
export async function saveMessage(record) {
  const rec = { ...record };
  if (rec.blob && rec.blob.size > MAX_MEDIA_BYTES) rec.blob = null;
  const db = await openDb();
  const tx = db.transaction(STORE, 'readwrite');
  const store = tx.objectStore(STORE);
  const old = await result(store.index('roomId').getKey([rec.room, rec.id]));
  if (old !== undefined) rec.seq = old;
  store.put(rec);
  await done(tx);
  await trim(rec.room);
}

async function trim(room) {
  const db = await openDb();
  const tx = db.transaction(STORE, 'readwrite');
  const index = tx.objectStore(STORE).index('room');
  const n = await result(index.count(room));
  let extra = n - MAX_PER_ROOM;
  if (extra > 0) {
    const cursorReq = index.openCursor(IDBKeyRange.only(room));
    cursorReq.onsuccess = () => {
      const cur = cursorReq.result;
      if (!cur || extra <= 0) return;
      cur.delete();
      extra -= 1;
      cur.continue();
    };
  }
  await done(tx);
}

/** Every stored message of a room, oldest first. */
export async function loadRoom(room) {
  const db = await openDb();
  const tx = db.transaction(STORE, 'readonly');
  const all = await result(tx.objectStore(STORE).index('room').getAll(IDBKeyRange.only(room)));
  return all.sort((a, b) => a.seq - b.seq);
}

/** Deletes a room's history on this device only (`/clear`). */
export async function clearRoom(room) {
  const db = await openDb();
  const tx = db.transaction(STORE, 'readwrite');
  const index = tx.objectStore(STORE).index('room');
  const keys = await result(index.getAllKeys(IDBKeyRange.only(room)));
  const store = tx.objectStore(STORE);
  for (const k of keys) store.delete(k);
  await done(tx);
}
