// The screen sharing card: a "Share screen" button for each device and each room (only where
// this browser can capture a screen, see canShareScreen), the "you are sharing" bar with its
// stop button, and one viewer per incoming share (a <video>, the sender's name, stop and full
// screen). Renders `screen:changed` (screen.js), the PeerStore and `rooms:changed`; asks with
// the intents `screen:share` ({peerId} or {room}) and `screen:stop` (a sid, or nothing).
// A viewer shows on any device, phones too: only sharing needs getDisplayMedia.

import { h, $ } from './dom.js';
import { canShareScreen } from '../screen.js';

const TEXT = Object.freeze({
  shareWith: (name) => `Share screen with ${name}`,
  shareRoom: (code) => `Share screen with room ${code}`,
  sharing: (names) => `Sharing your screen with ${names}.`,
  stopSharing: 'Stop sharing',
  screenOf: (name) => `Screen of ${name}`,
  stopViewing: 'Stop',
  fullScreen: 'Full screen',
  nobody: 'No device or room to share with yet.',
});

export class ScreenView {
  constructor(bus, store) {
    this.bus = bus;
    this.store = store;
    this.root = $('[data-screen]');
    this.targets = $('[data-screen-targets]', this.root);
    this.sendingBar = $('[data-screen-sending]', this.root);
    this.viewList = $('[data-screen-views]', this.root);
    this.canShare = canShareScreen();
    this.rooms = [];
    this.state = { sharing: null, views: [] };
    this.viewers = new Map(); // sid -> viewer element
    $('[data-screen-stop]', this.sendingBar).addEventListener('click', () => this.bus.emit('screen:stop'));
    store.addEventListener('change', () => this.renderTargets());
    bus.on('rooms:changed', (rooms) => {
      this.rooms = rooms;
      this.renderTargets();
    });
    bus.on('screen:changed', (state) => this.render(state));
    this.renderTargets();
    this.render(this.state);
  }

  render(state) {
    this.state = state;
    const sharing = state.sharing;
    this.sendingBar.hidden = !sharing;
    if (sharing) $('[data-screen-sending-text]', this.sendingBar).textContent = TEXT.sharing(sharing.map((r) => r.name).join(', '));
    this.renderViews(state.views);
    this.root.hidden = !this.canShare && state.views.length === 0;
  }

  renderTargets() {
    if (!this.canShare) return;
    const button = (attrs, text, target) =>
      h('button', { type: 'button', class: 'button small', 'data-screen-share': true, ...attrs, text, onclick: () => this.bus.emit('screen:share', target) });
    const peers = this.store.list().map((p) => button({ 'data-peer-id': p.id }, TEXT.shareWith(String(p.name ?? '')), { peerId: p.id }));
    const rooms = this.rooms.map((r) => button({ 'data-room-code': r.code }, TEXT.shareRoom(r.code), { room: r.code }));
    const all = [...peers, ...rooms];
    this.targets.replaceChildren(...(all.length ? all : [h('p', { class: 'hint', text: TEXT.nobody })]));
  }

  /** Keeps one viewer per incoming session; its <video> stays while the session lasts. */
  renderViews(views) {
    const live = new Set(views.map((v) => v.sid));
    for (const [sid, el] of this.viewers) {
      if (live.has(sid)) continue;
      const video = $('[data-screen-video]', el);
      video.srcObject = null;
      el.remove();
      this.viewers.delete(sid);
    }
    for (const v of views) {
      let el = this.viewers.get(v.sid);
      if (!el) {
        el = this.viewer(v);
        this.viewers.set(v.sid, el);
        this.viewList.append(el);
      }
      $('[data-screen-from]', el).textContent = TEXT.screenOf(v.name);
      const video = $('[data-screen-video]', el);
      if (v.stream && video.srcObject !== v.stream) {
        video.srcObject = v.stream;
        video.play().catch(() => {});
      }
    }
  }

  viewer(v) {
    const video = h('video', { class: 'screen-video', 'data-screen-video': true, autoplay: true, muted: true, playsinline: true });
    video.muted = true; // the attribute alone does not mute a <video> made by script
    const stop = h('button', { type: 'button', class: 'button small', 'data-screen-stop': true, text: TEXT.stopViewing });
    stop.addEventListener('click', () => this.bus.emit('screen:stop', v.sid));
    const full = h('button', { type: 'button', class: 'button small', 'data-screen-fullscreen': true, text: TEXT.fullScreen });
    full.addEventListener('click', () => video.requestFullscreen?.().catch(() => {}));
    return h(
      'figure',
      { class: 'screen-view', 'data-screen-view': true, 'data-peer-id': v.peerId, 'data-sid': v.sid },
      video,
      h('figcaption', { class: 'screen-caption' }, h('span', { 'data-screen-from': true }), h('span', { class: 'screen-actions' }, full, stop)),
    );
  }
}
