// Small DOM helpers. Peer-provided text only ever goes through textContent.

import { t, formatNumber } from '../i18n.js';

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

/** A size in the language's number format and unit symbols (catalog keys `size.B` … `size.TB`). */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  const digits = n >= 100 || i === 0 ? 0 : 1;
  const num = formatNumber(digits ? n : Math.round(n), { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return t(`size.${units[i]}`, { n: num });
}

export function formatDuration(secs) {
  if (!Number.isFinite(secs) || secs < 0) return '';
  if (secs < 60) return t('time.s', { s: Math.ceil(secs) });
  if (secs < 3600) return t('time.minS', { min: Math.floor(secs / 60), s: Math.round(secs % 60) });
  return t('time.hMin', { h: Math.floor(secs / 3600), min: Math.round((secs % 3600) / 60) });
}

/** The server renders QR codes as SVG. */
export function qrImage(link, size = 200) {
  return h('img', {
    class: 'qr',
    src: `/qr.svg?d=${encodeURIComponent(link)}`,
    alt: t('qr.alt', { link }),
    width: size,
    height: size,
    'data-qr': true,
  });
}

export function canCopy() {
  return typeof navigator.clipboard?.writeText === 'function';
}
