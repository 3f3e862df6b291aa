// What this browser can do, found once at load: WebRTC (RTCPeerConnection: without it nothing
// travels device to device, neither files nor texts nor room chat) and a place to keep
// received files (OPFS in secure contexts, else IndexedDB that takes Blobs: a quick put/get in
// a throwaway database, with a timeout; private modes and some in-app WebViews refuse it).
// The hello carries the result (`caps`, docs/protocol.md), the server passes it on in the
// peer lists, so the other devices show this one as unable to receive at once instead of
// waiting for a connection that cannot come. The notice data-caps-notice tells the user what
// is missing and what still works.

import { Caps } from './protocol.js';
import { storageKind } from './storage.js';
import { openDb, runTx } from './idb.js';
import { t } from './i18n.js';

const PROBE_DB = 'homedrop-caps-probe';
const PROBE_TIMEOUT_MS = 2000;

/** Every user-visible string of this module (catalog keys `caps.*`), read when shown. */
export const CAPS_TEXT = Object.freeze({
  get title() { return t('caps.title'); },
  get noWebrtc() { return t('caps.noWebrtc'); },
  get noStore() { return t('caps.noStore'); },
  get advice() { return t('caps.advice'); },
  get ownWebrtc() { return t('caps.ownWebrtc'); },
  peerWebrtc: (name) => t('caps.peerWebrtc', { name }),
  peerStore: (name) => t('caps.peerStore', { name }),
  get tileWebrtc() { return t('caps.tileWebrtc'); },
  get tileStore() { return t('caps.tileStore'); },
});

let found = { [Caps.webrtc]: hasWebRTC(), [Caps.store]: true };

/** Is there an RTCPeerConnection to make? Asked each time (nothing caches a missing one). */
export function hasWebRTC() {
  return typeof globalThis.RTCPeerConnection === 'function';
}

/** Resolves true when IndexedDB stores a Blob and gives it back, false on any failure or
 * after PROBE_TIMEOUT_MS; the throwaway database is deleted either way. */
function idbKeepsBlobs() {
  let db;
  const attempt = (async () => {
    db = await openDb(PROBE_DB, 'b');
    await runTx(db, 'b', 'readwrite', (s) => s.put(new Blob(['homedrop']), 'x'));
    const got = await runTx(db, 'b', 'readonly', (s) => s.get('x'));
    return got instanceof Blob && got.size === 8;
  })().catch(() => false); // no IndexedDB at all, or one that refuses Blobs
  const timeout = new Promise((resolve) => setTimeout(() => resolve(false), PROBE_TIMEOUT_MS));
  return Promise.race([attempt, timeout]).finally(() => {
    try {
      db?.close();
      indexedDB.deleteDatabase(PROBE_DB);
    } catch {
      /* no IndexedDB at all */
    }
  });
}

/** Finds what this browser can do (once, before the first hello). */
export async function detectCaps() {
  const store = storageKind() === 'opfs' || (await idbKeepsBlobs());
  found = { [Caps.webrtc]: hasWebRTC(), [Caps.store]: store };
  return ownCaps();
}

/** This browser's caps, as the hello carries them. */
export function ownCaps() {
  return { ...found };
}

/** Why no connection to `peer` (a peer list entry) can be made, or '' when it can. */
export function cannotConnect(peer) {
  if (!hasWebRTC()) return CAPS_TEXT.ownWebrtc;
  if (peer?.caps?.webrtc === false) return CAPS_TEXT.peerWebrtc(String(peer.name ?? ''));
  return '';
}

/** Why `peer` cannot receive files, or '' when it can. */
export function cannotReceiveFiles(peer) {
  const why = cannotConnect(peer);
  if (why) return why;
  return peer?.caps?.store === false ? CAPS_TEXT.peerStore(String(peer.name ?? '')) : '';
}

/** For a tile: what `peer` is unable to do (`webrtc`, `store` or '') and the visible reason. */
export function unableOf(peer) {
  if (peer?.caps?.webrtc === false) return { unable: 'webrtc', text: CAPS_TEXT.tileWebrtc };
  if (peer?.caps?.store === false) return { unable: 'store', text: CAPS_TEXT.tileStore };
  return { unable: '', text: '' };
}

/** An offer arrived but this browser has no WebRTC: tells the sender (`send(data)`), once per
 * offer, instead of failing silently. */
export function refuseOffer(data, send) {
  if (data?.description?.type === 'offer') send({ unable: Caps.webrtc });
}

/** The sender's side of that answer: the message its transfer fails with. */
export function refusedText(peer) {
  return CAPS_TEXT.peerWebrtc(String(peer?.name ?? t('invite.theDevice')));
}

/** Shows data-caps-notice when something is missing (its data-missing lists what). */
export function showCapsNotice(caps) {
  const box = document.querySelector('[data-caps-notice]');
  if (!box) return;
  const missing = [Caps.webrtc, Caps.store].filter((k) => caps[k] === false);
  // Without WebRTC nothing is received at all: the storage line would only add noise.
  const lines = caps.webrtc === false ? [CAPS_TEXT.noWebrtc] : caps.store === false ? [CAPS_TEXT.noStore] : [];
  box.hidden = lines.length === 0;
  if (box.hidden) return;
  box.dataset.missing = missing.join(' ');
  const p = (text) => Object.assign(document.createElement('p'), { textContent: text });
  const title = Object.assign(document.createElement('h2'), { textContent: CAPS_TEXT.title });
  box.replaceChildren(title, ...lines.map(p), p(CAPS_TEXT.advice));
}
