// The connection check: does UDP from this device reach homedrop? Opens an unreliable data
// channel to the appliance itself (POST /probe answers the offer) and times paced echoes.
// The server has no fragmentation: messages stay small and at least 1 ms apart.

import { $ } from './ui/dom.js';
import { t, formatNumber } from './i18n.js';

const COUNT = 100;
const SIZE = 64; // bytes, far under the 1 KiB the server echoes
const GAP_MS = 10;
const OPEN_TIMEOUT_MS = 8000;
const LINGER_MS = 1500; // wait for late echoes after the last send

/** Run one check. Resolves to { sent, received, lossPct, rttMs (median), rttP90Ms }. */
export async function runProbe({ count = COUNT, gapMs = GAP_MS } = {}) {
  const pc = new RTCPeerConnection();
  try {
    const dc = pc.createDataChannel('probe', { ordered: false, maxRetransmits: 0 });
    dc.binaryType = 'arraybuffer';
    const sentAt = new Map();
    const rtts = [];
    dc.onmessage = (e) => {
      if (!(e.data instanceof ArrayBuffer) || e.data.byteLength < 4) return;
      const seq = new DataView(e.data).getUint32(0);
      const t = sentAt.get(seq);
      if (t === undefined) return;
      sentAt.delete(seq);
      rtts.push(performance.now() - t);
    };
    const opened = new Promise((resolve, reject) => {
      dc.onopen = resolve;
      setTimeout(() => reject(new Error('blocked')), OPEN_TIMEOUT_MS);
    });
    await pc.setLocalDescription(await pc.createOffer());
    // application/sdp, not text/plain: the server takes no type a cross-site page could
    // send without a (refused) CORS preflight.
    const res = await fetch('/probe', {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: pc.localDescription.sdp,
    });
    if (!res.ok) throw new Error((await res.text()).trim() || `HTTP ${res.status}`);
    const { answer, candidate } = await res.json();
    await pc.setRemoteDescription(answer);
    await pc.addIceCandidate(candidate);
    await opened;
    for (let seq = 0; seq < count; seq++) {
      const buf = new ArrayBuffer(SIZE);
      new DataView(buf).setUint32(0, seq);
      sentAt.set(seq, performance.now());
      dc.send(buf);
      await sleep(gapMs);
    }
    await sleep(LINGER_MS);
    return summary(count, rtts);
  } finally {
    pc.close();
  }
}

function summary(sent, rtts) {
  const sorted = [...rtts].sort((a, b) => a - b);
  const at = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);
  return {
    sent,
    received: rtts.length,
    lossPct: Math.round((1000 * (sent - rtts.length)) / sent) / 10,
    rttMs: at(0.5),
    rttP90Ms: at(0.9),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The button (`data-probe`) and its result line (`data-probe-result`). */
export function initProbe() {
  const button = $('[data-probe]');
  const out = $('[data-probe-result]');
  if (!button || !out) return;
  button.addEventListener('click', async () => {
    button.disabled = true;
    for (const k of ['rttMs', 'loss', 'sent', 'received']) delete out.dataset[k];
    show(out, 'running', t('probe.running'));
    try {
      const r = await runProbe();
      out.dataset.sent = r.sent;
      out.dataset.received = r.received;
      out.dataset.loss = r.lossPct;
      if (r.received === 0) {
        delete out.dataset.rttMs;
        show(out, 'blocked', t('probe.blocked'));
      } else {
        out.dataset.rttMs = r.rttMs.toFixed(2);
        const params = { ms: formatNumber(r.rttMs, { minimumFractionDigits: 1, maximumFractionDigits: 1 }), loss: r.lossPct };
        show(out, r.lossPct > 10 ? 'lossy' : 'ok', t(r.lossPct > 10 ? 'probe.lossy' : 'probe.ok', params));
      }
    } catch (err) {
      const blocked = err.message === 'blocked';
      if (blocked) Object.assign(out.dataset, { sent: 0, received: 0, loss: 100 });
      show(out, blocked ? 'blocked' : 'error', blocked
        ? t('probe.blocked')
        : t('probe.failed', { reason: err.message }));
    } finally {
      button.disabled = false;
    }
  });
}

function show(out, state, text) {
  out.dataset.state = state;
  out.textContent = text;
}
