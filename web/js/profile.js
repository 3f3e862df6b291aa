// This device's display name: loaded and saved (names.js), told to the server with `rename`.
// Listens to the intent `name:set` (from the header and /nick); emits `name` (the new name).

import { ClientMsg } from './protocol.js';
import { loadName, saveName } from './names.js';

export class Profile {
  constructor(bus, signaling) {
    this.bus = bus;
    this.sig = signaling;
    this.name = loadName();
    bus.on('name:set', (name) => this.rename(name));
  }

  rename(name) {
    this.name = name;
    saveName(name);
    this.sig.send({ type: ClientMsg.rename, name });
    this.bus.emit('name', name);
  }
}
