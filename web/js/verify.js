// Verification (docs/protocol.md, "Verification"): both pages derive the same short code from
// the two certificate fingerprints of their live connection (identity.js) and show it; when
// the users compare and confirm, the other device's fingerprint is kept as verified. Whoever
// sits between them (a compromised homedrop or anyone on a plain-http path rewriting the
// fingerprints in the signaling) either breaks DTLS (the connection fails) or presents its
// own certificate to each side, and then the two codes differ.
// A device with the name (or the pairing) of a verified device but another certificate is
// `changed`: it is shown with a warning, and nothing from it is accepted without asking.
//
// Bus: emits `verify:update` ({peerId, status, device}) when a link's status is known or
// changes; listens to `link:device`, `link:closed` and the intents `verify:confirm` /
// `verify:forget` ({peerId}).

import { Hasher } from './hasher.js';
import { ownFingerprint } from './identity.js';
import { pairsFor } from './pairs.js';
import { t } from './i18n.js';

const KEY = 'homedropVerified';
const MAX_KEPT = 100;
const CODE_DIGITS = 12;

/** [{fingerprint, name, pair?, at}] */
function loadVerified() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    return Array.isArray(list) ? list.filter((v) => v && typeof v.fingerprint === 'string') : [];
  } catch {
    return [];
  }
}

function storeVerified(list) {
  try {
    localStorage.setItem(KEY, JSON.stringify(list.slice(-MAX_KEPT)));
  } catch {
    /* storage blocked: verified for this visit only */
  }
}

/** The code both devices show: SHA-256 of both fingerprints (sorted, so both sides hash the
 * same text) as 12 decimal digits in groups of three. 10^12 codes: a man in the middle
 * cannot make a certificate whose two codes collide while the users look. */
export async function codeFor(a, b) {
  const [lo, hi] = [a, b].sort();
  const h = new Hasher();
  h.update(new TextEncoder().encode(`homedrop-code-v1:${lo}:${hi}`).buffer);
  const hex = await h.digest();
  const n = BigInt(`0x${hex.slice(0, 16)}`) % 10n ** BigInt(CODE_DIGITS);
  return n.toString().padStart(CODE_DIGITS, '0').replace(/(\d{3})(?=\d)/g, '$1 ');
}

export class Verifier {
  /** @param store the PeerStore (names, pairings) */
  constructor(bus, peers, store) {
    this.bus = bus;
    this.peers = peers;
    this.store = store;
    this.status = new Map(); // peerId -> {status, device}
    bus.on('link:device', (link) => this.update(link.peerId, link.device));
    bus.on('link:closed', (peerId) => this.status.delete(peerId));
    bus.on('verify:confirm', ({ peerId }) => this.confirm(peerId));
    bus.on('verify:forget', ({ peerId }) => this.forget(peerId));
  }

  /** 'verified' | 'changed' | 'unverified' for device fingerprint `device` of `peer`. */
  judge(peer, device) {
    const list = loadVerified();
    if (list.some((v) => v.fingerprint === device)) return 'verified';
    const pairs = new Set(pairsFor(peer).map((p) => p.secret));
    const same = list.some((v) => (v.pair && pairs.has(v.pair)) || (peer && v.name === peer.name));
    return same ? 'changed' : 'unverified';
  }

  update(peerId, device) {
    if (!device) return;
    const status = this.judge(this.store.get(peerId), device);
    this.status.set(peerId, { status, device });
    this.bus.emit('verify:update', { peerId, status, device });
  }

  /** The status of the link to `peerId` ('unknown' before it is identified). */
  statusOf(peerId) {
    return this.status.get(peerId)?.status ?? 'unknown';
  }

  /** Connects to `peerId` if needed; resolves to {code, device, source} of the live link. */
  async code(peerId) {
    const link = this.peers.get(peerId);
    await link.ready();
    const device = await link.identified;
    if (!device) throw new Error(t('verify.noCertificate'));
    return { code: await codeFor(ownFingerprint(), device), device, source: link.deviceSource };
  }

  confirm(peerId) {
    const device = this.status.get(peerId)?.device;
    const peer = this.store.get(peerId);
    if (!device) return;
    const pair = pairsFor(peer)[0]?.secret;
    // The new certificate replaces the old one of the same device (name or pairing).
    const list = loadVerified().filter((v) => v.fingerprint !== device && !(pair && v.pair === pair) && v.name !== peer?.name);
    list.push({ fingerprint: device, name: String(peer?.name ?? ''), pair, at: Date.now() });
    storeVerified(list);
    this.update(peerId, device);
  }

  /** "They differ" or "forget": the device is no longer trusted as verified. */
  forget(peerId) {
    const device = this.status.get(peerId)?.device;
    const peer = this.store.get(peerId);
    storeVerified(loadVerified().filter((v) => v.fingerprint !== device && v.name !== peer?.name));
    this.update(peerId, device);
  }
}
