// Server `error` messages as readable notices.

const TEXT = {
  roomFull: 'That room is full.',
  noSuchRoom: 'There is no room with that code (rooms close 10 minutes after the last device leaves).',
  rateLimited: 'Too many attempts. Wait a minute and try again.',
  badPairKey: 'That pairing key is wrong or has expired.',
  badVersion: 'This page is out of date. Reload it.',
};

export function initServerErrors(bus) {
  bus.on('server:error', (m) => {
    // A peer that just left cannot receive signals any more; nothing for the user to do.
    if (m.code === 'notAllowed' && m.ref === 'signal') return;
    const text = TEXT[m.code] || (typeof m.message === 'string' && m.message) || 'Something went wrong.';
    bus.emit('notice', { kind: 'error', text });
  });
}
