// The server's peer list (`peers`), kept here and nowhere else. Every module that needs to
// know who is there (device tiles, room chat, invitations, connections) asks this store or
// listens to its `change` event, so there is one copy and one moment at which it changes.
// Offline there is no list: the server's view of us is gone, so the store is emptied.

import { ServerMsg, serverEvent } from './protocol.js';

/** Fires `change` (detail: the new frozen list) whenever the list is replaced. */
export class PeerStore extends EventTarget {
  constructor(bus) {
    super();
    this.peers = Object.freeze([]);
    bus.on(serverEvent(ServerMsg.peers), (m) => this.replace(Array.isArray(m.peers) ? m.peers : []));
    bus.on('disconnected', () => this.replace([]));
  }

  replace(list) {
    this.peers = Object.freeze(list.filter((p) => p && typeof p.id === 'string'));
    this.dispatchEvent(new CustomEvent('change', { detail: this.peers }));
  }

  /** Every peer in the server's order: {id, name, kind, links}. */
  list() {
    return this.peers;
  }

  get(id) {
    return this.peers.find((p) => p.id === id);
  }

  /** Peers that are members of room `code` (this device excluded: the server never lists it). */
  members(code) {
    return this.peers.filter((p) => (p.links ?? []).some((l) => l.via === 'room' && l.code === code));
  }

  isMember(id, code) {
    return this.members(code).some((p) => p.id === id);
  }

  /** Peers of the home group that are not in room `code`: the ones that can be invited. */
  invitable(code) {
    return this.peers.filter((p) => {
      const links = p.links ?? [];
      return links.some((l) => l.via === 'home') && !links.some((l) => l.via === 'room' && l.code === code);
    });
  }
}
