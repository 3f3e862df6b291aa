// The transfer protocol over the data channel (docs/protocol.md, "Transfer"): records of
// every transfer, dispatch of control messages, cancel and failure handling.
// The sending half is in transfer-send.js, the receiving half in transfer-receive.js, resume
// after a lost connection or a reload in transfer-resume.js.

import { randomId } from './events.js';
import { TransferMsg, parseMessage } from './protocol.js';
import { Sender } from './transfer-send.js';
import { Receiver } from './transfer-receive.js';
import { Resumer } from './transfer-resume.js';
import { dropRecord } from './transfer-records.js';
import { t as tr } from './i18n.js';

export const MAX_TEXT_CHARS = 32 * 1024;
const FINAL = new Set(['done', 'failed', 'cancelled', 'declined']);
const UPDATE_MS = 200;

/**
 * Listens to the intents `send:files` ({peerId, files}), `transfer:cancel`, `transfer:accept`,
 * `transfer:decline`, `transfer:resume` (tid), `transfer:resume-files` ({tid, files}).
 * Bus events: `transfer:update` (record), `transfer:request` (record of an incoming offer),
 * `received:file` ({transfer, index, name, size, sha256, blob, discard}),
 * `received:text` ({from, text}), `notice` ({kind, text}).
 */
export class TransferManager {
  /** @param store the PeerStore (names of peers, pairings)
   * @param verifier the Verifier (verify.js): a device whose certificate changed is asked about */
  constructor(bus, peers, store, verifier = null) {
    this.bus = bus;
    this.peers = peers;
    this.store = store;
    this.verifier = verifier;
    this.transfers = new Map();
    this.sender = new Sender(this);
    this.receiver = new Receiver(this);
    this.resumer = new Resumer(this);
    peers.addEventListener('message', (e) => this.onMessage(e.detail.link, e.detail.data));
    bus.on('link:closed', (peerId) => this.onLinkClosed(peerId));
    bus.on('send:files', ({ peerId, files }) => this.sendFiles(peerId, files));
    bus.on('transfer:cancel', (tid) => this.cancel(tid));
    bus.on('transfer:accept', (tid) => this.accept(tid));
    bus.on('transfer:decline', (tid) => this.decline(tid));
  }

  /** The server's view of a peer: {id, name, kind, links} | undefined. */
  peerInfo(peerId) {
    return this.store.get(peerId);
  }

  peerName(peerId) {
    return this.peerInfo(peerId)?.name ?? tr('peer.other');
  }

  /** Makes and registers a transfer record (`extra`: fields of a restored one). */
  create(tid, direction, peerId, files, extra = {}) {
    const t = {
      tid,
      direction,
      peerId,
      peerName: this.peerName(peerId),
      files: files.map((f) => ({ ...f, bytes: 0, state: 'waiting' })),
      total: files.reduce((n, f) => n + f.size, 0),
      bytes: 0,
      state: 'waiting',
      info: '',
      wakers: [],
      lastEmit: 0,
      ...extra,
    };
    this.transfers.set(tid, t);
    this.touch(t, true);
    return t;
  }

  newTid() {
    return randomId(8);
  }

  isFinal(t) {
    return FINAL.has(t.state);
  }

  /** Tells the UI; progress-only updates are throttled. */
  touch(t, force = false) {
    const now = performance.now();
    if (!force && now - t.lastEmit < UPDATE_MS) return;
    t.lastEmit = now;
    this.bus.emit('transfer:update', t);
  }

  setState(t, state, info = '') {
    if (this.isFinal(t)) return;
    t.state = state;
    t.info = info;
    if (this.isFinal(t)) t.fileObjs = null; // let the File objects go
    this.touch(t, true);
    this.wake(t);
  }

  /** Wakes every loop waiting on this transfer so it can re-check its condition. */
  wake(t) {
    const wakers = t.wakers;
    t.wakers = [];
    for (const w of wakers) w();
  }

  /** Waits for the next event on `t`; throws once the transfer is over. */
  async wait(t) {
    if (this.isFinal(t)) throw new Error(t.info || t.state);
    await new Promise((resolve) => t.wakers.push(resolve));
    if (this.isFinal(t)) throw new Error(t.info || t.state);
  }

  /** Ends a transfer as failed, tells the peer (unless it told us), cleans up. */
  fail(t, message, tellPeer = true) {
    if (this.isFinal(t)) return;
    if (tellPeer) this.tell(t, { type: TransferMsg.cancel, tid: t.tid, reason: message });
    this.setState(t, 'failed', message);
    this.cleanup(t);
    this.bus.emit('notice', { kind: 'error', text: message });
  }

  /** The user cancels (either side). */
  cancel(tid) {
    const t = this.transfers.get(tid);
    if (!t || this.isFinal(t)) return;
    this.tell(t, { type: TransferMsg.cancel, tid, reason: 'cancelled' });
    this.setState(t, 'cancelled', tr('transfer.state.cancelled'));
    this.cleanup(t);
  }

  cleanup(t) {
    dropRecord(t.tid);
    if (t.direction === 'receive') this.receiver.cleanup(t);
  }

  /** Sends a control message to the transfer's peer if the channel is still open. */
  tell(t, msg) {
    const link = this.peers.links.get(t.peerId);
    if (!link?.isOpen) return false;
    try {
      link.sendJson(msg);
      return true;
    } catch {
      return false;
    }
  }

  onLinkClosed(peerId) {
    for (const t of this.transfers.values()) {
      if (t.peerId !== peerId || this.isFinal(t) || t.state === 'paused') continue;
      if (this.resumer.canPause(t)) this.resumer.pause(t, null);
      else this.fail(t, tr('transfer.lost', { name: t.peerName }), false);
    }
    this.receiver.dropLink(peerId);
  }

  // ---- incoming data ----

  onMessage(link, data) {
    if (typeof data !== 'string') {
      this.receiver.onChunk(link, data);
      return;
    }
    const msg = parseMessage(data);
    if (msg) this.dispatch(link, msg);
  }

  dispatch(link, msg) {
    if (msg.type === TransferMsg.offer) return this.receiver.onOffer(link, msg);
    if (msg.type === TransferMsg.resume || msg.type === TransferMsg.resumeFrom) {
      return this.resumer.onMessage(link, msg).catch((err) => console.warn('resume failed', err));
    }
    if (msg.type === TransferMsg.text) return this.receiver.onText(link, msg);
    const t = this.transfers.get(msg.tid);
    if (!t || t.peerId !== link.peerId) return;
    if (msg.type === TransferMsg.cancel) return this.onCancel(t, msg);
    if (this.isFinal(t)) return;
    const handlers = t.direction === 'send' ? this.sender : this.receiver;
    handlers.onControl(t, msg, link);
  }

  onCancel(t, msg) {
    if (this.isFinal(t)) return;
    const reason = typeof msg.reason === 'string' ? msg.reason.slice(0, 300) : '';
    if (!reason || reason === 'cancelled') {
      this.setState(t, 'cancelled', tr('transfer.cancelledBy', { name: t.peerName }));
      this.cleanup(t);
      this.bus.emit('notice', { kind: 'info', text: tr('transfer.peerCancelled', { name: t.peerName }) });
    } else {
      this.fail(t, `${t.peerName}: ${reason}`, false);
    }
  }

  // ---- public API ----

  /** Sends `files` to `peerId`; the same files of a transfer to that device interrupted by
   * a reload continue it instead (when their content is the same). */
  sendFiles(peerId, files) {
    const paused = this.resumer.recognise(peerId, files);
    if (!paused) return this.sender.sendFiles(peerId, files);
    this.resumer.adoptFiles(paused, files).then((ok) => ok || this.sender.sendFiles(peerId, files));
    return paused;
  }

  /** Transfers of an earlier visit this tab took over (transfer-records.js). */
  restore(records) {
    return this.resumer.restore(records);
  }

  sendText(peerId, text) {
    return this.sender.sendText(peerId, text);
  }

  accept(tid) {
    this.receiver.accept(tid);
  }

  decline(tid) {
    this.receiver.decline(tid);
  }

  /** Plain data for diagnostics (window.homedrop.state()). */
  snapshot() {
    return [...this.transfers.values()].map((t) => ({
      tid: t.tid,
      direction: t.direction,
      peerId: t.peerId,
      peerName: t.peerName,
      state: t.state,
      info: t.info,
      bytes: t.bytes,
      total: t.total,
      needs: t.needs ?? null,
      pauses: t.pauses ?? 0,
      sentBytes: t.sentBytes ?? 0,
      device: t.device ?? null,
      files: t.files.map((f) => ({ name: f.name, size: f.size, bytes: f.bytes, state: f.state })),
    }));
  }
}
