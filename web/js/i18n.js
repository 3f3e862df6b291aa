// Message catalogs: every user-visible string of the client is `t(key, params)`.
//
// Catalogs are flat JSON files, web/i18n/<code>.json ("transfer.sending": "Sending…"), listed
// with their own names in web/i18n/index.json. `{name}` placeholders are filled from params;
// numbers are formatted for the language. A plural entry is an object keyed by the
// Intl.PluralRules categories of its language ({"one": "{count} file", "other": "{count} files"}),
// chosen by params.count. The language: a choice saved in localStorage, else the first of
// navigator.languages that has a catalog, else English. English backs up a key missing at
// runtime (tests/i18n.rs forbids missing keys).

const STORE_KEY = 'homedrop-lang';
const FALLBACK = 'en';
const BASE = new URL('../i18n/', import.meta.url);

let lang = FALLBACK;
let messages = {};
let english = {};
let languages = [{ code: FALLBACK, name: 'English' }];
let plurals = new Intl.PluralRules(FALLBACK);
let numbers = new Intl.NumberFormat(FALLBACK);

async function fetchJson(name) {
  const res = await fetch(new URL(name, BASE));
  if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
  return res.json();
}

/** The catalog for a list of preferred languages (BCP 47 tags), or null. */
export function pickLanguage(codes, preferred) {
  const byLower = new Map(codes.map((c) => [c.toLowerCase(), c]));
  for (const raw of preferred) {
    const tag = String(raw).toLowerCase();
    if (byLower.has(tag)) return byLower.get(tag);
    const [base] = tag.split('-');
    if (base === 'zh') {
      // Simplified Chinese: zh, zh-CN, zh-SG, zh-Hans-*; Traditional (zh-TW, zh-Hant) has no catalog yet.
      if (/^zh(-hans.*|-cn|-sg|-my)?$/.test(tag) && byLower.has('zh-cn')) return byLower.get('zh-cn');
      continue;
    }
    if (byLower.has(base)) return byLower.get(base);
  }
  return null;
}

function savedChoice() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null;
  }
}

/** Loads the catalog to use (and English); call before anything renders. */
export async function loadLanguage() {
  const index = await fetchJson('index.json');
  languages = index.languages;
  const codes = languages.map((l) => l.code);
  const wanted = [savedChoice(), ...(navigator.languages ?? [navigator.language])].filter(Boolean);
  lang = pickLanguage(codes, wanted) ?? FALLBACK;
  english = await fetchJson(`${FALLBACK}.json`);
  messages = lang === FALLBACK ? english : await fetchJson(`${lang}.json`).catch(() => english);
  plurals = new Intl.PluralRules(lang);
  numbers = new Intl.NumberFormat(lang);
  document.documentElement.lang = lang;
  applyDom(document);
  initSwitch();
  return lang;
}

export function currentLanguage() {
  return lang;
}

/** Formats a number for the current language (grouping, decimal separator). */
export function formatNumber(n, options) {
  return options ? new Intl.NumberFormat(lang, options).format(n) : numbers.format(n);
}

function pick(entry, params) {
  if (typeof entry === 'string' || entry == null) return entry;
  const count = Number(params?.count);
  return entry[plurals.select(count)] ?? entry.other;
}

/** The message for `key` with its `{name}` placeholders filled in from params. */
export function t(key, params) {
  const text = pick(messages[key] ?? english[key], params);
  if (typeof text !== 'string') {
    console.warn(`homedrop: no message for ${key}`);
    return key;
  }
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    const v = params[name];
    if (v === undefined || v === null) return whole;
    return typeof v === 'number' ? numbers.format(v) : String(v);
  });
}

/** Fills `data-i18n` (textContent) and `data-i18n-attr` ("placeholder:key;title:key") below root. */
export function applyDom(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

/** The language switch: each language in its own name; a change is saved and the page reloads. */
function initSwitch() {
  const select = document.querySelector('[data-lang-select]');
  if (!select) return;
  select.replaceChildren(
    ...languages.map((l) => {
      const opt = document.createElement('option');
      opt.value = l.code;
      opt.textContent = l.name;
      opt.selected = l.code === lang;
      return opt;
    }),
  );
  select.addEventListener('change', () => {
    try {
      localStorage.setItem(STORE_KEY, select.value);
    } catch {
      /* storage off: the choice lasts for this load only */
    }
    location.reload();
  });
}
