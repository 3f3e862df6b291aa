// Main-thread side of hash-worker.js: one shared Worker, many incremental hashes.

import { randomId } from './events.js';
import { t } from './i18n.js';

let worker = null;
const waiting = new Map(); // id -> {resolve, reject}

function getWorker() {
  if (!worker) {
    worker = new Worker(new URL('./hash-worker.js', import.meta.url));
    worker.onmessage = ({ data }) => {
      const w = waiting.get(data.id);
      if (!w) return;
      waiting.delete(data.id);
      if (data.error) w.reject(new Error(data.error));
      else w.resolve(data);
    };
    worker.onerror = (e) => {
      for (const w of waiting.values()) w.reject(new Error(e.message || t('error.hashWorker')));
      waiting.clear();
    };
  }
  return worker;
}

/** An incremental SHA-256 (and CRC-32 with `{crc: true}`): update(ArrayBuffer) transfers
 * the buffer (it becomes unusable). */
export class Hasher {
  constructor({ crc = false } = {}) {
    this.id = randomId(6);
    this.result = new Promise((resolve, reject) => waiting.set(this.id, { resolve, reject }));
    this.result.catch(() => {});
    getWorker().postMessage({ op: 'start', id: this.id, crc });
  }

  update(buf) {
    getWorker().postMessage({ op: 'update', id: this.id, buf }, [buf]);
  }

  /** Resolves to the lowercase hex digest. */
  digest() {
    return this.digests().then((d) => d.hex);
  }

  /** Resolves to {hex, crc} (crc: the CRC-32 as an unsigned number, when asked for). */
  digests() {
    getWorker().postMessage({ op: 'end', id: this.id });
    return this.result;
  }

  drop() {
    waiting.delete(this.id);
    getWorker().postMessage({ op: 'drop', id: this.id });
  }
}
