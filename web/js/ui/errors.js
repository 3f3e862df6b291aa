// Server `error` messages as readable notices.

import { ClientMsg, ErrorCode, ServerMsg, serverEvent } from '../protocol.js';
import { t } from '../i18n.js';

/** Every code has its message in the catalogs (`server.<code>`); an unknown one is "Something went wrong." */
const CODES = new Set(Object.values(ErrorCode));

export function initServerErrors(bus) {
  bus.on(serverEvent(ServerMsg.error), (m) => {
    // A peer that just left cannot receive signals any more; nothing for the user to do.
    if (m.code === ErrorCode.notAllowed && m.ref === ClientMsg.signal) return;
    // Named rooms say their refusals themselves (rooms.js: a rejoin's only once, quietly).
    if (m.ref === ClientMsg.roomJoinNamed) return;
    const text = CODES.has(m.code) ? t(`server.${m.code}`) : t('error.generic');
    bus.emit('notice', { kind: 'error', text });
  });
}
