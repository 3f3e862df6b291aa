// Pairings kept in localStorage: [{secret, peerName, alwaysAccept}].

const KEY = 'homedropPairs';
const SECRET_RE = /^[0-9a-f]{64}$/;
const MAX_PAIRS = 64;

export function loadPairs() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    if (!Array.isArray(list)) return [];
    return list.filter((p) => p && SECRET_RE.test(p.secret)).slice(-MAX_PAIRS);
  } catch {
    return [];
  }
}

function store(list) {
  try {
    localStorage.setItem(KEY, JSON.stringify(list));
  } catch {
    /* storage may be blocked */
  }
}

export function addPair(secret, peerName) {
  if (!SECRET_RE.test(secret)) return;
  const list = loadPairs().filter((p) => p.secret !== secret);
  list.push({ secret, peerName: String(peerName ?? ''), alwaysAccept: false });
  store(list.slice(-MAX_PAIRS));
}

export function removePair(secret) {
  store(loadPairs().filter((p) => p.secret !== secret));
}

/** Pair entries that match a peer we see through a pair link (matched by name). */
export function pairsFor(peer) {
  if (!peer?.links?.some((l) => l.via === 'pair')) return [];
  const all = loadPairs();
  const named = all.filter((p) => p.peerName === peer.name);
  // A renamed peer no longer matches by name; with a single pairing there is no doubt.
  return named.length || all.length !== 1 ? named : all;
}

export function isPaired(peer) {
  return !!peer?.links?.some((l) => l.via === 'pair');
}

export function alwaysAccepts(peer) {
  return pairsFor(peer).some((p) => p.alwaysAccept);
}

export function setAlwaysAccept(peer, on) {
  const secrets = new Set(pairsFor(peer).map((p) => p.secret));
  if (!secrets.size) return;
  store(loadPairs().map((p) => (secrets.has(p.secret) ? { ...p, alwaysAccept: !!on } : p)));
}
