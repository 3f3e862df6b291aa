// The household's "Remote access" panel (data-remote*): shown only when GET /remote answers,
// which it does for devices at home only. It tells how the router mapping and the
// certificate stand, and "Invite a relative" makes a room and shows its link
// (https://<public>/#room=TOKEN) with a QR code and a share button: the only thing a
// relative needs. Asks rooms.js with the `room:create` intent and reads `rooms:changed`.

import { $, qrImage } from './dom.js';

const REFRESH_MS = 30_000;
/** While the router is being asked or the public address is not known yet. */
const SETTLING_MS = 3_000;

/** One line for the certificate: what it is for and until when. */
export function certLine(cert) {
  if (!cert) return 'None yet.';
  const failed = cert.error ? ` Getting a trusted one failed: ${cert.error}` : '';
  if (cert.source !== 'acme') {
    const what = cert.source === 'file' ? 'The certificate you gave' : 'Self-signed (browsers warn)';
    return `${what}.${failed}`;
  }
  const until = cert.notAfter ? new Date(cert.notAfter * 1000).toLocaleString() : 'unknown';
  const names = (cert.names ?? []).join(', ') || 'this homedrop';
  return `Trusted for ${names}, until ${until}.${failed}`;
}

export class RemotePanel {
  constructor(bus) {
    this.bus = bus;
    this.view = null;
    this.waiting = null; // room codes present when an invite was asked for
    this.box = $('[data-remote]');
    $('[data-remote-invite]').addEventListener('click', () => this.invite());
    $('[data-remote-share]').addEventListener('click', () => this.share());
    bus.on('rooms:changed', (rooms) => this.roomsChanged(rooms));
    this.poll();
  }

  /** Refreshes now and again: soon while things are settling, else every 30 s. */
  async poll() {
    await this.refresh();
    const v = this.view;
    const settling = v?.enabled && (v.mapping?.state === 'pending' || !v.inviteBase);
    setTimeout(() => this.poll(), settling ? SETTLING_MS : REFRESH_MS);
  }

  async refresh() {
    let res;
    try {
      res = await fetch('/remote', { cache: 'no-store' });
      if (res.ok) this.view = await res.json();
    } catch {
      return; // offline: keep what is shown
    }
    // Other household-only panels (diagnostics) show themselves by the same answer.
    this.bus.emit('household', res.ok);
    if (!res.ok) {
      this.box.hidden = true; // not at home: the panel is the household's
      return;
    }
    this.render();
  }

  render() {
    const v = this.view;
    this.box.hidden = false;
    this.box.dataset.state = v.mapping?.state ?? 'off';
    $('[data-remote-mapping]').textContent = v.mapping?.message ?? '';
    $('[data-remote-host]').textContent = v.publicHost ?? 'Not known yet.';
    $('[data-remote-cert]').textContent = certLine(v.certificate);
    $('[data-remote-invite]').disabled = !v.enabled || !v.inviteBase;
  }

  async invite() {
    // The public address may have changed since the panel was drawn (a new WAN address).
    await this.refresh();
    if (!this.view?.inviteBase) return;
    this.waiting = new Set(this.codes ?? []);
    this.bus.emit('room:create', {});
  }

  roomsChanged(rooms) {
    this.codes = rooms.map((r) => r.code);
    if (!this.waiting || !this.view?.inviteBase) return;
    const fresh = rooms.find((r) => !this.waiting.has(r.code) && r.token);
    if (!fresh) return;
    this.waiting = null;
    this.show(`${this.view.inviteBase}#room=${fresh.token}`);
  }

  show(link) {
    const a = $('[data-remote-link]');
    a.href = link;
    a.textContent = link;
    $('[data-remote-qr]').replaceChildren(qrImage(link, 200));
    $('[data-remote-link-box]').hidden = false;
    this.link = link;
  }

  async share() {
    if (!this.link) return;
    if (navigator.share) {
      try {
        await navigator.share({ title: 'Join me on homedrop', url: this.link });
        return;
      } catch {
        // cancelled or refused: fall back to copying
      }
    }
    try {
      await navigator.clipboard.writeText(this.link);
      this.bus.emit('notice', { kind: 'info', text: 'Invite link copied.' });
    } catch {
      this.bus.emit('notice', { kind: 'info', text: this.link });
    }
  }
}
