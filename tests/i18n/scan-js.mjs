// Finds user-visible strings in the web client's JavaScript that bypass the catalogs, and
// the catalog keys the code uses. Two rules over the token stream (tokenize.mjs):
//
// - sink: a string literal with a letter in a place the user sees: assigned to textContent,
//   innerText, title, placeholder, alt, ariaLabel; the value of a `text`, `title`,
//   `placeholder`, `alt`, `label` or `aria-label` key (h() attributes, notices, chat lines);
//   a child of h() (third argument on); an argument of alert/confirm/prompt, createTextNode,
//   append/prepend/replaceChildren, system() (chat lines), the text argument of setState() /
//   fail() (transfer rows); setAttribute('aria-label' | 'title' | 'placeholder' | 'alt', …).
// - prose: anywhere else, a literal holding two words (letters, a space, letters), which is
//   what a sentence for people looks like wherever it is kept (a const table, an Error), or
//   one capitalised word ('Phone', 'Save…'), what a label looks like.
//
// Not text: the first argument of t() (the key), console.*() arguments, class names (`class:`
// values, className, classList), module specifiers, and the ALLOW list below.

import { tokenize } from './tokenize.mjs';

/** Literals that hold two words but are not text: each with its reason. */
export const ALLOW = new Map([
  ['noopener noreferrer', 'rel attribute tokens of Markdown links'],
  ['Not loaded', 'boot.js: shown only when the modules (the catalogs with them) did not load'],
  ['English', 'i18n.js: the fallback language named in its own name, as index.json does'],
  ['Files', 'a DataTransfer type (files dragged onto a tile)'],
  ['Error', 'the name of an error without one, shown inside a translated message'],
  ['Notification', "a global's name ('Notification' in window)"],
  ['(any-pointer: fine)', 'a media query'],
]);

/** Files not scanned for text, each with its reason. */
export const FILE_ALLOW = new Map([
  ['protocol.js', 'the wire contract: message and code names, never text'],
  ['names.js', 'the random default device names (Amber Fox): names, the same in every language'],
  ['store-worker.js', 'a Worker without catalogs: its messages are details inside a translated message'],
  ['hash-worker.js', 'a Worker without catalogs: its messages are details inside a translated message'],
]);

const T_NAMES = new Set(['t', 'tr']);
/** Debug logs besides console.*(): PeerLink's trace (diagnostics, never shown). */
const LOG_CALLS = new Set(['trace']);
const COMPARE = new Set(['===', '!==', '==', '!=']);
const SINK_PROPS = new Set(['textContent', 'innerText', 'title', 'placeholder', 'alt', 'ariaLabel']);
const SINK_KEYS = new Set(['text', 'title', 'placeholder', 'alt', 'label', 'aria-label']);
const SINK_ATTRS = new Set(['aria-label', 'title', 'placeholder', 'alt']);
/** Call name → first argument index that is text. */
const SINK_CALLS = new Map([
  ['alert', 0], ['confirm', 0], ['prompt', 0], ['createTextNode', 0], ['append', 0],
  ['prepend', 0], ['replaceChildren', 0], ['system', 0], ['h', 2], ['setState', 2], ['fail', 1],
]);
const OPEN = new Set(['(', '[', '{', '${']);
const CLOSE = new Set([')', ']', '}', '}$']);

const hasLetter = (s) => /\p{L}/u.test(s.replace(/\\./g, ''));
const isProse = (s) => /\p{L}{2,}[^\n]*?\s+\p{L}/u.test(s) || /^\p{Lu}\p{Ll}+[.…!?:]?$/u.test(s);

/** The frame a bracket opens: what call or object it belongs to. */
function openFrame(toks, k) {
  const tok = toks[k];
  const prev = toks[k - 1];
  const frame = { open: tok.value, arg: 0, key: null, valueSink: false, valueClass: false };
  if (tok.value === '(' && prev?.type === 'ident') {
    frame.callee = prev.value;
    const dot = toks[k - 2];
    frame.object = dot?.value === '.' || dot?.value === '?.' ? toks[k - 3]?.value : null;
  }
  if (tok.value === '{') frame.object = 'literal';
  return frame;
}

/** Is the token at k an object key (`key:` right after `{` or `,`)? */
function objectKey(toks, k, frame) {
  if (frame?.open !== '{') return null;
  const tok = toks[k];
  const before = toks[k - 1]?.value;
  if ((tok.type === 'ident' || tok.type === 'str') && toks[k + 1]?.value === ':' && (before === '{' || before === ',')) return tok.value;
  return null;
}

/** Why the string in these frames is exempt from both rules, or null. */
function exemptContext(stack, toks, k) {
  const prev = toks[k - 1]?.value;
  if (prev === 'from' || prev === 'import') return 'module';
  if (COMPARE.has(prev) || COMPARE.has(toks[k + 1]?.value)) return 'compared';
  for (let i = stack.length - 1; i >= 0; i--) {
    const f = stack[i];
    if (f.object === 'console' || (f.callee && LOG_CALLS.has(f.callee))) return 'log';
    if (f.object === 'classList' || f.valueClass || f.classAssign) return 'class';
    if (f.callee && T_NAMES.has(f.callee) && !f.object) return f.arg === 0 ? 'key' : null;
  }
  return null;
}

/** Is the string inside a sink? The innermost call or object decides: a sink key's value, a
 * sink call's text argument, a sink assignment; any other call or object is not text. */
function inSink(stack) {
  for (let i = stack.length - 1; i >= 0; i--) {
    const f = stack[i];
    if (f.valueSink || f.assignSink) return true;
    if (f.open === '{') return false;
    if (!f.callee) continue;
    if (T_NAMES.has(f.callee) && !f.object) return false;
    if (f.callee === 'setAttribute') return f.arg === 1 && f.attrSink;
    return SINK_CALLS.has(f.callee) && f.arg >= SINK_CALLS.get(f.callee);
  }
  return false;
}

/** Marks `.prop =` assignments on the current frame until the statement ends. */
function markAssignment(toks, k, frame) {
  const prop = toks[k - 1];
  if (toks[k - 2]?.value !== '.' || prop?.type !== 'ident') return;
  if (SINK_PROPS.has(prop.value)) frame.assignSink = true;
  if (prop.value === 'className') frame.classAssign = true;
}

function endStatement(frame) {
  frame.assignSink = false;
  frame.classAssign = false;
}

/** Records a string token: key material of t(), or a finding. */
function visitString(out, stack, toks, k, file) {
  const tok = toks[k];
  const why = exemptContext(stack, toks, k);
  if (why === 'key') {
    if (!tok.tmpl) out.keys.push(tok.value);
    else if (toks[k + 1]?.value === '${' && toks[k - 1]?.value !== '}$') out.prefixes.push(tok.value);
    else if (tok.end && toks[k - 1]?.value !== '}$') out.keys.push(tok.value);
    return;
  }
  if (!tok.tmpl) out.literals.push(tok.value);
  if (why || ALLOW.has(tok.value) || FILE_ALLOW.has(file.split('/').pop())) return;
  if (inSink(stack) && hasLetter(tok.value)) out.bypass.push({ file, line: tok.line, rule: 'sink', text: tok.value });
  else if (isProse(tok.value)) out.bypass.push({ file, line: tok.line, rule: 'prose', text: tok.value });
}

/** Scans one file: {bypass: [{file, line, rule, text}], keys, prefixes, literals}. */
export function scanJs(src, file = 'sample.js') {
  const toks = tokenize(src);
  const out = { bypass: [], keys: [], prefixes: [], literals: [] };
  const root = { open: 'root', arg: 0 };
  const stack = [root];
  for (let k = 0; k < toks.length; k++) {
    const tok = toks[k];
    const frame = stack[stack.length - 1];
    const key = objectKey(toks, k, frame);
    if (key !== null) {
      frame.valueSink = SINK_KEYS.has(key);
      frame.valueClass = key === 'class';
      if (tok.type === 'str') out.literals.push(tok.value);
      continue;
    }
    if (tok.type === 'str') {
      visitString(out, stack, toks, k, file);
      continue;
    }
    if (tok.type !== 'punct') continue;
    if (OPEN.has(tok.value)) {
      const f = openFrame(toks, k);
      if (f.callee === 'setAttribute') f.attrSink = SINK_ATTRS.has(toks[k + 1]?.value);
      stack.push(f);
    } else if (CLOSE.has(tok.value)) {
      if (stack.length > 1) stack.pop();
    } else if (tok.value === ',') {
      frame.arg += 1;
      frame.valueSink = frame.valueClass = false;
      endStatement(frame);
    } else if (tok.value === ';') {
      endStatement(frame);
    } else if (tok.value === '=' || tok.value === '+=') {
      markAssignment(toks, k, frame);
    }
  }
  return out;
}
