// Capture for room conversations: avatars resized in the browser, audio recording and the
// camera preview. Recording and the preview need a secure context (navigator.mediaDevices
// is undefined on plain http), so both are feature-detected; the page then falls back to
// file inputs with `capture`, which open the phone's own recorder or camera.

import { scaledCanvas, validThumb } from './thumbs.js';
import { t } from './i18n.js';

export const AVATAR_EDGE = 64;
const AVATAR_KEY = 'homedropAvatar';

export function canRecordAudio() {
  return (
    window.isSecureContext &&
    typeof navigator.mediaDevices?.getUserMedia === 'function' &&
    typeof window.MediaRecorder === 'function'
  );
}

export function canPreviewCamera() {
  return window.isSecureContext && typeof navigator.mediaDevices?.getUserMedia === 'function';
}

/** An image file → a JPEG data URL at most 64 px on its longer edge (≤ 16 KiB). */
export async function resizeAvatar(file) {
  const canvas = await scaledCanvas(file, AVATAR_EDGE);
  for (const q of [0.85, 0.6, 0.4]) {
    const url = canvas.toDataURL('image/jpeg', q);
    if (validThumb(url)) return url;
  }
  throw new Error(t('avatar.tooBig'));
}

export function loadAvatar() {
  try {
    const a = JSON.parse(localStorage.getItem(AVATAR_KEY) ?? 'null');
    if (a && (typeof a.emoji === 'string' || typeof a.image === 'string')) return a;
  } catch {
    /* storage blocked or damaged */
  }
  return { emoji: '🙂' };
}

export function saveAvatar(a) {
  try {
    localStorage.setItem(AVATAR_KEY, JSON.stringify(a));
  } catch {
    /* storage blocked */
  }
}

/** Starts recording from the microphone; `stop()` resolves with an audio File. */
export async function startRecording() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const rec = new MediaRecorder(stream);
  const parts = [];
  rec.ondataavailable = (e) => e.data.size && parts.push(e.data);
  const stopped = new Promise((resolve) => (rec.onstop = resolve));
  rec.start();
  return {
    async stop() {
      rec.stop();
      await stopped;
      for (const track of stream.getTracks()) track.stop();
      const type = rec.mimeType || 'audio/webm';
      const ext = type.includes('ogg') ? 'ogg' : type.includes('mp4') ? 'm4a' : 'webm';
      return new File(parts, `voice-${stamp()}.${ext}`, { type });
    },
  };
}

/** Opens the rear camera in `video`; `shoot()` resolves with a JPEG File, `close()` ends it. */
export async function openCamera(video) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
  video.srcObject = stream;
  await video.play().catch(() => {});
  const close = () => {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  const shoot = async () => {
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth || 640;
    canvas.height = video.videoHeight || 480;
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
    return new File([blob], `snap-${stamp()}.jpg`, { type: 'image/jpeg' });
  };
  return { shoot, close };
}

function stamp() {
  return new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
}
