// Finds text in web/index.html that does not go through the catalogs: every text node with a
// letter must be the only content of an element with `data-i18n="key"` (i18n.js replaces its
// textContent), and every aria-label / title / placeholder / alt / aria-description with a
// letter must be named in its element's `data-i18n-attr="attr:key;…"`. An element with
// `translate="no"` (and everything inside it) is not text to translate, e.g. the brand name.
// An element with data-i18n must hold no other element (textContent would remove it).

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);
const TEXT_ATTRS = ['aria-label', 'title', 'placeholder', 'alt', 'aria-description'];
const TOKEN = /<!--[\s\S]*?-->|<!doctype[^>]*>|<\/([a-zA-Z][\w-]*)\s*>|<([a-zA-Z][\w-]*)((?:\s+[^\s=>/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*\/?>|[^<]+/gi;
const ATTR = /([^\s=>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;

const hasLetter = (s) => /\p{L}/u.test(s);

function parseAttrs(src) {
  const attrs = new Map();
  for (const m of src.matchAll(ATTR)) attrs.set(m[1].toLowerCase(), m[2] ?? m[3] ?? m[4] ?? '');
  return attrs;
}

/** "placeholder:key;title:key" → Map attr → key. */
export function attrKeys(value) {
  const map = new Map();
  for (const pair of String(value ?? '').split(';')) {
    const [attr, key] = pair.split(':').map((s) => s.trim());
    if (attr && key) map.set(attr, key);
  }
  return map;
}

/** Checks one element's attributes; returns its frame for the stack. */
function openElement(out, name, attrs, parent, line) {
  const frame = { name, attrs, line, noTranslate: parent.noTranslate || attrs.get('translate') === 'no', children: 0 };
  parent.children += 1;
  if (parent.attrs?.has('data-i18n')) out.bypass.push({ line, rule: 'data-i18n-with-element', text: `<${name}> inside data-i18n="${parent.attrs.get('data-i18n')}"` });
  if (attrs.has('data-i18n')) out.keys.push(attrs.get('data-i18n'));
  const named = attrKeys(attrs.get('data-i18n-attr'));
  for (const key of named.values()) out.keys.push(key);
  if (frame.noTranslate) return frame;
  for (const a of TEXT_ATTRS) {
    if (attrs.has(a) && hasLetter(attrs.get(a)) && !named.has(a)) out.bypass.push({ line, rule: 'attribute', text: `${a}="${attrs.get(a)}" on <${name}>` });
  }
  return frame;
}

/** Scans the page: {bypass: [{line, rule, text}], keys: [key used]}. */
export function scanHtml(src) {
  const out = { bypass: [], keys: [] };
  const stack = [{ name: '#root', attrs: new Map(), children: 0, noTranslate: false }];
  const lineAt = (i) => src.slice(0, i).split('\n').length;
  for (const m of src.matchAll(TOKEN)) {
    const [whole, close, open, attrSrc] = m;
    const top = stack[stack.length - 1];
    if (whole.startsWith('<!')) continue;
    if (close) {
      const at = stack.map((f) => f.name).lastIndexOf(close.toLowerCase());
      if (at > 0) stack.length = at;
      continue;
    }
    if (open) {
      const name = open.toLowerCase();
      const frame = openElement(out, name, parseAttrs(attrSrc ?? ''), top, lineAt(m.index));
      if (!VOID.has(name) && !whole.endsWith('/>')) stack.push(frame);
      continue;
    }
    if (!hasLetter(whole) || top.noTranslate || top.name === 'script' || top.name === 'style') continue;
    if (!top.attrs.has('data-i18n')) out.bypass.push({ line: lineAt(m.index), rule: 'text', text: whole.trim().replace(/\s+/g, ' ') });
  }
  return out;
}
