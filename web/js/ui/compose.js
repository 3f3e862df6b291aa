// Choosing files, writing a message, pasting files or text: sends to the target devices.
// Files go out as the intent `send:files` ({peerId, files}) per device; a text waits for
// every device's answer (the box is cleared only when all got it), so it is a call.

import { $ } from './dom.js';
import { t } from '../i18n.js';

/**
 * @param targets () => peerId[] (the device tiles' selection)
 * @param sendText (peerId, string) => Promise
 */
export function initCompose(bus, targets, sendText) {
  const fileInput = $('[data-file-input]');
  const textInput = $('[data-text-input]');

  const pickTargets = () => {
    const ids = targets();
    if (!ids.length) bus.emit('notice', { kind: 'error', text: t('compose.noTarget') });
    return ids;
  };
  const sendFiles = (files) => {
    if (!files.length) return;
    for (const peerId of pickTargets()) bus.emit('send:files', { peerId, files });
  };
  const sendMessage = async (text) => {
    if (!text.trim()) return false;
    const ids = pickTargets();
    if (!ids.length) return false;
    const results = await Promise.allSettled(ids.map((id) => sendText(id, text)));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) {
      bus.emit('notice', { kind: 'error', text: t('compose.failed', { reason: failed[0].reason?.message ?? t('error.generic') }) });
    } else {
      bus.emit('notice', { kind: 'info', text: t('compose.sent', { count: ids.length }) });
    }
    return failed.length === 0;
  };

  fileInput.addEventListener('change', () => {
    const files = [...fileInput.files];
    fileInput.value = '';
    sendFiles(files);
  });
  $('[data-send-text]').addEventListener('click', async () => {
    if (await sendMessage(textInput.value)) textInput.value = '';
  });
  textInput.addEventListener('keydown', async (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      if (await sendMessage(textInput.value)) textInput.value = '';
    }
  });
  document.addEventListener('paste', (e) => {
    const t = e.target;
    const files = [...(e.clipboardData?.files ?? [])];
    if (files.length) {
      e.preventDefault();
      sendFiles(files);
      return;
    }
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement) return;
    const text = e.clipboardData?.getData('text/plain') ?? '';
    if (text.trim()) {
      e.preventDefault();
      sendMessage(text);
    }
  });
  // Dropping files outside a tile is not a send; keep the browser from opening them.
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => e.preventDefault());
}
