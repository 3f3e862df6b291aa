// Friendly default device names ("Amber Otter"), the device kind, and the name store.

const ADJECTIVES = [
  'Amber', 'Azure', 'Brave', 'Bright', 'Calm', 'Clever', 'Coral', 'Cosy', 'Crimson', 'Dapper',
  'Eager', 'Fuzzy', 'Gentle', 'Golden', 'Happy', 'Hazel', 'Indigo', 'Jolly', 'Kind', 'Lively',
  'Lucky', 'Mellow', 'Misty', 'Nimble', 'Olive', 'Plucky', 'Quiet', 'Rosy', 'Ruby', 'Sandy',
  'Silver', 'Sunny', 'Swift', 'Teal', 'Tidy', 'Velvet', 'Witty', 'Zesty',
];
const ANIMALS = [
  'Badger', 'Bear', 'Beaver', 'Crane', 'Dolphin', 'Falcon', 'Ferret', 'Finch', 'Fox', 'Gecko',
  'Hare', 'Hedgehog', 'Heron', 'Ibis', 'Koala', 'Lemur', 'Lynx', 'Marten', 'Moose', 'Newt',
  'Otter', 'Owl', 'Panda', 'Pelican', 'Penguin', 'Puffin', 'Quokka', 'Raven', 'Robin', 'Seal',
  'Sparrow', 'Squirrel', 'Stork', 'Swan', 'Tapir', 'Tiger', 'Walrus', 'Wombat', 'Yak', 'Zebra',
];
const KEY = 'homedropName';
export const MAX_NAME_CHARS = 40;

function pick(list) {
  const n = crypto.getRandomValues(new Uint32Array(1))[0];
  return list[n % list.length];
}

export function randomName() {
  return `${pick(ADJECTIVES)} ${pick(ANIMALS)}`;
}

/** Returns a name cleaned as the server cleans it (src/signaling/session/parse.rs), or null
 * when nothing visible is left or it is longer than 40 characters: format characters (bidi
 * overrides and isolates, zero-width ones, the soft hyphen) and blank Hangul fillers
 * removed, controls and separators other than the space turned into spaces, runs of spaces
 * collapsed, trimmed, NFC. */
export function cleanName(raw) {
  const name = String(raw ?? '')
    .replace(/[\p{Cf}\u115F\u1160\u3164\uFFA0]/gu, '')
    .replace(/[\p{Cc}\p{Zs}\p{Zl}\p{Zp}]/gu, ' ')
    .normalize('NFC')
    .replace(/ {2,}/g, ' ')
    .trim();
  if (!name || [...name].length > MAX_NAME_CHARS) return null;
  return name;
}

/** What two names are compared by to tell look-alikes: compatibility-normalized (so
 * full-width and other variant letters match their plain forms) and lowercased. */
export function nameKey(name) {
  return String(name ?? '').normalize('NFKC').toLowerCase();
}

export function loadName() {
  let name = null;
  try {
    name = cleanName(localStorage.getItem(KEY));
  } catch {
    /* storage may be blocked */
  }
  if (!name) {
    name = randomName();
    saveName(name);
  }
  return name;
}

export function saveName(name) {
  try {
    localStorage.setItem(KEY, name);
  } catch {
    /* storage may be blocked */
  }
}

/** phone / tablet / desktop, guessed from the user agent (only used for icons). */
export function deviceKind() {
  const ua = navigator.userAgent;
  if (/iPad|Tablet/i.test(ua)) return 'tablet';
  if (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1) return 'tablet';
  if (/Android/.test(ua) && !/Mobile/.test(ua)) return 'tablet';
  if (/Mobi|iPhone|Android/i.test(ua)) return 'phone';
  return 'desktop';
}
