// Loads the page again when the app itself did not load. A classic script with no imports,
// so it runs even when the modules do not.
//
// When the network changes while a page loads (a phone roaming between access points, an
// interface or IPv6 address coming up), Chromium fails every request in flight with
// ERR_NETWORK_CHANGED. One lost module stops the whole module graph: main.js never runs, and
// the page would say "Connecting…" for ever. After `load` (module scripts have run or failed
// by then) a missing `window.homedrop` means exactly that: load the page again, a few times
// with a growing pause, then say so and offer a button.
(() => {
  const KEY = 'homedrop-boot-retries';
  const MAX_RETRIES = 3;
  const WINDOW_MS = 2 * 60 * 1000;

  function recentRetries(now) {
    try {
      const list = JSON.parse(sessionStorage.getItem(KEY) || '[]');
      return Array.isArray(list) ? list.filter((t) => now - t < WINDOW_MS) : [];
    } catch {
      return [];
    }
  }

  function giveUp() {
    console.error('homedrop: the app did not load; check the connection and reload the page');
    const status = document.querySelector('[data-status]');
    if (status) {
      status.dataset.state = 'offline';
      // English: the catalogs load through the very modules that failed.
      status.textContent = 'Not loaded';
    }
    const banner = document.querySelector('[data-boot-error]');
    if (!banner) return;
    banner.hidden = false;
    banner.querySelector('[data-boot-reload]')?.addEventListener('click', () => {
      try {
        sessionStorage.removeItem(KEY);
      } catch {
        /* storage off: the reload still happens */
      }
      location.reload();
    });
  }

  // main.js loads the message catalog before it builds the app (window.homedropStarting):
  // judge once that is over.
  window.addEventListener('load', () => {
    const starting = window.homedropStarting;
    if (!window.homedrop && starting) starting.catch(() => {}).finally(() => setTimeout(check, 0));
    else check();
  });

  function check() {
    if (window.homedrop) return;
    const now = Date.now();
    const retries = recentRetries(now);
    if (retries.length >= MAX_RETRIES) {
      giveUp();
      return;
    }
    retries.push(now);
    try {
      sessionStorage.setItem(KEY, JSON.stringify(retries));
    } catch {
      // Without sessionStorage the count cannot survive the reload: do not loop.
      giveUp();
      return;
    }
    console.warn(`homedrop: the app did not load completely; loading the page again (${retries.length} of ${MAX_RETRIES})`);
    setTimeout(() => location.reload(), 500 * retries.length);
  }
})();
