// Drives one headless Firefox ESR (Debian's /usr/bin/firefox-esr) for the Rust tests
// (tests/support/firefox.rs), over WebDriver BiDi with puppeteer-core, which never
// downloads a browser.
//
//   node driver.mjs PROFILE_DIR DOWNLOAD_DIR
//
// Commands arrive on stdin and answers leave on stdout, one JSON object a line:
//   {"id":1,"cmd":"goto","url":"http://10.1.0.1:8080/"}      -> {"id":1,"ok":null}
//   {"id":2,"cmd":"eval","expr":"document.title"}            -> {"id":2,"ok":"homedrop"}
//   {"id":3,"cmd":"setFiles","selector":"[data-file-input]","files":["/tmp/a.bin"]}
//   {"id":4,"cmd":"console"}                                  -> {"id":4,"ok":["log: ..."]}
//   {"id":5,"cmd":"close"}
// A failed command answers {"id":N,"error":"..."}. The first line out, before any command,
// is {"ready":true,"pid":FIREFOX_PID} (the Rust side reads the browser's process tree from
// /proc). In a network namespace run this script itself under `ip netns exec`: Firefox's
// BiDi server listens on 127.0.0.1 inside the namespace. stdin closing closes the browser.

import { createInterface } from 'node:readline';
import puppeteer from 'puppeteer-core';

const FIREFOX = process.env.HOMEDROP_FIREFOX || '/usr/bin/firefox-esr';
const [profile, downloads] = process.argv.slice(2);
if (!profile || !downloads) {
  process.stderr.write('usage: node driver.mjs PROFILE_DIR DOWNLOAD_DIR\n');
  process.exit(2);
}

const prefs = {
  // Raw host candidates, as a LAN test needs to read them (no mDNS obfuscation).
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  // Downloads go to DOWNLOAD_DIR without a dialog.
  'browser.download.dir': downloads,
  'browser.download.folderList': 2,
  'browser.download.useDownloadDir': true,
  'browser.download.always_ask_before_handling_new_types': false,
  'browser.download.start_downloads_in_tmp_dir': false,
  'browser.download.alwaysOpenPanel': false,
  'browser.download.manager.showWhenStarting': false,
  'browser.helperApps.neverAsk.saveToDisk': 'application/octet-stream',
  // No traffic but the test's: no update, telemetry or remote settings checks.
  'app.update.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
};

const browser = await puppeteer.launch({
  browser: 'firefox',
  protocol: 'webDriverBiDi',
  executablePath: FIREFOX,
  headless: true,
  userDataDir: profile,
  extraPrefsFirefox: prefs,
  // The driver's own stdin/stdout carry the commands.
  dumpio: false,
  handleSIGINT: false,
  handleSIGTERM: false,
  handleSIGHUP: false,
});
const [page] = await browser.pages();
const console_ = [];
const note = (line) => {
  if (console_.length < 10000) console_.push(line);
};
page.on('console', (m) => note(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => note(`exception: ${e && e.message ? e.message : e}`));

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

async function run(msg) {
  switch (msg.cmd) {
    case 'goto':
      await page.goto(msg.url, { waitUntil: 'load', timeout: 30000 });
      return null;
    case 'eval': {
      const v = await page.evaluate(msg.expr);
      return v === undefined ? null : v;
    }
    case 'setFiles': {
      const el = await page.$(msg.selector);
      if (!el) throw new Error(`no element at ${msg.selector}`);
      await el.uploadFile(...msg.files);
      await el.dispose();
      return null;
    }
    case 'console':
      return console_;
    case 'close':
      await browser.close();
      out({ id: msg.id, ok: null });
      process.exit(0);
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

out({ ready: true, pid: browser.process().pid });
// One command at a time, in order: the Rust side waits for each answer.
let chain = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  chain = chain.then(async () => {
    let msg;
    try {
      msg = JSON.parse(line);
      out({ id: msg.id, ok: await run(msg) });
    } catch (e) {
      out({ id: msg ? msg.id : null, error: String(e && e.stack ? e.stack : e) });
    }
  });
});
lines.on('close', () => {
  chain.then(() => browser.close()).finally(() => process.exit(0));
});
