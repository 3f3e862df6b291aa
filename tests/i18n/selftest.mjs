// The scanners and catalog rules on small samples, so tests/i18n.rs can see that each rule
// finds what it is meant to (and leaves alone what it must): {name, expected, found}.

import { scanJs } from './scan-js.mjs';
import { scanHtml } from './scan-html.mjs';
import { entryProblems } from './catalog.mjs';
import { pickLanguage } from '../../web/js/i18n.js';

/** JavaScript samples and how many bypasses each holds. */
const JS = [
  ['textContent literal', "el.textContent = 'Hello';", 1],
  ['textContent through t()', "el.textContent = t('a.b');", 0],
  ['title in a ternary', "el.title = ok ? t('a.b') : 'Nope';", 1],
  ['h() child', "h('button', { class: 'button small' }, 'Save');", 1],
  ['h() text attribute, template', "h('p', { text: `Sent to ${n}` });", 1],
  ['notice text', "bus.emit('notice', { kind: 'error', text: 'Broken' });", 1],
  ['prose in a table', "const TEXT = { a: 'Two words here' };", 1],
  ['prose in an Error', "throw new Error('could not connect');", 1],
  ['a label word in a table', "const KIND = { phone: 'Phone', other: 'Device…' };", 2],
  ['setAttribute aria-label', "el.setAttribute('aria-label', 'Close');", 1],
  ['aria-label key', "h('span', { 'aria-label': 'Progress' });", 1],
  ['confirm', "if (confirm('Sure?')) go();", 1],
  ['placeholder assignment', "input.placeholder = 'Name';", 1],
  ['not text: classes, logs, tags, states, keys',
    "el.className = 'a b'; console.warn('two words'); h('span', { class: 'x y', text: t('k') }); if (s === 'paused') el.textContent = t('k');", 0],
  ['not text: module specifiers, the wire', "import { t } from './i18n.js'; send({ type: 'offer' });", 0],
];

/** HTML samples and how many bypasses each holds. */
const HTML = [
  ['bare text', '<p>Hello</p>', 1],
  ['data-i18n text', '<p data-i18n="a.b">Hello</p>', 0],
  ['attribute without data-i18n-attr', '<input placeholder="Name">', 1],
  ['attribute named', '<input placeholder="Name" data-i18n-attr="placeholder:a.b">', 0],
  ['one of two attributes named', '<button title="A" aria-label="B" data-i18n-attr="title:a.b">x</button>', 2],
  ['translate=no', '<h1 translate="no">homedrop <b>brand</b></h1>', 0],
  ['element inside data-i18n', '<label data-i18n="a.b">File <input type="file"></label>', 1],
  ['empty alt, symbols', '<img alt=""><span>·</span>', 0],
];

/** Catalog entries against English and how many problems each has. */
const CATALOG = [
  ['same placeholders', ['de', 'k', 'An {name}', 'To {name}'], 0],
  ['missing placeholder', ['de', 'k', 'An jemand', 'To {name}'], 1],
  ['plural with the right categories', ['pl', 'k', { one: '{count} plik', few: '{count} pliki', many: '{count} plików', other: '{count} pliku' }, { one: '{count} file', other: '{count} files' }], 0],
  ['plural lacking few and many', ['pl', 'k', { one: '{count} plik', other: '{count} pliku' }, { one: '{count} file', other: '{count} files' }], 1],
  ['plural with a category ja does not have', ['ja', 'k', { one: '{count}', other: '{count} 件' }, { one: '{count} file', other: '{count} files' }], 1],
  ['string where English has a plural', ['de', 'k', '{count} Dateien', { one: '{count} file', other: '{count} files' }], 1],
];

/** navigator.languages → the catalog i18n.js picks (expected as the count field: 1 = right). */
const CODES = ['en', 'de', 'pt', 'zh-CN', 'ja'];
const CHOICE = [
  ['pt-BR is pt', ['pt-BR', 'en'], 'pt'],
  ['zh-Hans-CN is zh-CN', ['zh-Hans-CN'], 'zh-CN'],
  ['zh is zh-CN', ['zh'], 'zh-CN'],
  ['zh-TW has no catalog: the next one', ['zh-TW', 'ja-JP'], 'ja'],
  ['case does not matter', ['DE-at'], 'de'],
  ['nothing known', ['sv-SE', 'fi'], null],
];

export function selftest() {
  const cases = [];
  for (const [name, src, n] of JS) cases.push({ name: `js: ${name}`, expected: n, found: scanJs(src).bypass.length });
  for (const [name, src, n] of HTML) cases.push({ name: `html: ${name}`, expected: n, found: scanHtml(src).bypass.length });
  for (const [name, args, n] of CATALOG) cases.push({ name: `catalog: ${name}`, expected: n, found: entryProblems(...args).length });
  for (const [name, prefs, want] of CHOICE) cases.push({ name: `choice: ${name}`, expected: 1, found: Number(pickLanguage(CODES, prefs) === want) });
  return cases;
}
