// Toast notices (data-notice, data-kind = info / error).

import { h, $ } from './dom.js';
import { t } from '../i18n.js';

const INFO_MS = 5000;
const ERROR_MS = 10000;
const MAX_SHOWN = 4;

export function initNotices(bus) {
  const box = $('[data-notices]');
  bus.on('notice', ({ kind, text }) => show(box, kind === 'error' ? 'error' : 'info', text));
}

function show(box, kind, text) {
  const close = () => el.remove();
  const el = h(
    'div',
    { class: `notice ${kind}`, 'data-notice': true, 'data-kind': kind, role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'notice-text', text }),
    h('button', { type: 'button', class: 'notice-close', 'aria-label': t('notice.dismiss'), onclick: close }),
  );
  box.append(el);
  while (box.children.length > MAX_SHOWN) box.firstElementChild.remove();
  setTimeout(close, kind === 'error' ? ERROR_MS : INFO_MS);
}
