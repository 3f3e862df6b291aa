// Server `error` messages as readable notices.

import { ClientMsg, ErrorCode, ServerMsg, serverEvent } from '../protocol.js';

const TEXT = {
  [ErrorCode.roomFull]: 'That room is full.',
  [ErrorCode.noSuchRoom]: 'There is no room with that code (rooms close 10 minutes after the last device leaves).',
  [ErrorCode.rateLimited]: 'Too many attempts. Wait a minute and try again.',
  [ErrorCode.badPairKey]: 'That pairing key is wrong or has expired.',
  [ErrorCode.badVersion]: 'This page is out of date. Reload it.',
};

export function initServerErrors(bus) {
  bus.on(serverEvent(ServerMsg.error), (m) => {
    // A peer that just left cannot receive signals any more; nothing for the user to do.
    if (m.code === ErrorCode.notAllowed && m.ref === ClientMsg.signal) return;
    // Named rooms say their refusals themselves (rooms.js: a rejoin's only once, quietly).
    if (m.ref === ClientMsg.roomJoinNamed) return;
    const text = TEXT[m.code] || (typeof m.message === 'string' && m.message) || 'Something went wrong.';
    bus.emit('notice', { kind: 'error', text });
  });
}
