// Catalog rules (tests/i18n.rs through check.mjs): every catalog has exactly en.json's keys;
// each string the same {placeholders} as English; a plural entry exactly the categories
// Intl.PluralRules gives its language; index.json lists every catalog file, with the name
// the catalog's _meta gives itself.

import fs from 'node:fs';
import path from 'node:path';

const placeholders = (s) => [...String(s).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const isPlural = (v) => v !== null && typeof v === 'object';

/** Problems of one entry of catalog `code` against English. */
export function entryProblems(code, key, value, en) {
  const problems = [];
  if (isPlural(en) !== isPlural(value)) return [`${code}: ${key}: ${isPlural(en) ? 'must be a plural object' : 'must be a string'}`];
  if (!isPlural(en)) {
    if (typeof value !== 'string') return [`${code}: ${key}: not a string`];
    if (!same(placeholders(value), placeholders(en))) problems.push(`${code}: ${key}: placeholders ${placeholders(value)} instead of ${placeholders(en)}`);
    return problems;
  }
  const wanted = [...new Intl.PluralRules(code).resolvedOptions().pluralCategories].sort();
  const got = Object.keys(value).sort();
  if (!same(got, wanted)) problems.push(`${code}: ${key}: plural categories ${got} instead of ${wanted}`);
  const allowed = new Set(Object.values(en).flatMap(placeholders));
  for (const [cat, s] of Object.entries(value)) {
    if (typeof s !== 'string') problems.push(`${code}: ${key}.${cat}: not a string`);
    else for (const p of placeholders(s)) if (!allowed.has(p)) problems.push(`${code}: ${key}.${cat}: unknown placeholder {${p}}`);
  }
  if (typeof value.other === 'string' && !same(placeholders(value.other), placeholders(en.other))) {
    problems.push(`${code}: ${key}.other: placeholders ${placeholders(value.other)} instead of ${placeholders(en.other)}`);
  }
  return problems;
}

export function checkCatalogs(dir) {
  const problems = [];
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const listed = new Map(index.languages.map((l) => [l.code, l.name]));
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'index.json').map((f) => f.slice(0, -5));
  for (const f of files) if (!listed.has(f)) problems.push(`index.json does not list ${f}.json`);
  for (const code of listed.keys()) if (!files.includes(code)) problems.push(`index.json lists ${code}, but ${code}.json is missing`);
  const en = JSON.parse(fs.readFileSync(path.join(dir, 'en.json'), 'utf8'));
  const keys = Object.keys(en).filter((k) => k !== '_meta');
  for (const code of files) {
    const cat = JSON.parse(fs.readFileSync(path.join(dir, `${code}.json`), 'utf8'));
    if (cat._meta?.name !== listed.get(code)) problems.push(`${code}: _meta.name ${cat._meta?.name} differs from index.json's ${listed.get(code)}`);
    for (const k of keys) {
      if (!(k in cat)) problems.push(`${code}: missing ${k}`);
      else problems.push(...entryProblems(code, k, cat[k], en[k]));
    }
    for (const k of Object.keys(cat)) if (k !== '_meta' && !(k in en)) problems.push(`${code}: extra key ${k}`);
    if (code === 'en') for (const k of keys) problems.push(...entryProblems('en', k, cat[k], en[k]));
  }
  return { problems, keys, languages: [...listed.keys()] };
}

