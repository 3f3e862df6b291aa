// What https adds, and the app's settings. On plain http: the hint (data-https-hint) naming
// what the https address would add. In a secure context: the app section
// (data-app-settings) with "Install" (data-install, when the browser offers it) and
// "Notify me" (data-notify-enable: asks for permission from that click only), and a
// notification for each incoming request (`transfer:request`) while the page is hidden,
// closed again once the request is answered (`transfer:update`).

import { $ } from './dom.js';

const STRINGS = {
  httpsTitle: 'More with https',
  httpsHint:
    'Open homedrop over https to install it as an app, share from the gallery, get notifications and keep the screen on during transfers.',
  appTitle: 'App',
  install: 'Install homedrop',
  notifyEnable: 'Notify me of incoming files',
  notifyOn: 'Notifications are on: homedrop tells you of incoming files while it is in the background.',
  notifyDenied: 'Notifications are blocked for this site; allow them in the browser settings.',
  notifyTitle: 'Incoming files',
  notifyBody: (name, count) => `${name} wants to send you ${count === 1 ? 'a file' : `${count} files`}.`,
};

export function initAppSettings(bus) {
  if (!window.isSecureContext) {
    const hint = $('[data-https-hint]');
    $('h2', hint).textContent = STRINGS.httpsTitle;
    $('p', hint).textContent = STRINGS.httpsHint;
    hint.hidden = false;
    return;
  }
  const box = $('[data-app-settings]');
  $('h2', box).textContent = STRINGS.appTitle;
  initInstall($('[data-install]'), box);
  if ('Notification' in window) initNotify(bus, box);
}

/** "Install homedrop" while the browser offers the install prompt. */
function initInstall(button, box) {
  let prompt = null;
  button.textContent = STRINGS.install;
  window.addEventListener('beforeinstallprompt', (e) => {
    e.preventDefault();
    prompt = e;
    button.hidden = false;
    box.hidden = false;
  });
  window.addEventListener('appinstalled', () => {
    button.hidden = true;
  });
  button.addEventListener('click', async () => {
    if (!prompt) return;
    const p = prompt;
    prompt = null;
    button.hidden = true;
    await p.prompt();
  });
}

function initNotify(bus, box) {
  const button = $('[data-notify-enable]');
  const state = $('[data-notify-state]');
  button.textContent = STRINGS.notifyEnable;
  const render = () => {
    const p = Notification.permission;
    button.hidden = p !== 'default';
    state.dataset.permission = p;
    state.textContent = p === 'granted' ? STRINGS.notifyOn : p === 'denied' ? STRINGS.notifyDenied : '';
  };
  render();
  box.hidden = false;
  // Asked from this click only: browsers refuse (and remember) prompts without a gesture.
  button.addEventListener('click', () => Notification.requestPermission().then(render, render));
  const shown = new Set(); // tids with a notification up
  bus.on('transfer:request', (t) => {
    if (t.state !== 'waiting' || document.visibilityState !== 'hidden') return;
    if (Notification.permission !== 'granted') return;
    shown.add(t.tid);
    notifyRequest(t);
  });
  bus.on('transfer:update', (t) => {
    if (t.state === 'waiting' || !shown.delete(t.tid)) return;
    closeNotification(t.tid);
  });
}

async function notifyRequest(t) {
  const options = { body: STRINGS.notifyBody(t.peerName, t.files.length), tag: `request-${t.tid}`, icon: '/icons/app-192.png' };
  try {
    // Phones show page notifications only through the service worker.
    const reg = await navigator.serviceWorker?.getRegistration();
    if (reg) await reg.showNotification(STRINGS.notifyTitle, options);
    else new Notification(STRINGS.notifyTitle, options).addEventListener('click', () => window.focus());
  } catch (err) {
    console.warn('homedrop: notification failed', err);
  }
}

async function closeNotification(tid) {
  const reg = await navigator.serviceWorker?.getRegistration().catch(() => null);
  const shown = (await reg?.getNotifications({ tag: `request-${tid}` }).catch(() => [])) ?? [];
  for (const n of shown) n.close();
}
