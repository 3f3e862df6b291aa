// The avatar shown beside this device's room messages (data-avatar-*): an emoji, or a
// picture resized in the browser to at most 64 px. Sent to room members with the name:
// every change emits `profile:changed`.

import { $ } from './dom.js';
import { avatarNode } from './room-entry.js';
import { loadAvatar, saveAvatar, resizeAvatar } from '../chat-media.js';
import { cleanAvatar } from '../chat.js';
import { t } from '../i18n.js';

/** Returns () => the current avatar. */
export function initAvatar(bus) {
  let avatar = cleanAvatar(loadAvatar()) ?? { emoji: '🙂' };
  const shown = $('[data-avatar]');
  const emoji = $('[data-avatar-emoji]');
  const file = $('[data-avatar-file]');
  const show = () => shown.replaceChildren(avatarNode(avatar));
  const set = (a) => {
    avatar = a;
    saveAvatar(a);
    show();
    bus.emit('profile:changed');
  };
  show();
  emoji.value = avatar.emoji ?? '';
  emoji.addEventListener('change', () => {
    const a = cleanAvatar({ emoji: emoji.value });
    if (a) set(a);
    else bus.emit('notice', { kind: 'error', text: t('avatar.invalid') });
  });
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    file.value = '';
    if (!f) return;
    try {
      set({ image: await resizeAvatar(f) });
    } catch (err) {
      bus.emit('notice', { kind: 'error', text: t('avatar.failed', { reason: err.message || err }) });
    }
  });
  return () => avatar;
}
