// What this device remembers of its transfers across reloads, so they can be resumed
// (docs/protocol.md, "Resume"): one small JSON record per transfer in localStorage.
// - send: to which device (its certificate fingerprint), and each file's name, size, type,
//   last-modified time and `head` (SHA-256 of its first 64 KiB), so a file picked again
//   after a reload is recognised;
// - receive: from which device, the offered files, the storage prefix of their batches, the
//   files already verified (with their SHA-256 and CRC-32), and `holder`: the session of the
//   tab that has the transfer open (another tab's transfer is left alone).
// Records of unfinished transfers expire after KEEP_DAYS (shown in the page); a finished
// receive record lives while its tab does (its files stay until removed or the tab closes).

import { isAlive, sessionId } from './storage.js';
import { Hasher } from './hasher.js';

const PREFIX = 'homedropTransfer.';
export const KEEP_DAYS = 7;
const KEEP_MS = KEEP_DAYS * 24 * 3600 * 1000;
export const HEAD_BYTES = 64 * 1024;
const MAX_RECORDS = 50;

function key(tid) {
  return PREFIX + tid;
}

/** Every record kept on this device. */
export function allRecords() {
  const out = [];
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (!k?.startsWith(PREFIX)) continue;
      try {
        const r = JSON.parse(localStorage.getItem(k));
        if (r && typeof r.tid === 'string' && Array.isArray(r.files)) out.push(r);
        else localStorage.removeItem(k);
      } catch {
        localStorage.removeItem(k);
      }
    }
  } catch {
    /* storage blocked */
  }
  return out;
}

export function saveRecord(r) {
  try {
    localStorage.setItem(key(r.tid), JSON.stringify({ ...r, at: r.at ?? Date.now() }));
    return true;
  } catch {
    return false; // full or blocked: this transfer just cannot be resumed after a reload
  }
}

export function dropRecord(tid) {
  try {
    localStorage.removeItem(key(tid));
  } catch {
    /* ignore */
  }
}

/** When an unfinished transfer's record (and its stored data) goes away by itself. */
export function expiresAt(r) {
  return (r.at ?? 0) + KEEP_MS;
}

/**
 * At startup: drops expired records and the finished ones of closed tabs, and takes over the
 * unfinished ones no open tab holds. Returns {resumable: records this tab now holds,
 * keepTid(tid): whether the storage of that transfer must be kept}.
 */
export function claimRecords(now = Date.now()) {
  const keep = new Set();
  const resumable = [];
  const records = allRecords().sort((a, b) => (b.at ?? 0) - (a.at ?? 0));
  records.forEach((r, i) => {
    const heldElsewhere = r.holder && r.holder !== sessionId() && isAlive(r.holder);
    if (heldElsewhere) {
      keep.add(r.tid);
      return;
    }
    if (r.finished || now > expiresAt(r) || i >= MAX_RECORDS) {
      dropRecord(r.tid);
      return;
    }
    keep.add(r.tid);
    r.holder = sessionId();
    saveRecord(r);
    resumable.push(r);
  });
  return { resumable, keepTid: (tid) => keep.has(tid) };
}

/** SHA-256 (hex) of the first HEAD_BYTES of `file`: with name, size and last-modified time
 * what says "this is the file that was being sent". */
export async function headOf(file) {
  const h = new Hasher();
  try {
    h.update(await file.slice(0, HEAD_BYTES).arrayBuffer());
  } catch (err) {
    h.drop();
    throw err;
  }
  return h.digest();
}

/** Does File `file` look like recorded file `f` (the head is compared separately)? */
export function sameFile(file, f) {
  return file.name === f.name && file.size === f.size && (!f.lastModified || file.lastModified === f.lastModified);
}
