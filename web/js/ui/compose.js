// Sending from the devices view: "Send photos or files" and "Message" for the selected
// devices (or the only one), files pasted or dropped anywhere, and files shared into homedrop
// (the share target). Files go out as the intent `send:files` ({peerId, files}) per device; a
// text waits for every device's answer (the box is cleared only when all got it), so it is a
// call. Files without a chosen device open the send sheet (ui/send-sheet.js), which asks.

import { $ } from './dom.js';

/**
 * @param targets () => peerId[] (the device tiles' selection)
 * @param sendText (peerId, string) => Promise
 * @param sheet the SendSheet (ui/send-sheet.js)
 */
export function initCompose(bus, targets, sendText, sheet) {
  const fileInput = $('[data-file-input]');
  const textInput = $('[data-text-input]');
  const dialog = $('[data-message-dialog]');

  const sendFiles = (files) => {
    if (!files.length) return;
    const ids = targets();
    if (!ids.length) sheet.open({ files });
    else for (const peerId of ids) bus.emit('send:files', { peerId, files });
  };
  const sendMessage = async (text) => {
    if (!text.trim()) return false;
    const ids = targets();
    if (!ids.length) {
      bus.emit('notice', { kind: 'error', text: 'Choose a device to send to first.' });
      return false;
    }
    const results = await Promise.allSettled(ids.map((id) => sendText(id, text)));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) {
      bus.emit('notice', { kind: 'error', text: `Message not sent: ${failed[0].reason?.message ?? 'error'}` });
    } else {
      bus.emit('notice', { kind: 'info', text: ids.length > 1 ? `Message sent to ${ids.length} devices.` : 'Message sent.' });
    }
    return failed.length === 0;
  };
  const submit = async () => {
    if (!(await sendMessage(textInput.value))) return;
    textInput.value = '';
    if (dialog.open) dialog.close();
  };

  fileInput.addEventListener('change', () => {
    const files = [...fileInput.files];
    fileInput.value = '';
    sendFiles(files);
  });
  $('[data-message-open]').addEventListener('click', () => {
    if (!targets().length) {
      bus.emit('notice', { kind: 'error', text: 'Choose a device to send to first.' });
      return;
    }
    dialog.showModal();
    textInput.focus();
  });
  $('[data-message-close]').addEventListener('click', () => dialog.close());
  $('[data-send-text]').addEventListener('click', submit);
  textInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      submit();
    }
  });
  initPasteAndDrop(sendFiles, sendMessage);
}

/** Pasted files or text (outside a text field) and files dropped outside a device tile. */
function initPasteAndDrop(sendFiles, sendMessage) {
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
  // A tile handles its own drop; anywhere else the files go to the selection (or the sheet).
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length) sendFiles(files);
  });
}
