// Capture controls of the room conversation: Snap (camera), audio messages, files, and
// the "snap on join" prompt. Secure contexts get a live camera preview and MediaRecorder;
// on plain http the same buttons open file inputs with `capture`, which phones answer with
// their own camera or recorder app.

import { h, $ } from './dom.js';
import { canPreviewCamera, canRecordAudio, openCamera, startRecording } from '../chat-media.js';
import { deviceKind } from '../names.js';
import { t } from '../i18n.js';

/** @param env {room(), send(file, kind), system(text)} */
export function initCapture(bus, env) {
  const snapInput = $('[data-snap-input]');
  const audioInput = $('[data-audio-input]');
  const fileInput = $('[data-chat-file-input]');
  const take = (input, kind) => {
    input.addEventListener('change', () => {
      const files = [...(input.files ?? [])];
      input.value = '';
      for (const f of files) env.send(f, kind === 'photo' && !f.type.startsWith('image/') ? 'file' : kind);
    });
  };
  take(snapInput, 'photo');
  take(audioInput, 'audio');
  take(fileInput, 'file');
  // Phones get their own camera app (better than a preview in a page), as on plain http.
  const preview = canPreviewCamera() && deviceKind() === 'desktop';
  const snap = () => (preview ? cameraDialog(env).catch(() => snapInput.click()) : snapInput.click());
  $('[data-snap]').addEventListener('click', snap);
  initRecorder(env);
  bus.on('room:snapPrompt', (code) => prompt(code, snap));
}

function initRecorder(env) {
  const btn = $('[data-audio-record]');
  if (!canRecordAudio()) return; // stays hidden: the file input is the recorder on http
  btn.hidden = false;
  let recording = null;
  btn.addEventListener('click', async () => {
    if (!recording) {
      try {
        recording = await startRecording();
        btn.textContent = t('chat.stop');
        btn.dataset.recording = 'true';
      } catch (err) {
        env.system(t('chat.recordFailed', { reason: err.message || err }));
      }
      return;
    }
    const r = recording;
    recording = null;
    btn.textContent = t('chat.record');
    delete btn.dataset.recording;
    env.send(await r.stop(), 'audio');
  });
}

/** A line in the room's log asking for a snap, with a button that opens the camera. */
function prompt(code, snap, text = t('chat.snapPrompt')) {
  const log = document.querySelector(`[data-chat-log][data-code="${CSS.escape(code)}"]`);
  if (!log) return;
  const btn = h('button', { type: 'button', class: 'button primary small', 'data-snap-prompt-take': true }, t('chat.takeSnap'));
  const li = h('li', { class: 'chat-system snap-prompt', 'data-snap-prompt': true }, h('span', { text }), ' ', btn);
  btn.addEventListener('click', () => {
    li.remove();
    snap();
  });
  log.append(li);
}

/** Secure contexts: a live preview with a shutter; the photo goes to every member. */
async function cameraDialog(env) {
  const dlg = $('[data-snap-dialog]');
  const video = $('[data-snap-video]');
  const cam = await openCamera(video);
  const shutter = $('[data-snap-shutter]');
  const done = () => {
    cam.close();
    shutter.onclick = null;
    if (dlg.open) dlg.close();
  };
  shutter.onclick = async () => {
    const file = await cam.shoot();
    done();
    env.send(file, 'photo');
  };
  dlg.addEventListener('close', done, { once: true });
  dlg.showModal();
}
