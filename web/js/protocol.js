// Every message type name of the web client, once. The signaling names (ClientMsg,
// ServerMsg, ErrorCode) are those of the serde enums in src/signaling/protocol.rs, and
// tests/contract.rs reads this file to check that both sides list the same names: keep each
// object a plain `name: 'name'` list. The data-channel names (TransferMsg, ChatMsg,
// ScreenMsg) exist only in the browsers (docs/protocol.md, "Transfer", "Room conversations",
// "Screen sharing").

/** Bumped with src/signaling/protocol.rs on any incompatible change. */
export const PROTOCOL_VERSION = 1;

/** Browser → server. */
export const ClientMsg = Object.freeze({
  hello: 'hello',
  rename: 'rename',
  roomCreate: 'roomCreate',
  roomJoin: 'roomJoin',
  roomJoinNamed: 'roomJoinNamed',
  roomLeave: 'roomLeave',
  pairStart: 'pairStart',
  pairJoin: 'pairJoin',
  pairForget: 'pairForget',
  signal: 'signal',
  roomInvite: 'roomInvite',
  roomInviteReply: 'roomInviteReply',
});

/** Server → browser. */
export const ServerMsg = Object.freeze({
  welcome: 'welcome',
  peers: 'peers',
  roomJoined: 'roomJoined',
  roomLeft: 'roomLeft',
  pairKey: 'pairKey',
  paired: 'paired',
  signal: 'signal',
  iceServers: 'iceServers',
  roomInvited: 'roomInvited',
  roomInviteAnswer: 'roomInviteAnswer',
  restarting: 'restarting',
  error: 'error',
});

/** The `code` of a server `error`. */
export const ErrorCode = Object.freeze({
  badJson: 'badJson',
  unknownType: 'unknownType',
  tooLarge: 'tooLarge',
  rateLimited: 'rateLimited',
  helloFirst: 'helloFirst',
  badVersion: 'badVersion',
  badRequest: 'badRequest',
  roomFull: 'roomFull',
  noSuchRoom: 'noSuchRoom',
  badPairKey: 'badPairKey',
  notAllowed: 'notAllowed',
});

/** The fields of `hello.caps` and of a peer list entry's `caps` (what a browser can do). */
export const Caps = Object.freeze({
  webrtc: 'webrtc',
  store: 'store',
});

/** Browser ↔ browser on the file channel (label `homedrop`, id 0). */
export const TransferMsg = Object.freeze({
  offer: 'offer',
  accept: 'accept',
  decline: 'decline',
  text: 'text',
  fileStart: 'fileStart',
  fileEnd: 'fileEnd',
  ack: 'ack',
  fileOk: 'fileOk',
  fileBad: 'fileBad',
  cancel: 'cancel',
  resume: 'resume',
  resumeFrom: 'resumeFrom',
});

/** Browser ↔ browser on the room chat channel (label `chat`, id 1). */
export const ChatMsg = Object.freeze({
  profile: 'profile',
  msg: 'msg',
  media: 'media',
  ping: 'ping',
  pong: 'pong',
  sync: 'sync',
  history: 'history',
});

/** Browser ↔ browser on the screen sharing channel (label `screen`, id 2): the offer, answer
 * and ICE candidates of a separate media connection, and its end (screen.js). */
export const ScreenMsg = Object.freeze({
  offer: 'offer',
  answer: 'answer',
  ice: 'ice',
  stop: 'stop',
});

/** The bus event on which signaling.js hands on a server message of this type. */
export function serverEvent(type) {
  return `server:${type}`;
}

/** A JSON text frame → the message object, or null unless it is an object with a string
 * `type` (whatever a peer or the server sends, nothing else reaches a handler). */
export function parseMessage(text) {
  if (typeof text !== 'string') return null;
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  return msg && typeof msg === 'object' && typeof msg.type === 'string' ? msg : null;
}
