// One line of a room conversation (data-chat-msg): avatar, sender name, time, and either
// Markdown text (built as DOM nodes by markdown.js, never as HTML) or an inline photo,
// audio player or file link with its transfer progress.

import { h, formatBytes } from './dom.js';
import { renderMarkdown } from '../markdown.js';
import { cleanAvatar } from '../chat.js';
import { t, currentLanguage } from '../i18n.js';

const INLINE_MAX_BYTES = 50 * 1000 * 1000;

export function avatarNode(avatar) {
  const a = cleanAvatar(avatar);
  if (a?.image) return h('img', { class: 'avatar', src: a.image, alt: '', width: 32, height: 32, 'data-chat-avatar': true });
  return h('span', { class: 'avatar', 'aria-hidden': 'true', 'data-chat-avatar': true, text: a?.emoji ?? '🙂' });
}

function timeNode(ts) {
  const d = new Date(Number.isFinite(ts) ? ts : Date.now());
  const hhmm = d.toLocaleTimeString(currentLanguage(), { hour: '2-digit', minute: '2-digit' });
  return h('time', { class: 'chat-time', datetime: d.toISOString(), 'data-chat-time': true, text: hhmm });
}

/** Builds the element for a record; media records get their progress and player later. */
export function renderEntry(rec) {
  const self = rec.from === 'self';
  const body = rec.kind === 'text' ? textBody(rec) : mediaBody(rec);
  return h(
    'li',
    {
      class: `chat-msg${self ? ' self' : ''}`,
      'data-chat-msg': true,
      'data-msg-id': rec.id,
      'data-kind': rec.kind,
      'data-from': self ? 'self' : 'peer',
    },
    avatarNode(rec.avatar),
    h('div', { class: 'chat-bubble' },
      h('div', { class: 'chat-head' },
        h('strong', { class: 'chat-name', 'data-chat-name': true, text: self ? t('chat.you', { name: rec.name }) : rec.name }),
        timeNode(rec.ts)),
      body),
  );
}

function textBody(rec) {
  const div = h('div', { class: 'chat-text', 'data-chat-text': true });
  div.append(renderMarkdown(rec.text));
  return div;
}

function mediaBody(rec) {
  const box = h(
    'div',
    {
      class: 'chat-media',
      'data-chat-media': true,
      'data-name': rec.fileName,
      'data-size': rec.size,
      'data-state': rec.blob && !rec.sending ? 'done' : 'active',
    },
    h('span', { class: 'chat-file', text: `${rec.fileName} · ${formatBytes(rec.size)}` }),
    h('progress', { class: 'chat-progress', max: Math.max(1, rec.size), value: rec.blob && !rec.sending ? rec.size : 0, 'data-chat-progress': true }),
    h('span', { class: 'chat-media-info', 'data-chat-media-info': true }),
  );
  if (rec.sha256) box.dataset.sha256 = rec.sha256;
  if (rec.blob) showMedia(box, rec);
  return box;
}

/** Progress of a media line: bytes of all its transfers, and a state. */
export function setProgress(li, bytes, total, state, info = '') {
  const box = li.querySelector('[data-chat-media]');
  if (!box) return;
  const bar = box.querySelector('[data-chat-progress]');
  bar.max = Math.max(1, total);
  bar.value = Math.min(bytes, total);
  if (box.dataset.state !== 'done' || state === 'done') box.dataset.state = state;
  box.querySelector('[data-chat-media-info]').textContent = info;
}

/** The media arrived (or was sent): show it inline. */
export function setMedia(li, rec) {
  const box = li.querySelector('[data-chat-media]');
  if (!box) return;
  if (rec.sha256) box.dataset.sha256 = rec.sha256;
  box.dataset.state = 'done';
  const bar = box.querySelector('[data-chat-progress]');
  bar.value = bar.max;
  if (!box.querySelector('[data-chat-photo],[data-chat-audio],[data-chat-file]')) showMedia(box, rec);
}

function showMedia(box, rec) {
  const url = URL.createObjectURL(rec.blob);
  const mime = rec.mime || rec.blob.type || '';
  let node;
  if (rec.kind === 'photo' && mime.startsWith('image/') && rec.size <= INLINE_MAX_BYTES) {
    node = h('img', { class: 'chat-photo', src: url, alt: rec.fileName, 'data-chat-photo': true });
  } else if (rec.kind === 'audio' && rec.size <= INLINE_MAX_BYTES) {
    node = h('audio', { class: 'chat-audio', src: url, controls: true, preload: 'metadata', 'data-chat-audio': true });
  }
  const save = h('a', { class: 'button small', href: url, download: rec.fileName, 'data-chat-file': true }, t('inbox.save'));
  box.append(...[node, save].filter(Boolean));
}
