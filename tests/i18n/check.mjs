// The catalog checks of tests/i18n.rs, printed as one JSON object:
//   node tests/i18n/check.mjs WEB_DIR       → {languages, keys, catalogs, bypass, unknownKeys, deadKeys}
//   node tests/i18n/check.mjs --selftest    → {cases: [{name, expected, found}]} (the scanners on samples)
// Catalog rules: catalog.mjs; what counts as text bypassing the catalogs: scan-js.mjs and
// scan-html.mjs. A key is used when a t() call or a data-i18n / data-i18n-attr names it,
// when a literal in the code equals it (a key chosen before the call), or when it starts with
// the fixed part of a template key (t(`status.${state}`)).

import fs from 'node:fs';
import path from 'node:path';
import { scanJs } from './scan-js.mjs';
import { scanHtml } from './scan-html.mjs';
import { selftest } from './selftest.mjs';
import { checkCatalogs } from './catalog.mjs';

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith('.js') ? [p] : [];
  });
}

/** Keys used by code and page against the English catalog. */
function checkUsage(web, keys) {
  const bypass = [];
  const used = [];
  const prefixes = [];
  const literals = new Set();
  for (const file of walk(path.join(web, 'js'))) {
    const r = scanJs(fs.readFileSync(file, 'utf8'), path.relative(path.dirname(web), file));
    bypass.push(...r.bypass);
    used.push(...r.keys);
    prefixes.push(...r.prefixes);
    r.literals.forEach((l) => literals.add(l));
  }
  const html = scanHtml(fs.readFileSync(path.join(web, 'index.html'), 'utf8'));
  bypass.push(...html.bypass.map((b) => ({ file: 'web/index.html', ...b })));
  used.push(...html.keys);
  const known = new Set(keys);
  const unknownKeys = [...new Set(used)].filter((k) => !known.has(k));
  unknownKeys.push(...prefixes.filter((p) => !keys.some((k) => k.startsWith(p))).map((p) => `${p}*`));
  const usedSet = new Set(used);
  const deadKeys = keys.filter((k) => !usedSet.has(k) && !literals.has(k) && !prefixes.some((p) => k.startsWith(p)));
  return { bypass, unknownKeys, deadKeys, prefixes: [...new Set(prefixes)] };
}

if (process.argv[2] === '--selftest') {
  console.log(JSON.stringify({ cases: selftest() }));
} else {
  const web = path.resolve(process.argv[2] ?? 'web');
  const cat = checkCatalogs(path.join(web, 'i18n'));
  const usage = checkUsage(web, cat.keys);
  console.log(JSON.stringify({ languages: cat.languages, keys: cat.keys.length, catalogs: cat.problems, ...usage }));
}
