// Small DOM helpers. Peer-provided text only ever goes through textContent.

/** h('button', {class: 'x', data-peer: ''}, 'text', child) → element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function $(sel, root = document) {
  return root.querySelector(sel);
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

export function formatDuration(secs) {
  if (!Number.isFinite(secs) || secs < 0) return '';
  if (secs < 60) return `${Math.ceil(secs)} s`;
  if (secs < 3600) return `${Math.floor(secs / 60)} min ${Math.round(secs % 60)} s`;
  return `${Math.floor(secs / 3600)} h ${Math.round((secs % 3600) / 60)} min`;
}

/** The server renders QR codes as SVG. */
export function qrImage(link, size = 200) {
  return h('img', {
    class: 'qr',
    src: `/qr.svg?d=${encodeURIComponent(link)}`,
    alt: `QR code for ${link}`,
    width: size,
    height: size,
    'data-qr': true,
  });
}

export function canCopy() {
  return typeof navigator.clipboard?.writeText === 'function';
}
