// Pairing over signaling: ask for a key, enter one (also from #pair=KEY), forget a pairing.
// A new secret is kept (pairs.js) and the connection restarted, so that the next `hello`
// carries it. ui/pairing.js renders what this module emits.
//
// Listens to the intents `pair:start`, `pair:join` (key), `pair:forget` (secret).
// Emits `pair:key` ({key, expiresInSecs}), `pairs:changed` (the stored pairings changed),
// `pair:paired` ({peerName}) and `notice` lines.

import { ClientMsg, ServerMsg, serverEvent } from './protocol.js';
import { addPair, removePair } from './pairs.js';

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
    if (!this.sig.send(msg)) this.bus.emit('notice', { kind: 'error', text: 'Not connected to homedrop right now; try again in a moment.' });
  }

  /** From #pair=KEY: join once online. */
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

  key({ key, expiresInSecs }) {
    if (typeof key !== 'string') return;
    this.bus.emit('pair:key', { key, expiresInSecs });
  }

  paired({ secret, peerName }) {
    addPair(secret, peerName);
    this.bus.emit('pair:paired', { peerName });
    this.bus.emit('pairs:changed');
    this.bus.emit('notice', { kind: 'info', text: `Paired with ${peerName}.` });
    // The next hello carries the new secret.
    this.sig.restart(true);
  }

  forget(secret) {
    this.sig.send({ type: ClientMsg.pairForget, secret });
    removePair(secret);
    this.bus.emit('pairs:changed');
    this.bus.emit('notice', { kind: 'info', text: 'Device unpaired.' });
  }
}
