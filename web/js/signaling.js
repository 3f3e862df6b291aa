// The WebSocket to homedrop: welcome/hello, reconnect with backoff, typed messages on the bus.
// Message names come from protocol.js (the same as src/signaling/protocol.rs).

import { ClientMsg, ServerMsg, PROTOCOL_VERSION, parseMessage, serverEvent } from './protocol.js';

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
/** A socket with no `welcome` by then is given up and dialled again: a connection that hangs
 * (a phone changing networks, a lost SYN) would otherwise wait for the OS's TCP timeout. */
const WELCOME_TIMEOUT_MS = 8000;

/**
 * Emits on the bus:
 *  - `status` ('connecting' | 'online' | 'offline')
 *  - `welcome` ({id, iceServers, maxMessageBytes}) after the hello went out
 *  - `server:<type>` for every other server message (peers, roomJoined, signal, error, ...)
 */
export class Signaling {
  /** @param hello () => ({name, kind, pairs, caps}) read at every (re)connect */
  constructor(bus, hello) {
    this.bus = bus;
    this.hello = hello;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.welcomeTimer = null;
    this.id = null;
    this.online = false;
    // A page put in the back/forward cache is frozen but its socket may stay open: it would
    // stay listed (and in its rooms, keeping a named room alive) while it cannot answer.
    // It goes offline when hidden that way and connects again when shown.
    window.addEventListener('pagehide', () => this.suspend());
    window.addEventListener('pageshow', (e) => e.persisted && this.restart(true));
  }

  /** Closes the socket without dialling again (the page is going away or being frozen). */
  suspend() {
    clearTimeout(this.timer);
    clearTimeout(this.welcomeTimer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    if (this.online) this.goOffline();
  }

  url() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws`;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    this.bus.emit('status', 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    clearTimeout(this.welcomeTimer);
    this.welcomeTimer = setTimeout(() => {
      if (this.ws !== ws || this.online) return;
      ws.close();
      this.onClose(ws);
    }, WELCOME_TIMEOUT_MS);
    ws.onmessage = (e) => this.onFrame(ws, e.data);
    ws.onclose = () => this.onClose(ws);
    ws.onerror = () => {};
  }

  onFrame(ws, data) {
    if (ws !== this.ws) return;
    const msg = parseMessage(data);
    if (!msg) return;
    if (msg.type === ServerMsg.welcome) this.onWelcome(msg);
    else if (msg.type === ServerMsg.restarting) this.restart();
    else this.bus.emit(serverEvent(msg.type), msg);
  }

  onWelcome(msg) {
    clearTimeout(this.welcomeTimer);
    const { name, kind, pairs, caps } = this.hello();
    this.send({ type: ClientMsg.hello, v: PROTOCOL_VERSION, name, kind, pairs, caps });
    this.attempt = 0;
    this.id = msg.id;
    this.online = true;
    this.bus.emit('welcome', {
      id: msg.id,
      iceServers: Array.isArray(msg.iceServers) ? msg.iceServers : [],
      maxMessageBytes: msg.maxMessageBytes ?? 65536,
    });
    this.bus.emit('status', 'online');
  }

  onClose(ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.goOffline();
    this.scheduleReconnect();
  }

  goOffline() {
    const was = this.online;
    this.online = false;
    this.id = null;
    this.bus.emit('status', 'offline');
    if (was) this.bus.emit('disconnected');
  }

  scheduleReconnect() {
    if (this.timer) return;
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    const delay = base / 2 + Math.random() * base;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Closes the socket and connects again soon (after `restarting`, or to apply a pairing). */
  restart(immediately = false) {
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this.goOffline();
    if (immediately) {
      this.attempt = 0;
      this.connect();
    } else {
      this.scheduleReconnect();
    }
  }

  /** Sends a message; returns false when offline. */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }
}
