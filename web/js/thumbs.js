// Small JPEG thumbnails (≤ 16 KiB data URLs) for image files in an offer, and the scaled
// canvas they and room avatars (chat-media.js) are encoded from.

export const MAX_THUMB_CHARS = 16 * 1024;
const MAX_SOURCE_BYTES = 40 * 1024 * 1024;
const EDGE = 160;
const MAX_THUMBS = 8;

/**
 * An image file drawn at most `edge` px on its longer edge (never enlarged) on a white
 * background (JPEG has no transparency), as a canvas to encode.
 */
export async function scaledCanvas(file, edge) {
  const bmp = await createImageBitmap(file);
  const scale = Math.min(1, edge / Math.max(bmp.width, bmp.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bmp.width * scale));
  canvas.height = Math.max(1, Math.round(bmp.height * scale));
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(bmp, 0, 0, canvas.width, canvas.height);
  bmp.close();
  return canvas;
}

async function thumbnail(file) {
  if (!file.type.startsWith('image/') || file.size > MAX_SOURCE_BYTES) return undefined;
  if (typeof createImageBitmap !== 'function') return undefined;
  const canvas = await scaledCanvas(file, EDGE);
  for (const q of [0.7, 0.5, 0.3, 0.15]) {
    const url = canvas.toDataURL('image/jpeg', q);
    if (url.length <= MAX_THUMB_CHARS) return url;
  }
  return undefined;
}

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(resolve, ms))]);
}

/** Thumbnails for the first few images; never throws, undefined where none. */
export async function thumbnails(files) {
  const out = [];
  let made = 0;
  for (const f of files) {
    let thumb;
    if (made < MAX_THUMBS) {
      thumb = await withTimeout(thumbnail(f).catch(() => undefined), 3000);
      if (thumb) made += 1;
    }
    out.push(thumb);
  }
  return out;
}

/** Whether a peer-provided thumb is safe to show as an <img src>. */
export function validThumb(t) {
  return (
    typeof t === 'string' &&
    t.length <= MAX_THUMB_CHARS + 1024 &&
    /^data:image\/jpeg;base64,[A-Za-z0-9+/=]+$/.test(t)
  );
}
