// The shared QR dialog (share this page) and QR helpers.

import { $, qrImage } from './dom.js';
import { t } from '../i18n.js';

export function openQrDialog(title, link) {
  const dlg = $('[data-qr-dialog]');
  $('[data-qr-title]', dlg).textContent = title;
  const a = $('[data-qr-link]', dlg);
  a.href = link;
  a.textContent = link;
  $('[data-qr-slot]', dlg).replaceChildren(qrImage(link, 220));
  if (!dlg.open) dlg.showModal();
}

export function initShare() {
  const dlg = $('[data-qr-dialog]');
  dlg.addEventListener('close', () => !dlg.open && $('[data-qr-slot]', dlg).replaceChildren());
  $('[data-share-page]').addEventListener('click', () => {
    openQrDialog(t('share.title'), location.origin + location.pathname);
  });
}
