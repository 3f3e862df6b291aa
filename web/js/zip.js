// "Save all": one ZIP of stored (uncompressed) entries, assembled as a Blob from small header
// Uint8Arrays and the received files' own Blobs, so no file byte is copied into JavaScript
// memory (the browser streams the parts when the Blob is saved). The CRC-32 of each file was
// computed while it arrived (hash-worker.js). ZIP64 records are written when an entry, an
// offset or the central directory passes 4 GiB, or past 65,535 entries (APPNOTE 6.3, 4.3-4.5).

const MAX16 = 0xffff;
const MAX32 = 0xffffffff;
const UTF8_FLAG = 0x0800;

class Bytes {
  constructor(n) {
    this.a = new Uint8Array(n);
    this.v = new DataView(this.a.buffer);
    this.p = 0;
  }
  u16(x) {
    this.v.setUint16(this.p, x, true);
    this.p += 2;
    return this;
  }
  u32(x) {
    this.v.setUint32(this.p, x >>> 0, true);
    this.p += 4;
    return this;
  }
  u64(x) {
    this.v.setUint32(this.p, x % 0x100000000, true);
    this.v.setUint32(this.p + 4, Math.floor(x / 0x100000000), true);
    this.p += 8;
    return this;
  }
  raw(b) {
    this.a.set(b, this.p);
    this.p += b.length;
    return this;
  }
}

/** MS-DOS time and date of `d` (local time, 2-second steps, from 1980). */
function dosTime(d) {
  const year = Math.max(d.getFullYear(), 1980);
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

/** Names for the archive: no path separators or controls, unique (case aside, for Windows). */
export function zipNames(names) {
  const seen = new Set();
  return names.map((raw) => {
    // eslint-disable-next-line no-control-regex
    const clean = String(raw).replace(/[\u0000-\u001f\u007f/\\]/g, '_').replace(/^\.+$/, '_') || 'file';
    const dot = clean.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [clean.slice(0, dot), clean.slice(dot)] : [clean, ''];
    let name = clean;
    for (let n = 2; seen.has(name.toLowerCase()); n++) name = `${stem} (${n})${ext}`;
    seen.add(name.toLowerCase());
    return name;
  });
}

function localHeader(e, big, when) {
  const extra = big ? 20 : 0;
  const b = new Bytes(30 + e.nameBytes.length + extra);
  b.u32(0x04034b50).u16(big ? 45 : 20).u16(UTF8_FLAG).u16(0).u16(when.time).u16(when.date);
  b.u32(e.crc).u32(big ? MAX32 : e.size).u32(big ? MAX32 : e.size);
  b.u16(e.nameBytes.length).u16(extra).raw(e.nameBytes);
  if (big) b.u16(0x0001).u16(16).u64(e.size).u64(e.size);
  return b.a;
}

function centralHeader(e, when, force) {
  const bigSize = e.big;
  const bigOff = force || e.offset >= MAX32;
  const extraLen = (bigSize ? 16 : 0) + (bigOff ? 8 : 0);
  const extra = extraLen ? 4 + extraLen : 0;
  const b = new Bytes(46 + e.nameBytes.length + extra);
  const version = bigSize || bigOff ? 45 : 20;
  // Made by Unix (3), so the external attributes carry a regular file's mode 0644.
  b.u32(0x02014b50).u16((3 << 8) | version).u16(version).u16(UTF8_FLAG).u16(0);
  b.u16(when.time).u16(when.date).u32(e.crc);
  b.u32(bigSize ? MAX32 : e.size).u32(bigSize ? MAX32 : e.size);
  b.u16(e.nameBytes.length).u16(extra).u16(0).u16(0).u16(0).u32((0o100644 << 16) >>> 0);
  b.u32(bigOff ? MAX32 : e.offset).raw(e.nameBytes);
  if (extra) {
    b.u16(0x0001).u16(extraLen);
    if (bigSize) b.u64(e.size).u64(e.size);
    if (bigOff) b.u64(e.offset);
  }
  return b.a;
}

function endRecords(count, cdOffset, cdSize, force) {
  const parts = [];
  if (force || count > MAX16 || cdOffset >= MAX32 || cdSize >= MAX32) {
    const at = cdOffset + cdSize;
    const z = new Bytes(56);
    z.u32(0x06064b50).u64(44).u16((3 << 8) | 45).u16(45).u32(0).u32(0);
    z.u64(count).u64(count).u64(cdSize).u64(cdOffset);
    const loc = new Bytes(20);
    loc.u32(0x07064b50).u32(0).u64(at).u32(1);
    parts.push(z.a, loc.a);
  }
  const e = new Bytes(22);
  e.u32(0x06054b50).u16(0).u16(0).u16(Math.min(count, MAX16)).u16(Math.min(count, MAX16));
  e.u32(Math.min(cdSize, MAX32)).u32(Math.min(cdOffset, MAX32)).u16(0);
  parts.push(e.a);
  return parts;
}

/**
 * The ZIP of `files` ({name, blob, crc}) as one Blob. `forceZip64` writes ZIP64 records for
 * every entry (tests use it to check them without 4 GiB of data).
 */
export function zipBlob(files, { now = new Date(), forceZip64 = false } = {}) {
  const when = dosTime(now);
  const enc = new TextEncoder();
  const names = zipNames(files.map((f) => f.name));
  const parts = [];
  const entries = [];
  let offset = 0;
  files.forEach((f, i) => {
    const e = { nameBytes: enc.encode(names[i]), size: f.blob.size, crc: f.crc >>> 0, offset };
    e.big = forceZip64 || e.size >= MAX32;
    const head = localHeader(e, e.big, when);
    parts.push(head, f.blob);
    offset += head.length + e.size;
    entries.push(e);
  });
  const cdOffset = offset;
  let cdSize = 0;
  for (const e of entries) {
    const c = centralHeader(e, when, forceZip64);
    parts.push(c);
    cdSize += c.length;
  }
  parts.push(...endRecords(entries.length, cdOffset, cdSize, forceZip64));
  return new Blob(parts, { type: 'application/zip' });
}
