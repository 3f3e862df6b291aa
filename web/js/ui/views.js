// The views (data-view) and the bottom bar (data-nav): one view shown at a time on a phone;
// from 1024 px wide the devices stay in the first column and the chosen view fills the
// second (the inbox when "devices" is chosen). The shown view has data-active, the others
// `hidden`; its bar button has aria-current="page".
//
// Shows a view on `view:show` ({view}) and on the user's tap. A view not on screen counts what
// arrived there (data-nav-badge): received files and texts, room messages from others.

import { $ } from './dom.js';

const VIEWS = ['devices', 'inbox', 'rooms', 'pairing', 'more'];
const WIDE = '(min-width: 1024px)';

export class Views {
  constructor(bus) {
    this.bus = bus;
    this.wide = window.matchMedia(WIDE);
    this.current = 'devices';
    this.unseen = new Map(VIEWS.map((v) => [v, 0]));
    for (const b of document.querySelectorAll('[data-nav]')) {
      b.addEventListener('click', () => this.show(b.dataset.nav, { focus: true }));
    }
    this.wide.addEventListener('change', () => this.render());
    bus.on('view:show', ({ view }) => this.show(view));
    bus.on('received:file', () => this.arrived('inbox'));
    bus.on('received:text', () => this.arrived('inbox'));
    bus.on('chat:message', (m) => m?.from !== 'self' && this.arrived('rooms'));
    bus.on('room:joined', (r) => r?.fresh !== false && this.show('rooms'));
    this.render();
  }

  /** The views on screen now: one on a phone, the devices and one more when wide. */
  shown() {
    if (!this.wide.matches) return new Set([this.current]);
    return new Set(['devices', this.current === 'devices' ? 'inbox' : this.current]);
  }

  show(view, { focus = false } = {}) {
    if (!VIEWS.includes(view)) return;
    this.current = view;
    this.unseen.set(view, 0);
    this.render();
    if (focus) this.focusView(view);
  }

  /** After a tap on the bar, reading goes on at the view's heading (screen readers). */
  focusView(view) {
    const heading = $(`[data-view="${view}"] h2`);
    if (!heading) return;
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
    window.scrollTo({ top: 0 });
  }

  arrived(view) {
    if (this.shown().has(view) && document.visibilityState === 'visible') return;
    this.unseen.set(view, this.unseen.get(view) + 1);
    this.renderBadges();
  }

  render() {
    const shown = this.shown();
    for (const v of VIEWS) {
      const el = $(`[data-view="${v}"]`);
      if (!el) continue;
      el.hidden = !shown.has(v);
      if (v === this.current) el.dataset.active = '';
      else delete el.dataset.active;
    }
    for (const b of document.querySelectorAll('[data-nav]')) {
      if (b.dataset.nav === this.current) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
    document.body.dataset.currentView = this.current;
    for (const v of shown) this.unseen.set(v, 0);
    this.renderBadges();
  }

  renderBadges() {
    for (const b of document.querySelectorAll('[data-nav]')) {
      const n = this.unseen.get(b.dataset.nav) ?? 0;
      const badge = $('[data-nav-badge]', b);
      badge.hidden = n === 0;
      badge.textContent = n > 99 ? '99+' : String(n);
    }
  }
}
