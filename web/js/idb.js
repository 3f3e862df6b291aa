// The two IndexedDB steps every store of the page needs (storage.js, identity.js, and
// caps.js's probe): open a database with one object store, and run one request in a
// transaction that resolves when the transaction completes. (store-worker.js, a classic
// worker, has its own copy.)

import { t } from './i18n.js';

/** Opens database `name` (version 1), creating object store `store` on first use. */
export function openDb(name, store) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(store);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Runs `fn(objectStore)` in a `mode` transaction; resolves to its request's result once
 * the transaction has completed. */
export function runTx(db, store, mode, fn) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const req = fn(tx.objectStore(store));
    tx.oncomplete = () => resolve(req?.result);
    tx.onerror = () => reject(tx.error ?? req?.error);
    tx.onabort = () => reject(tx.error ?? new Error(t('error.storageAborted')));
  });
}
