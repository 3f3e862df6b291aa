// A small JavaScript tokenizer for the i18n scanner: strings, template parts, identifiers,
// punctuation, with comments and regular expressions skipped. Enough for the web client's
// own code (no parser dependency); not a general JavaScript parser.

const PUNCT_BEFORE_REGEX = new Set(['(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^', '=>', 'return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw']);

/** Tokens: {type: 'str'|'ident'|'punct'|'num', value, line, tmpl?}. Template literals become
 * their static parts as 'str' tokens (tmpl: true) with the expressions tokenized in between. */
export function tokenize(src) {
  const out = [];
  const braces = []; // true where a `${` opened the brace
  let i = 0;
  let line = 1;
  const push = (type, value, extra = {}) => out.push({ type, value, line, ...extra });
  const last = () => out[out.length - 1];
  const regexAllowed = () => {
    const p = last();
    if (!p) return true;
    if (p.type === 'str' || p.type === 'num') return false;
    if (p.type === 'ident') return PUNCT_BEFORE_REGEX.has(p.value);
    return p.value !== ')' && p.value !== ']';
  };
  function readTemplate() {
    let s = '';
    const start = line;
    while (i < src.length) {
      const c = src[i];
      if (c === '\\') { s += src.slice(i, i + 2); i += 2; continue; }
      if (c === '`') { i += 1; out.push({ type: 'str', value: s, line: start, tmpl: true, end: true }); return; }
      if (c === '$' && src[i + 1] === '{') {
        i += 2;
        out.push({ type: 'str', value: s, line: start, tmpl: true });
        out.push({ type: 'punct', value: '${', line });
        braces.push(true);
        return;
      }
      if (c === '\n') line += 1;
      s += c;
      i += 1;
    }
  }
  while (i < src.length) {
    const c = src[i];
    if (c === '\n') { line += 1; i += 1; continue; }
    if (/\s/.test(c)) { i += 1; continue; }
    if (c === '/' && src[i + 1] === '/') { while (i < src.length && src[i] !== '\n') i += 1; continue; }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      line += (src.slice(i, stop).match(/\n/g) || []).length;
      i = stop;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') { s += src.slice(j, j + 2); j += 2; } else { s += src[j]; j += 1; }
      }
      push('str', s);
      i = j + 1;
      continue;
    }
    if (c === '`') { i += 1; readTemplate(); continue; }
    if (c === '/' && regexAllowed()) {
      let j = i + 1;
      let cls = false;
      while (j < src.length && (cls || src[j] !== '/')) {
        if (src[j] === '\\') j += 1;
        else if (src[j] === '[') cls = true;
        else if (src[j] === ']') cls = false;
        j += 1;
      }
      j += 1;
      while (/[a-z]/.test(src[j] || '')) j += 1;
      push('regex', src.slice(i, j));
      i = j;
      continue;
    }
    const id = /^[A-Za-z_$][\w$]*/.exec(src.slice(i, i + 100));
    if (id) { push('ident', id[0]); i += id[0].length; continue; }
    const num = /^(0[xX][\da-fA-F_]+n?|[\d_]*\.?[\d_]+(e[+-]?\d+)?n?)/.exec(src.slice(i, i + 60));
    if (num && /\d/.test(num[0])) { push('num', num[0]); i += num[0].length; continue; }
    const op = /^(=>|\?\.|\?\?=?|\.\.\.|===?|!==?|<=|>=|&&=?|\|\|=?|\*\*|[+\-*/%&|^]=|\+\+|--|<<|>>>?)/.exec(src.slice(i, i + 4));
    if (op) { push('punct', op[0]); i += op[0].length; continue; }
    if (c === '{') { braces.push(false); push('punct', c); i += 1; continue; }
    if (c === '}') {
      const tmpl = braces.pop();
      if (tmpl) { i += 1; push('punct', '}$'); readTemplate(); continue; }
      push('punct', c);
      i += 1;
      continue;
    }
    push('punct', c);
    i += 1;
  }
  return out;
}
