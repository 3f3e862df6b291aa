// Catching up in named rooms (docs/protocol.md, "Named rooms"): when the chat channel to a
// member of a named room opens, each side sends `sync`, the ids of the messages it holds
// for that room (its newest SYNC_MAX_IDS, the most history.js keeps); the other answers
// with the text messages missing there, one `history` frame each, newest first within
// SYNC_MAX_BYTES, sent oldest first. Received ones become ordinary records (chat:message),
// which ui/room-chat.js shows in (author's time, id) order and stores, ignoring ids it
// already has: both devices end with the same messages in the same order. Photos, audio and
// files are not synced (their bytes go by transfer, only while both are there).
// A peer's `history` frames are taken only after this device asked that channel, and at
// most SYNC_MAX_IDS per room and channel. `sync` says whether its sender has heard the
// other's (`seen`): one sent before the receiver knew the sender as a member was dropped
// there, so a `sync` with `seen: false` is answered with ours again (marked seen, which
// ends it); no message is sent twice on one channel.

import { ChatMsg } from './protocol.js';
import { loadRoom, historyKey, byTime, MAX_PER_ROOM } from './history.js';
import { cleanName } from './names.js';
import { cleanAvatar, MAX_CHAT_TEXT } from './chat.js';

export const SYNC_MAX_IDS = MAX_PER_ROOM;
export const SYNC_MAX_BYTES = 1024 * 1024;
const ID_RE = /^[0-9a-f]{8,64}$/;

export class RoomSync {
  constructor(bus, chat, store) {
    this.bus = bus;
    this.chat = chat;
    this.store = store;
    this.names = new Map(); // code -> name, for the named rooms we are in
    this.rounds = new Map(); // peerId -> Map code -> {sent, heard, left, given} (this channel)
    bus.on('room:joined', ({ code, name }) => {
      if (!name) return;
      this.names.set(code, name);
      this.syncAll();
    });
    bus.on('room:left', (code) => this.names.delete(code));
    // A new channel is a new round: what either side holds may have changed meanwhile.
    bus.on('chat:open', (peerId) => {
      this.rounds.delete(peerId);
      this.syncAll();
    });
    store.addEventListener('change', () => this.syncAll());
    bus.on('chat:sync', ({ peerId, m }) => this.onFrame(peerId, m));
  }

  /** Offers a sync to every member of every named room whose channel is open. */
  syncAll() {
    for (const code of this.names.keys()) {
      for (const p of this.store.members(code)) this.offer(p.id, code);
    }
  }

  /** This channel's round with a peer for room `code`. */
  round(peerId, code) {
    let rooms = this.rounds.get(peerId);
    if (!rooms) this.rounds.set(peerId, (rooms = new Map()));
    let r = rooms.get(code);
    if (!r) rooms.set(code, (r = { sent: false, heard: false, left: SYNC_MAX_IDS, given: new Set() }));
    return r;
  }

  /** Sends our `sync` for room `code` to a member: once per channel, or `again`. */
  async offer(peerId, code, again = false) {
    if (!this.chat.isOpen(peerId)) return;
    const r = this.round(peerId, code);
    if (r.sent && !again) return;
    r.sent = true;
    const held = (await this.held(code)).slice(-SYNC_MAX_IDS);
    // Full: older messages than our oldest were dropped here on purpose; not wanted back.
    const floor = held.length >= SYNC_MAX_IDS ? held[0].ts : 0;
    const ids = held.map((x) => x.id);
    this.chat.sendTo(peerId, { type: ChatMsg.sync, room: code, ids, floor, seen: r.heard });
  }

  /** The room's stored messages in chat order. */
  async held(code) {
    const name = this.names.get(code);
    const records = await loadRoom(historyKey(code, name)).catch(() => []);
    return records.filter((r) => typeof r.id === 'string').sort(byTime);
  }

  onFrame(peerId, m) {
    if (!this.names.has(m.room)) return;
    if (m.type === ChatMsg.sync) this.answer(peerId, m);
    else if (m.type === ChatMsg.history) this.take(peerId, m);
  }

  /** Their `sync`: send the texts they lack (and our own `sync`, if not sent yet). */
  async answer(peerId, m) {
    if (!Array.isArray(m.ids) || m.ids.length > SYNC_MAX_IDS) return;
    const round = this.round(peerId, m.room);
    round.heard = true;
    // Not sent yet, or they have not heard ours (it may have come too early there).
    if (!round.sent || m.seen !== true) this.offer(peerId, m.room, true);
    const theirs = new Set(m.ids.filter((id) => typeof id === 'string' && ID_RE.test(id)));
    const floor = Number.isSafeInteger(m.floor) ? m.floor : 0;
    const held = await this.held(m.room);
    const missing = held.filter((r) => r.kind === 'text' && !theirs.has(r.id) && !round.given.has(r.id) && r.ts >= floor);
    const frames = [];
    let bytes = 0;
    for (let i = missing.length - 1; i >= 0 && frames.length < SYNC_MAX_IDS; i -= 1) {
      const r = missing[i];
      const frame = JSON.stringify({ type: ChatMsg.history, room: m.room, id: r.id, ts: r.ts, name: r.name, avatar: r.avatar ?? null, text: r.text });
      if (bytes + frame.length > SYNC_MAX_BYTES) break;
      bytes += frame.length;
      frames.push(frame);
      round.given.add(r.id);
    }
    for (const f of frames.reverse()) if (!this.chat.sendTo(peerId, f)) return;
  }

  /** One missed message from a member we asked: a record like a live one. */
  take(peerId, m) {
    const round = this.rounds.get(peerId)?.get(m.room);
    if (!round?.sent || round.left <= 0) return;
    round.left -= 1;
    if (!ID_RE.test(m.id ?? '') || typeof m.text !== 'string' || m.text.length > MAX_CHAT_TEXT) return;
    if (!Number.isSafeInteger(m.ts) || m.ts <= 0) return;
    this.bus.emit('chat:message', {
      room: m.room,
      id: m.id,
      from: 'synced',
      via: peerId,
      name: cleanName(m.name) ?? 'Someone',
      avatar: cleanAvatar(m.avatar),
      ts: m.ts,
      kind: 'text',
      text: m.text,
    });
  }
}
