// The installable app, in secure contexts (https with a trusted certificate) only: registers
// the service worker (/sw.js: offline shell, share target), picks up what another app
// shared (the worker keeps it in a cache and sends the page to /?share-target; this opens
// the send sheet with it: `send:sheet`), and holds a screen wake lock while a transfer runs
// (`transfer:update` with state `active`; released when none runs, asked again when the
// page is shown again). On plain http none of this exists; ui/app-settings.js says so.

const STRINGS = {
  shareNeedsApp: 'Sharing to homedrop works once it is installed from its https address.',
  shareFailed: 'The shared files could not be kept. Share them again.',
  shareLost: 'Nothing shared was found. Share the files again.',
};

const SHARE_CACHE = 'homedrop-share';
const SHARE_PARAM = 'share-target';

export class Pwa {
  constructor(bus) {
    this.bus = bus;
    this.secure = window.isSecureContext && 'serviceWorker' in navigator;
    this.worker = this.secure ? 'registering' : 'unsupported';
    this.shared = null;
    this.running = new Set();
    this.lock = null;
    this.locking = false;
    bus.on('transfer:update', (t) => this.onTransfer(t));
    document.addEventListener('visibilitychange', () => this.syncLock());
  }

  /** Registers the worker and handles a share; call once the UI listens on the bus. */
  start() {
    if (this.secure) this.register();
    this.takeShare().catch((err) => {
      console.error('homedrop: reading the shared files failed', err);
      this.notice(STRINGS.shareFailed);
    });
  }

  register() {
    navigator.serviceWorker
      .register('/sw.js', { scope: '/' })
      .then(() => {
        this.worker = 'registered';
      })
      .catch((err) => {
        this.worker = 'failed';
        console.warn('homedrop: no service worker (offline use and sharing stay off)', err);
      });
  }

  /** `/?share-target`: the worker kept a share for this page (or the server had none). */
  async takeShare() {
    const params = new URLSearchParams(location.search);
    if (!params.has(SHARE_PARAM)) {
      // An earlier share was picked up by an earlier page: its data can go.
      if (this.secure && 'caches' in window) await caches.delete(SHARE_CACHE);
      return;
    }
    params.delete(SHARE_PARAM);
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
    if (!('caches' in window) || !navigator.serviceWorker?.controller) return this.notice(STRINGS.shareNeedsApp);
    const cache = await caches.open(SHARE_CACHE);
    const meta = await cache.match('/share-target/meta');
    if (!meta) return this.notice(STRINGS.shareLost);
    const { count, text } = await meta.json();
    const files = [];
    for (let i = 0; i < Math.min(count, 10_000); i++) {
      const res = await cache.match(`/share-target/file/${i}`);
      if (res) files.push(await toFile(res));
    }
    await cache.delete('/share-target/meta');
    this.shared = { files: files.map((f) => ({ name: f.name, size: f.size })), text: text ?? '' };
    this.bus.emit('send:sheet', { files, text: text || undefined });
  }

  notice(text) {
    this.bus.emit('notice', { kind: 'error', text });
  }

  onTransfer(t) {
    if (t.state === 'active') this.running.add(t.tid);
    else this.running.delete(t.tid);
    this.syncLock();
  }

  /** Holds the screen on while a transfer runs and the page is visible. */
  async syncLock() {
    if (!('wakeLock' in navigator) || this.locking) return;
    const want = this.running.size > 0 && document.visibilityState === 'visible';
    if (want && !this.lock) {
      this.locking = true;
      try {
        const lock = await navigator.wakeLock.request('screen');
        lock.addEventListener('release', () => {
          if (this.lock === lock) this.lock = null;
        });
        this.lock = lock;
      } catch (err) {
        console.warn('homedrop: no screen wake lock', err);
      } finally {
        this.locking = false;
      }
      if (this.running.size === 0) this.syncLock();
    } else if (!want && this.lock && this.running.size === 0) {
      const lock = this.lock;
      this.lock = null;
      lock.release().catch(() => {});
    }
  }

  /** Diagnostics for window.homedrop.state(). */
  snapshot() {
    return {
      secure: window.isSecureContext,
      worker: this.worker,
      controlled: !!navigator.serviceWorker?.controller,
      shared: this.shared,
      wakeLock: !!this.lock,
      running: this.running.size,
    };
  }
}

/** A cached share entry (see sw.js) as the File it was. */
async function toFile(res) {
  const blob = await res.blob();
  let name = 'shared';
  try {
    name = decodeURIComponent(res.headers.get('x-name') || name);
  } catch {
    // a malformed name: keep the default
  }
  const lastModified = Number(res.headers.get('x-modified')) || Date.now();
  return new File([blob], name, { type: blob.type, lastModified });
}
