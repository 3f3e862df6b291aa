// Connection status (data-status) and the own name with rename (data-rename ...).
// Shows `status` and `name`; a new name is the intent `name:set` (name).

import { $ } from './dom.js';
import { cleanName } from '../names.js';
import { t } from '../i18n.js';

export function initStatus(bus) {
  const el = $('[data-status]');
  bus.on('status', (state) => {
    el.dataset.state = state;
    el.textContent = t(`status.${state}`);
  });
}

/** @param getName () => the current name */
export function initName(bus, getName) {
  const label = $('[data-self-name]');
  const form = $('.rename-form');
  const input = $('[data-name-input]');
  const renameBtn = $('[data-rename]');
  const show = () => (label.textContent = getName());
  show();
  bus.on('name', show);
  renameBtn.addEventListener('click', () => {
    input.value = getName();
    form.hidden = false;
    renameBtn.hidden = true;
    input.focus();
    input.select();
  });
  const close = () => {
    form.hidden = true;
    renameBtn.hidden = false;
    renameBtn.focus();
  };
  $('[data-name-cancel]').addEventListener('click', close);
  input.addEventListener('keydown', (e) => e.key === 'Escape' && close());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = cleanName(input.value);
    if (!name) {
      bus.emit('notice', { kind: 'error', text: t('name.invalid') });
      return;
    }
    bus.emit('name:set', name);
    close();
  });
}
