// A tiny, safe Markdown subset for chat messages, built as DOM nodes.
//
// Why hand-written: the subset is small (emphasis, strong, inline code, fenced code blocks,
// links, bare http(s) URLs, bullet and numbered lists, line breaks) and building nodes
// directly means nothing a peer sends is ever parsed as HTML: every piece of text becomes a
// text node, and a link becomes an <a> only when its target is http(s). There is no
// innerHTML anywhere on this path.

const MAX_DEPTH = 4;
const FENCE = /^```/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d{1,9}[.)]\s+(.*)$/;

/** Returns a DocumentFragment for `text`. */
export function renderMarkdown(text) {
  const frag = document.createDocumentFragment();
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (FENCE.test(line)) {
      i = codeBlock(frag, lines, i);
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      i = list(frag, lines, i);
    } else if (line.trim() === '') {
      i += 1;
    } else {
      i = paragraph(frag, lines, i);
    }
  }
  return frag;
}

function codeBlock(frag, lines, start) {
  const body = [];
  let i = start + 1;
  while (i < lines.length && !FENCE.test(lines[i])) body.push(lines[i++]);
  const pre = document.createElement('pre');
  const code = document.createElement('code');
  code.textContent = body.join('\n');
  pre.append(code);
  frag.append(pre);
  return i + 1; // past the closing fence (or the end)
}

function list(frag, lines, start) {
  const ordered = NUMBERED.test(lines[start]) && !BULLET.test(lines[start]);
  const re = ordered ? NUMBERED : BULLET;
  const el = document.createElement(ordered ? 'ol' : 'ul');
  let i = start;
  while (i < lines.length && re.test(lines[i])) {
    const li = document.createElement('li');
    inline(li, lines[i].match(re)[1], 0);
    el.append(li);
    i += 1;
  }
  frag.append(el);
  return i;
}

function paragraph(frag, lines, start) {
  const p = document.createElement('p');
  let i = start;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '' || FENCE.test(line) || BULLET.test(line) || NUMBERED.test(line)) break;
    if (i > start) p.append(document.createElement('br'));
    inline(p, line, 0);
    i += 1;
  }
  frag.append(p);
  return i;
}

// Inline spans, tried in this order at each position. Each match is [whole, inner...].
const SPANS = [
  { re: /^`([^`]+)`/, make: (m) => textEl('code', m[1]) },
  { re: /^\[([^\]\n]{1,500})\]\(([^)\s]{1,2000})\)/, make: (m, d) => link(m[2], m[1], d) },
  { re: /^https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/, make: (m) => link(m[0], m[0], MAX_DEPTH) },
  { re: /^\*\*([^*\n]+?)\*\*/, make: (m, d) => wrap('strong', m[1], d) },
  { re: /^__([^_\n]+?)__/, make: (m, d) => wrap('strong', m[1], d) },
  { re: /^\*([^*\n]+?)\*/, make: (m, d) => wrap('em', m[1], d) },
  { re: /^_([^_\n]+?)_(?![A-Za-z0-9])/, make: (m, d) => wrap('em', m[1], d) },
];

/** Appends the inline content of `text` to `parent`. */
function inline(parent, text, depth) {
  let plain = '';
  let i = 0;
  const flush = () => {
    if (plain) parent.append(document.createTextNode(plain));
    plain = '';
  };
  while (i < text.length) {
    const rest = text.slice(i);
    const hit = depth < MAX_DEPTH && startsSpan(rest[0], text[i - 1]) ? matchSpan(rest, depth) : null;
    if (hit) {
      flush();
      parent.append(hit.node);
      i += hit.length;
    } else {
      plain += text[i];
      i += 1;
    }
  }
  flush();
}

function startsSpan(c, before) {
  if (c === 'h') return !before || /[\s(]/.test(before);
  if (c === '_') return !before || !/[A-Za-z0-9]/.test(before);
  return c === '`' || c === '[' || c === '*';
}

function matchSpan(rest, depth) {
  for (const s of SPANS) {
    const m = rest.match(s.re);
    if (m) return { node: s.make(m, depth + 1), length: m[0].length };
  }
  return null;
}

function textEl(tag, text) {
  const el = document.createElement(tag);
  el.textContent = text;
  return el;
}

function wrap(tag, inner, depth) {
  const el = document.createElement(tag);
  inline(el, inner, depth);
  return el;
}

/** An <a> for http(s) targets only; anything else stays visible as plain text. */
function link(target, label, depth) {
  const url = safeUrl(target);
  if (!url) return document.createTextNode(label === target ? target : `${label} (${target})`);
  const a = document.createElement('a');
  a.href = url;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  if (label === target) a.textContent = label;
  else inline(a, label, depth);
  return a;
}

/** The normalised URL when it is http or https, else null. */
export function safeUrl(raw) {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}
