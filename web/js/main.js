// Wiring only: builds the modules and connects them through the event bus.

import { Bus } from './events.js';
import { loadName, saveName, deviceKind } from './names.js';
import { loadPairs } from './pairs.js';
import { Signaling } from './signaling.js';
import { PeerManager } from './peer.js';
import { TransferManager } from './transfer.js';
import { startStorage } from './storage.js';
import { initNotices } from './ui/notices.js';
import { initStatus, initName } from './ui/header.js';
import { DeviceList } from './ui/devices.js';
import { initCompose } from './ui/compose.js';
import { TransferList } from './ui/transfers.js';
import { Inbox } from './ui/inbox.js';
import { RequestDialogs } from './ui/request.js';
import { Rooms, parseRoomCode } from './ui/rooms.js';
import { Pairing } from './ui/pairing.js';
import { initShare } from './ui/qr.js';
import { initServerErrors } from './ui/errors.js';
import { initProbe } from './probe.js';
import { Chat } from './chat.js';
import { RoomChat } from './ui/room-chat.js';
import { RoomInvites } from './ui/room-invite.js';
import { initAvatar } from './ui/room-profile.js';

const bus = new Bus();
let name = loadName();

const signaling = new Signaling(bus, () => ({
  name,
  kind: deviceKind(),
  pairs: loadPairs().map((p) => p.secret),
}));
const peers = new PeerManager(bus, signaling);
const devices = new DeviceList(bus, (peerId, files) => transfers.sendFiles(peerId, files));
const transfers = new TransferManager(bus, peers, (id) => devices.get(id));

initNotices(bus);
initServerErrors(bus);
initStatus(bus);
function rename(newName) {
  name = newName;
  saveName(name);
  signaling.send({ type: 'rename', name });
  bus.emit('name', name);
}
initName(bus, () => name, rename);
// Before the request dialogs: room media announced on the chat channel is accepted first.
let avatar = () => null;
const chat = new Chat(bus, peers, transfers, {
  selfName: () => name,
  avatar: () => avatar(),
  peerInfo: (id) => devices.get(id),
  rooms: () => rooms.codes(),
});
avatar = initAvatar(bus, () => chat.broadcastProfile());
initCompose(bus, () => devices.targets(), {
  files: (id, files) => transfers.sendFiles(id, files),
  text: (id, text) => transfers.sendText(id, text),
});
new TransferList(bus, (tid) => transfers.cancel(tid));
new Inbox(bus);
new RequestDialogs(bus, {
  accept: (tid) => transfers.accept(tid),
  decline: (tid) => transfers.decline(tid),
  peerInfo: (id) => devices.get(id),
});
const rooms = new Rooms(bus, signaling);
const roomChat = new RoomChat(bus, chat, {
  rename,
  createRoom: (capacity) => rooms.create(capacity),
  joinRoom: (code) => rooms.join(code),
});
new RoomInvites(bus, signaling, () => roomChat.current);
const pairing = new Pairing(bus, signaling, () => signaling.restart(true));
initShare();
initProbe();

/** #room=CODE and #pair=KEY links: act on them once, then clear the fragment. */
function handleFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const room = parseRoomCode(params.get('room'));
  const key = (params.get('pair') ?? '').replace(/\D/g, '');
  if (!room && key.length !== 6) return;
  history.replaceState(null, '', location.pathname + location.search);
  if (room) rooms.joinFromFragment(room);
  if (key.length === 6) pairing.joinFromFragment(key);
}
handleFragment();
window.addEventListener('hashchange', handleFragment);

window.homedrop = Object.freeze({
  state: () =>
    structuredClone({
      id: signaling.id,
      peers: devices.peers,
      rooms: rooms.codes(),
      transfers: transfers.snapshot(),
      chat: chat.snapshot(),
      links: peers.snapshot(),
    }),
});

startStorage().finally(() => signaling.connect());
