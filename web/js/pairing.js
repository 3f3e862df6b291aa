// Pairing over signaling: ask for a key, enter one (also from #pair=TOKEN), forget a pairing.
// A new secret is kept (pairs.js) and the connection restarted, so that the next `hello`
// carries it. ui/pairing.js renders what this module emits.
// A key comes as 6 digits to type and as a 32-hex token for the QR code and link: wrong
// digits spend a budget shared by everyone (docs/security.md), so while someone guesses,
// typed keys are refused and the QR code still pairs.
//
// Listens to the intents `pair:start`, `pair:join` (key), `pair:forget` (secret).
// Emits `pair:key` ({key, token, expiresInSecs}), `pairs:changed` (the stored pairings changed),
// `pair:paired` ({peerName}) and `notice` lines.

import { ClientMsg, ServerMsg, serverEvent } from './protocol.js';
import { t } from './i18n.js';
import { addPair, removePair } from './pairs.js';

const TOKEN_RE = /^[0-9a-f]{32}$/;

/** A pairing key as typed, pasted or linked (…#pair=TOKEN): its token (32 hex) or its 6
 * digits, else null. */
export function parsePairKey(raw) {
  const text = String(raw ?? '').trim();
  const s = text.match(/pair=([0-9A-Za-z]+)/)?.[1] ?? text;
  if (TOKEN_RE.test(s.toLowerCase())) return s.toLowerCase();
  const digits = s.replace(/\D/g, '');
  return digits.length === 6 ? digits : null;
}

export class Pairing {
  constructor(bus, signaling) {
    this.bus = bus;
    this.sig = signaling;
    this.pendingKey = null;
    bus.on(serverEvent(ServerMsg.pairKey), (m) => this.key(m));
    bus.on(serverEvent(ServerMsg.paired), (m) => this.paired(m));
    bus.on('welcome', () => this.flushPending());
    bus.on('pair:start', () => this.send({ type: ClientMsg.pairStart }));
    bus.on('pair:join', (key) => this.send({ type: ClientMsg.pairJoin, key }));
    bus.on('pair:forget', (secret) => this.forget(secret));
  }

  /** Sends a message the user asked for; offline, says so instead. */
  send(msg) {
    if (!this.sig.send(msg)) this.bus.emit('notice', { kind: 'error', text: t('error.offline') });
  }

  /** From #pair=TOKEN (or KEY): join once online. */
  joinFromFragment(key) {
    if (this.sig.online) this.send({ type: ClientMsg.pairJoin, key });
    else this.pendingKey = key;
  }

  flushPending() {
    if (!this.pendingKey) return;
    const key = this.pendingKey;
    this.pendingKey = null;
    this.sig.send({ type: ClientMsg.pairJoin, key });
  }

  key({ key, token, expiresInSecs }) {
    if (typeof key !== 'string') return;
    this.bus.emit('pair:key', { key, token: TOKEN_RE.test(token) ? token : null, expiresInSecs });
  }

  paired({ secret, peerName }) {
    addPair(secret, peerName);
    this.bus.emit('pair:paired', { peerName });
    this.bus.emit('pairs:changed');
    this.bus.emit('notice', { kind: 'info', text: t('pair.paired', { name: peerName }) });
    // The next hello carries the new secret.
    this.sig.restart(true);
  }

  forget(secret) {
    this.sig.send({ type: ClientMsg.pairForget, secret });
    removePair(secret);
    this.bus.emit('pairs:changed');
    this.bus.emit('notice', { kind: 'info', text: t('pair.unpaired') });
  }
}
