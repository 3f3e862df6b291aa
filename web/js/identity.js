// This device's identity: one DTLS certificate, generated once with
// RTCPeerConnection.generateCertificate and kept in IndexedDB, so every connection this
// device makes shows the other side the same fingerprint. The other device's fingerprint is
// read from the live connection (getStats: the certificate DTLS actually presented), so it is
// an identity no server and no forged name can hand out: resume (a transfer continues only
// with the device it started with) and verification (the code both users compare) use it.
// The server never sees it and never trusts it for anything.

import { openDb, runTx } from './idb.js';

const DB_NAME = 'homedrop-identity';
const STORE = 'certificates';
const KEY = 'dtls';
/** Asked for a year; Chromium grants up to that, Firefox its own default (30 days). A
 * certificate that expires within a day is replaced (the other devices then see a new one). */
const LIFETIME_MS = 365 * 24 * 3600 * 1000;
const RENEW_BEFORE_MS = 24 * 3600 * 1000;

let current = null; // {certificate, fingerprint, kept}

/** 'AB:CD:…' (any case) → 'abcd…'; '' when it is not a fingerprint. */
export function normalFingerprint(value) {
  const hex = String(value ?? '').replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{40,128}$/.test(hex) ? hex : '';
}

function sha256Of(certificate) {
  const fp = (certificate.getFingerprints?.() ?? []).find((f) => f.algorithm === 'sha-256');
  return normalFingerprint(fp?.value);
}

function usable(c) {
  return c instanceof RTCCertificate && c.expires - Date.now() > RENEW_BEFORE_MS && sha256Of(c);
}

async function generate() {
  return RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256', expires: LIFETIME_MS });
}

/** Loads (or makes and keeps) the certificate; call once before the first connection. A
 * browser that cannot keep it (private mode) gets one for this page only. */
export async function loadIdentity() {
  if (current) return current;
  let certificate = null;
  let kept = false;
  try {
    const db = await openDb(DB_NAME, STORE);
    const stored = await runTx(db, STORE, 'readonly', (s) => s.get(KEY));
    if (usable(stored)) {
      certificate = stored;
      kept = true;
    } else {
      certificate = await generate();
      await runTx(db, STORE, 'readwrite', (s) => s.put(certificate, KEY));
      kept = true;
    }
    db.close();
  } catch (err) {
    console.warn('homedrop: the device certificate cannot be kept', err);
    certificate ??= await generate().catch(() => null);
  }
  current = { certificate, fingerprint: certificate ? sha256Of(certificate) : '', kept };
  return current;
}

/** The RTCPeerConnection `certificates` option ([] before loadIdentity or without one). */
export function certificates() {
  return current?.certificate ? [current.certificate] : [];
}

/** This device's own fingerprint (lowercase hex), '' before loadIdentity. */
export function ownFingerprint() {
  return current?.fingerprint ?? '';
}

/** The other side's certificate fingerprint on `pc`, as DTLS checked it: from getStats (the
 * certificate DTLS presented) where the browser reports it, else, once DTLS is connected,
 * from the applied remote description, which DTLS verified the presented certificate
 * against (Chromium names the remote certificate only on the DTLS server side; Firefox has
 * no certificate stats). {fingerprint, source: 'dtls' | 'sdp'}, or null while DTLS is not
 * up (`allowSdp` takes the description anyway). */
export async function remoteFingerprint(pc, allowSdp = false) {
  const stats = await pc.getStats();
  let fp = '';
  let transports = 0;
  let connected = false;
  stats.forEach((s) => {
    if (s.type !== 'transport') return;
    transports += 1;
    connected ||= s.dtlsState === 'connected';
    const c = s.remoteCertificateId && stats.get(s.remoteCertificateId);
    if (c?.fingerprintAlgorithm === 'sha-256') fp = normalFingerprint(c.fingerprint) || fp;
  });
  if (fp) return { fingerprint: fp, source: 'dtls' };
  if (!allowSdp && !connected && transports > 0) return null;
  const sdp = pc.currentRemoteDescription?.sdp ?? '';
  const m = /a=fingerprint:sha-256 ([0-9A-Fa-f:]+)/.exec(sdp);
  const fromSdp = normalFingerprint(m?.[1]);
  return fromSdp ? { fingerprint: fromSdp, source: 'sdp' } : null;
}
