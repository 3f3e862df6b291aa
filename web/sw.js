// The service worker (secure contexts only; registered by js/pwa.js), at /sw.js for the
// root scope. The server fills in its version and the list of every file of the build, so
// each build is a new worker with a cache of its own:
// - install: precache the app shell (the page, stylesheet, modules, workers, icons);
// - activate: delete the caches of older builds, take over open pages;
// - fetch: the page network-first (the cached shell when the server is unreachable or
//   slow), the shell's files from the cache; anything else (/ws, /stats, /remote, /qr.svg,
//   /probe ...) goes to the network untouched and is never cached;
// - POST /share-target (the manifest's share target): keep the shared files in a cache of
//   their own and answer 303 to /?share-target, where js/pwa.js picks them up;
// - notificationclick: bring homedrop's page to the front.

const PREFIX = '/v/VERSION/';
const FILES = [/*FILES*/];
const CACHE = `homedrop-shell-${PREFIX.split('/')[2]}`;
const SHARE_CACHE = 'homedrop-share';
const PAGE = '/';
const PAGE_TIMEOUT_MS = 5000;
const NOT_PRECACHED = new Set(['index.html', 'sw.js', 'manifest.webmanifest']);

/** Every URL of the shell, as the page asks for it. */
function shellUrls() {
  const urls = [PAGE, '/manifest.webmanifest'];
  for (const f of FILES) {
    if (NOT_PRECACHED.has(f)) continue;
    urls.push(PREFIX + f);
    // The page and the manifest name their icons without the version.
    if (f.startsWith('icons/')) urls.push(`/${f}`);
  }
  return urls;
}

const SHELL = new Set(shellUrls());

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll([...SHELL].map((u) => new Request(u, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('homedrop-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === '/share-target' && req.method === 'POST') {
    event.respondWith(receiveShare(req));
    return;
  }
  if (req.method !== 'GET') return;
  if (req.mode === 'navigate' && (url.pathname === PAGE || url.pathname === '/index.html')) {
    event.respondWith(page(req));
    return;
  }
  if (SHELL.has(url.pathname) && !url.search) event.respondWith(fromShell(req));
});

/** The page from the network; the cached shell when that fails or takes too long. */
async function page(req) {
  const network = fetch(req);
  const timeout = new Promise((resolve) => setTimeout(resolve, PAGE_TIMEOUT_MS));
  try {
    const res = await Promise.race([network, timeout]);
    if (res) return res;
  } catch {
    // unreachable: the cached shell below
  }
  const cached = await caches.match(PAGE, { cacheName: CACHE });
  return cached ?? network;
}

async function fromShell(req) {
  const cached = await caches.match(req, { cacheName: CACHE });
  return cached ?? fetch(req);
}

/** Keeps what was shared (files, and title / text / url as one text) for the page. */
async function receiveShare(req) {
  let where = '/?share-target';
  try {
    const form = await req.formData();
    const files = form.getAll('files').filter((f) => typeof f === 'object' && f.size >= 0);
    const text = ['title', 'text', 'url']
      .map((k) => form.get(k))
      .filter((v) => typeof v === 'string' && v.trim())
      .join('\n');
    await caches.delete(SHARE_CACHE);
    const cache = await caches.open(SHARE_CACHE);
    await Promise.all(files.map((f, i) => cache.put(`/share-target/file/${i}`, fileResponse(f))));
    await cache.put('/share-target/meta', Response.json({ count: files.length, text, at: Date.now() }));
  } catch (err) {
    console.error('homedrop: the shared files could not be kept', err);
    where = '/?share-target=failed';
  }
  return Response.redirect(where, 303);
}

function fileResponse(f) {
  return new Response(f, {
    headers: {
      'content-type': f.type || 'application/octet-stream',
      'x-name': encodeURIComponent(f.name || 'shared'),
      'x-modified': String(f.lastModified || Date.now()),
    },
  });
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((list) => {
      const open = list.find((c) => new URL(c.url).origin === self.location.origin);
      return open ? open.focus() : self.clients.openWindow(PAGE);
    }),
  );
});
