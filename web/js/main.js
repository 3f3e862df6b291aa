// Wiring only: builds the modules and connects them through the event bus.
// Who emits and who listens: docs/architecture.md ("The web client").

import { Bus } from './events.js';
import { deviceKind } from './names.js';
import { loadPairs } from './pairs.js';
import { Signaling } from './signaling.js';
import { PeerStore } from './peer-store.js';
import { PeerManager } from './peer.js';
import { TransferManager } from './transfer.js';
import { startStorage } from './storage.js';
import { claimRecords } from './transfer-records.js';
import { loadIdentity, ownFingerprint } from './identity.js';
import { Profile } from './profile.js';
import { Rooms, parseRoomCode } from './rooms.js';
import { Pairing, parsePairKey } from './pairing.js';
import { Chat } from './chat.js';
import { ScreenShare } from './screen.js';
import { RoomSync } from './room-sync.js';
import { initProbe } from './probe.js';
import { initNotices } from './ui/notices.js';
import { initStatus, initName } from './ui/header.js';
import { DeviceList } from './ui/devices.js';
import { initCompose } from './ui/compose.js';
import { TransferList } from './ui/transfers.js';
import { Inbox } from './ui/inbox.js';
import { RequestDialogs } from './ui/request.js';
import { RoomList } from './ui/rooms.js';
import { PairingView } from './ui/pairing.js';
import { initShare } from './ui/qr.js';
import { initServerErrors } from './ui/errors.js';
import { RoomChat } from './ui/room-chat.js';
import { RoomInvites } from './ui/room-invite.js';
import { initAvatar } from './ui/room-profile.js';
import { RemotePanel } from './ui/remote.js';
import { DiagPanel } from './ui/diag.js';
import { detectCaps, hasWebRTC, ownCaps, showCapsNotice } from './caps.js';
import { Verifier } from './verify.js';
import { VerifyView } from './ui/verify.js';
import { Views } from './ui/views.js';
import { SendSheet } from './ui/send-sheet.js';
import { Viewer } from './ui/viewer.js';
import { Pwa } from './pwa.js';
import { initAppSettings } from './ui/app-settings.js';
import { ScreenView } from './ui/screen.js';

const bus = new Bus();

const signaling = new Signaling(bus, () => ({
  name: profile.name,
  kind: deviceKind(),
  pairs: loadPairs().map((p) => p.secret),
  caps: ownCaps(),
}));
const profile = new Profile(bus, signaling);
const store = new PeerStore(bus);
const peers = new PeerManager(bus, signaling, store);
const devices = new DeviceList(bus, store, () => profile.name);
const verifier = new Verifier(bus, peers, store);
const transfers = new TransferManager(bus, peers, store, verifier);
const rooms = new Rooms(bus, signaling);
const pairing = new Pairing(bus, signaling);

initNotices(bus);
initServerErrors(bus);
initStatus(bus);
initName(bus, () => profile.name);
// Before the request dialogs: room media announced on the chat channel is accepted first.
const avatar = initAvatar(bus);
const chat = new Chat(bus, peers, transfers, store, {
  selfName: () => profile.name,
  avatar,
  rooms: () => rooms.codes(),
});
new RoomSync(bus, chat, store);
const sendText = (id, text) => transfers.sendText(id, text);
const sheet = new SendSheet(bus, store, () => devices.targets(), sendText);
const screenShare = new ScreenShare(bus, peers, store);
initCompose(bus, () => devices.targets(), sendText, sheet);
new TransferList(bus);
new Inbox(bus, new Viewer());
new RequestDialogs(bus, store);
new RoomList(bus);
new RoomChat(bus, chat);
new RoomInvites(bus, store);
new PairingView(bus);
new DiagPanel(bus);
new RemotePanel(bus);
new VerifyView(bus, verifier, store, peers);
new ScreenView(bus, store);
initShare();
initProbe();
new Views(bus);
initAppSettings(bus);
// Last: a shared file opens the send sheet, so every view listens by now.
const pwa = new Pwa(bus);
pwa.start();

/** #room=TOKEN and #pair=TOKEN links (or a code or key): act on them once, then clear the fragment. */
function handleFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const room = parseRoomCode(params.get('room'));
  const key = parsePairKey(params.get('pair'));
  if (!room && !key) return;
  history.replaceState(null, '', location.pathname + location.search);
  if (room) rooms.joinFromFragment(room);
  if (key) pairing.joinFromFragment(key);
}
handleFragment();
window.addEventListener('hashchange', handleFragment);

window.homedrop = Object.freeze({
  state: () =>
    structuredClone({
      id: signaling.id,
      peers: store.list(),
      rooms: rooms.codes(),
      transfers: transfers.snapshot(),
      chat: chat.snapshot(),
      screen: screenShare.snapshot(),
      links: peers.snapshot(),
      fingerprint: ownFingerprint(),
      pwa: pwa.snapshot(),
    }),
});

// Transfers of an earlier visit are taken over before the storage cleanup (which keeps
// their data); the certificate is loaded and what this browser can do is known (the hello
// says it) before the first connection is made.
const claimed = claimRecords();
const caps = detectCaps().then(showCapsNotice);
// Without WebRTC there is no certificate to make (and nothing to connect with).
Promise.allSettled([startStorage(claimed.keepTid), hasWebRTC() ? loadIdentity() : null, caps])
  .then(() => transfers.restore(claimed.resumable))
  .finally(() => signaling.connect());
