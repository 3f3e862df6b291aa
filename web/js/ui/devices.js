// Device tiles (data-peer): selection with aria-pressed, drop files on a tile.
// The tiles render the PeerStore (the server's list, kept only there); the selection is the
// only state of their own. Dropping files emits the intent `send:files` ({peerId, files}).
// Every tile shows how the device is linked (data-links: home, network, room, pair; a badge for
// each), and tiles whose names look the same as another tile's or this device's (case and
// compatibility variants aside) are marked (data-same-name and a visible warning): a room
// member or a paired device cannot pass for a household device by taking its name. A device
// whose browser said it cannot receive (caps.js) is marked data-unable, with the reason shown.

import { h, $ } from './dom.js';
import { nameKey } from '../names.js';
import { t } from '../i18n.js';
import { unableOf } from '../caps.js';

const KINDS = new Set(['phone', 'tablet', 'desktop', 'other']);

/** One badge per way a peer is linked: household, same network (one public address, not
 * the household), each room (with its code, or a household room's name), paired. */
function linkBadges(links = [], roomNames = new Map()) {
  const seen = new Set();
  const badges = [];
  for (const l of links) {
    let text = null;
    if (l.via === 'home') text = t('via.home');
    else if (l.via === 'network') text = t('via.network');
    else if (l.via === 'room' && roomNames.has(l.code)) text = roomNames.get(l.code);
    else if (l.via === 'room' && typeof l.code === 'string') text = t('via.room', { code: l.code });
    else if (l.via === 'pair') text = t('via.pair');
    if (!text || seen.has(text)) continue;
    seen.add(text);
    badges.push(h('span', { class: `peer-badge via-${l.via}`, 'data-via': l.via, text }));
  }
  return badges;
}

/** The `via`s of a peer's links, each once, space separated (data-links). */
function linkList(links = []) {
  return [...new Set(links.map((l) => l.via).filter((v) => ['home', 'network', 'room', 'pair'].includes(v)))].join(' ');
}

/** Name keys that more than one listed peer, or a peer and this device, have. */
function sharedNames(peers, ownName) {
  const count = new Map([[nameKey(ownName), 1]]);
  for (const p of peers) {
    const k = nameKey(p.name);
    count.set(k, (count.get(k) ?? 0) + 1);
  }
  return new Set([...count].filter(([, n]) => n > 1).map(([k]) => k));
}

export class DeviceList {
  /** @param ownName () => this device's name (a peer named alike is marked too) */
  constructor(bus, store, ownName = () => '') {
    this.bus = bus;
    this.store = store;
    this.ownName = ownName;
    this.root = $('[data-peer-list]');
    this.empty = $('.peers-empty');
    this.hint = $('[data-target-hint]');
    this.selected = new Set();
    this.tiles = new Map();
    store.addEventListener('change', () => this.update());
    bus.on('name', () => this.update());
    this.roomNames = new Map(); // code -> name of the household rooms this device is in
    bus.on('rooms:changed', (rooms) => {
      this.roomNames = new Map((rooms ?? []).filter((r) => typeof r.name === 'string').map((r) => [r.code, r.name]));
      this.update();
    });
  }

  get peers() {
    return this.store.list();
  }

  /** The devices to send to: the selected ones, or the only one there is. */
  targets() {
    const sel = this.peers.filter((p) => this.selected.has(p.id)).map((p) => p.id);
    if (sel.length) return sel;
    return this.peers.length === 1 ? [this.peers[0].id] : [];
  }

  update() {
    const ids = new Set(this.peers.map((p) => p.id));
    for (const id of [...this.selected]) if (!ids.has(id)) this.selected.delete(id);
    for (const [id, tile] of this.tiles) {
      if (!ids.has(id)) {
        tile.remove();
        this.tiles.delete(id);
      }
    }
    const shared = sharedNames(this.peers, this.ownName());
    for (const p of this.peers) this.renderTile(p, shared.has(nameKey(p.name)));
    this.empty.hidden = this.peers.length > 0;
    this.updateHint();
  }

  renderTile(p, sameName = false) {
    let tile = this.tiles.get(p.id);
    if (!tile) {
      tile = this.makeTile(p.id);
      this.tiles.set(p.id, tile);
    }
    const kind = KINDS.has(p.kind) ? p.kind : 'other';
    const name = String(p.name ?? '');
    tile.dataset.peerName = name;
    tile.querySelector('.peer-icon').src = `icons/${kind}.svg`;
    tile.querySelector('.peer-name').textContent = name;
    tile.querySelector('.peer-kind').textContent = t(`kind.${kind}`);
    tile.dataset.links = linkList(p.links);
    tile.querySelector('.peer-links').replaceChildren(...linkBadges(p.links, this.roomNames));
    const warn = tile.querySelector('.peer-same-name');
    warn.hidden = !sameName;
    if (sameName) tile.dataset.sameName = '';
    else delete tile.dataset.sameName;
    const { unable, text } = unableOf(p);
    if (unable) tile.dataset.unable = unable;
    else delete tile.dataset.unable;
    Object.assign(tile.querySelector('.peer-unable'), { hidden: !unable, textContent: text });
    tile.setAttribute('aria-pressed', String(this.selected.has(p.id)));
    this.root.append(tile); // keeps server order
  }

  makeTile(id) {
    const tile = h(
      'button',
      { type: 'button', class: 'peer', 'data-peer': true, 'data-peer-id': id, 'aria-pressed': 'false' },
      h('img', { class: 'peer-icon', alt: '', width: 40, height: 40 }),
      h('span', { class: 'peer-name' }),
      h('span', { class: 'peer-kind' }),
      h('span', { class: 'peer-links' }),
      h('span', { class: 'peer-same-name', hidden: true, text: t('peer.sameName') }),
      h('span', { class: 'peer-unable', hidden: true }),
    );
    tile.addEventListener('click', () => this.toggle(id));
    tile.addEventListener('dragover', (e) => {
      if (!e.dataTransfer?.types?.includes('Files')) return;
      e.preventDefault();
      tile.classList.add('drop-target');
    });
    tile.addEventListener('dragleave', () => tile.classList.remove('drop-target'));
    tile.addEventListener('drop', (e) => {
      e.preventDefault();
      e.stopPropagation(); // not also a drop "anywhere" (ui/compose.js)
      tile.classList.remove('drop-target');
      const files = [...(e.dataTransfer?.files ?? [])];
      if (files.length) this.bus.emit('send:files', { peerId: id, files });
    });
    return tile;
  }

  toggle(id) {
    if (this.selected.has(id)) this.selected.delete(id);
    else this.selected.add(id);
    this.tiles.get(id)?.setAttribute('aria-pressed', String(this.selected.has(id)));
    this.updateHint();
  }

  updateHint() {
    const n = this.selected.size;
    this.root.closest('.devices')?.toggleAttribute('data-has-target', this.targets().length > 0);
    if (n > 0) this.hint.textContent = t('target.selected', { count: n });
    else if (this.peers.length === 1) this.hint.textContent = t('target.one', { name: this.peers[0].name });
    else if (this.peers.length > 1) this.hint.textContent = t('target.choose');
    else this.hint.textContent = t('target.none');
  }
}
