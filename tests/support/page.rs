//! The page object: homedrop's UI in one browser, reached through its `data-*` hooks only
//! (docs/testing.md lists them).
//!
//! A test says what a user does or reads and where: `page.click("[data-accept]")`,
//! `page.text("[data-self-name]")`, `page.wait_hook(&attr("[data-room]", "code", &code), t)`.
//! The JavaScript that finds the element is written once, here, with the selector quoted as
//! a JSON string, instead of `document.querySelector('…')` spelled out in every test. A
//! selector is plain CSS over hooks; [`attr`] adds an attribute test to a hook with its value
//! quoted. What is not about one element (app diagnostics, CDP commands, navigation, console)
//! stays on the [`Browser`], which a `Page` dereferences to.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::browser::Browser;

/// One browser showing homedrop.
pub struct Page {
    browser: Browser,
}

impl Deref for Page {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.browser
    }
}

impl DerefMut for Page {
    fn deref_mut(&mut self) -> &mut Browser {
        &mut self.browser
    }
}

/// A string as a JavaScript (JSON) literal, for selectors and values put into scripts.
pub fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// `hook` narrowed to elements whose `data-{key}` is `value`:
/// `attr("[data-room]", "code", "ABC")` is `[data-room][data-code="ABC"]`.
pub fn attr(hook: &str, key: &str, value: &str) -> String {
    format!("{hook}[data-{key}={}]", js(value))
}

impl Page {
    /// Start Chromium (in network namespace `netns` when given) on a blank page.
    pub fn launch(netns: Option<&str>) -> Page {
        Page {
            browser: Browser::launch(netns),
        }
    }

    /// [`Page::launch`] with a browser whose NSS database trusts the CA in PEM file `ca`.
    pub fn launch_trusting(netns: Option<&str>, ca: &std::path::Path) -> Page {
        Page {
            browser: Browser::launch_trusting(netns, Some(ca)),
        }
    }

    /// [`Page::launch`] with more Chromium flags (see [`Browser::launch_with`]).
    pub fn launch_with_flags(netns: Option<&str>, flags: &[&str]) -> Page {
        Page {
            browser: Browser::launch_with(netns, None, flags),
        }
    }

    // The page object's methods, callable without naming the trait.
    pub fn open(&mut self, url: &str) {
        PageObject::open(self, url)
    }
    pub fn load(&mut self, url: &str, within: Duration) {
        PageObject::load(self, url, within)
    }
    pub fn click(&mut self, selector: &str) {
        PageObject::click(self, selector)
    }
    pub fn fill(&mut self, selector: &str, text: &str) {
        PageObject::fill(self, selector, text)
    }
    pub fn text(&mut self, selector: &str) -> String {
        PageObject::text(self, selector)
    }
    pub fn count(&mut self, selector: &str) -> u64 {
        PageObject::count(self, selector)
    }
    pub fn data(&mut self, selector: &str, key: &str) -> Value {
        PageObject::data(self, selector, key)
    }
    pub fn wait_hook(&mut self, selector: &str, timeout: Duration) {
        PageObject::wait_hook(self, selector, timeout)
    }
    pub fn wait_count(&mut self, selector: &str, n: u64, timeout: Duration) {
        PageObject::wait_count(self, selector, n, timeout)
    }
    pub fn wait_data(&mut self, selector: &str, key: &str, timeout: Duration) -> Value {
        PageObject::wait_data(self, selector, key, timeout)
    }

    /// What another app's share sheet does with an installed web app: a form navigation
    /// `POST action` (multipart) with `files` in the field `files` and `text` in `text`, as
    /// the manifest's share target names them. The form is made in the page (hook
    /// `data-test-share`), filled through DevTools like a user's pick, and submitted; returns
    /// once the navigation has begun.
    pub fn share_files(&mut self, action: &str, text: &str, files: &[&Path]) {
        self.eval(&format!(
            "(() => {{ const f = document.createElement('form'); f.method = 'post'; \
              f.enctype = 'multipart/form-data'; f.action = {}; f.dataset.testShare = ''; \
              const i = document.createElement('input'); i.type = 'file'; i.multiple = true; \
              i.name = 'files'; const t = document.createElement('input'); t.name = 'text'; \
              t.value = {}; f.append(i, t); document.body.append(f); }})()",
            js(action),
            js(text)
        ));
        self.set_files("[data-test-share] input[type=file]", files);
        let before = self.eval("performance.timeOrigin");
        // The page goes away while this runs: an error here is the navigation itself.
        let _ = self
            .try_eval("setTimeout(() => document.querySelector('[data-test-share]').submit(), 0)");
        let gone = format!("performance.timeOrigin !== {before}");
        self.wait_for(&gone, Duration::from_secs(20));
    }
}

impl PageObject for Page {
    fn start(netns: Option<&str>) -> Page {
        Page::launch(netns)
    }
    fn goto(&mut self, url: &str) {
        self.browser.goto(url)
    }
    fn try_eval(&mut self, expr: &str) -> Result<Value, String> {
        self.browser.try_eval(expr)
    }
    fn wait_for(&mut self, expr: &str, timeout: Duration) -> Value {
        self.browser.wait_for(expr, timeout)
    }
    fn set_files(&mut self, selector: &str, files: &[&Path]) {
        self.browser.set_files(selector, files)
    }
    fn wait_download(&mut self, name: &str, timeout: Duration) -> PathBuf {
        self.browser.wait_download(name, timeout)
    }
    fn pid(&self) -> u32 {
        self.browser.pid()
    }
}

/// homedrop's UI in one browser, whichever: [`Page`] (Chromium over the DevTools protocol)
/// and [`Firefox`](super::firefox::Firefox) (Firefox ESR over WebDriver BiDi) give the few
/// browser primitives, and every hook-level action is written once, here, on top of them.
/// Code generic over both (`fn send(from: &mut impl PageObject, to: &mut impl PageObject)`)
/// reads like a Chromium-only test.
pub trait PageObject {
    /// Start the browser (in network namespace `netns` when given) on a blank page.
    fn start(netns: Option<&str>) -> Self
    where
        Self: Sized;
    /// Navigate and wait until the page has loaded.
    fn goto(&mut self, url: &str);
    /// Evaluate an expression (promises awaited); `Err` when the script threw or the page
    /// went away.
    fn try_eval(&mut self, expr: &str) -> Result<Value, String>;
    /// Poll until `expr` is truthy; panics with the page's state when time runs out.
    fn wait_for(&mut self, expr: &str, timeout: Duration) -> Value;
    /// Choose files on a file input, as a user picking them would.
    fn set_files(&mut self, selector: &str, files: &[&Path]);
    /// Wait for a finished download with this file name; returns its path.
    fn wait_download(&mut self, name: &str, timeout: Duration) -> PathBuf;
    /// Pid of the browser process (the root of its process tree).
    fn pid(&self) -> u32;

    /// Sum of RSS of the browser and all its descendants, in bytes.
    fn tree_rss(&self) -> u64 {
        super::browser::tree_rss(self.pid())
    }

    /// [`PageObject::try_eval`] that panics when the script fails.
    fn eval(&mut self, expr: &str) -> Value {
        self.try_eval(expr)
            .unwrap_or_else(|e| panic!("script failed: {expr}\n{e}"))
    }

    /// Load the page, retrying while homedrop starts in its namespace, until its signaling
    /// is online. (A page that lost a module on the way loads itself again: web/js/boot.js.)
    fn open(&mut self, url: &str) {
        self.load(url, Duration::from_secs(20));
        self.wait_for(
            "document.querySelector('[data-status]')?.dataset.state === 'online'",
            Duration::from_secs(40),
        );
    }

    /// Navigate until the page itself is there, for at most `within` (homedrop may still be
    /// starting in its namespace).
    fn load(&mut self, url: &str, within: Duration) {
        let end = Instant::now() + within;
        loop {
            self.goto(url);
            if self.try_eval("!!document.querySelector('[data-peer-list]')") == Ok(json!(true)) {
                return;
            }
            assert!(Instant::now() < end, "page never loaded from {url}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Click the first element matching `selector`; panics when there is none.
    fn click(&mut self, selector: &str) {
        let sel = js(selector);
        let ok = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return false; e.click(); return true; }})()"
        ));
        assert_eq!(ok, json!(true), "nothing to click at {selector}");
    }

    /// Fill an input or textarea and fire `input`.
    fn fill(&mut self, selector: &str, text: &str) {
        let (sel, val) = (js(selector), js(text));
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); e.value = {val}; e.dispatchEvent(new Event('input', {{bubbles:true}})); }})()"
        ));
    }

    /// `textContent` of the first element matching `selector` (the script fails without one).
    fn text(&mut self, selector: &str) -> String {
        let v = self.eval(&format!(
            "document.querySelector({}).textContent",
            js(selector)
        ));
        v.as_str().unwrap_or_default().to_string()
    }

    /// How many elements match `selector`.
    fn count(&mut self, selector: &str) -> u64 {
        self.eval(&format!(
            "document.querySelectorAll({}).length",
            js(selector)
        ))
        .as_u64()
        .unwrap()
    }

    /// `data-{key}` of the first element matching `selector`, as the page holds it (the
    /// script fails without such an element; `null` when it lacks the attribute).
    fn data(&mut self, selector: &str, key: &str) -> Value {
        self.eval(&format!(
            "document.querySelector({}).dataset[{}]",
            js(selector),
            js(&camel(key))
        ))
    }

    /// Wait until an element matches `selector`.
    fn wait_hook(&mut self, selector: &str, timeout: Duration) {
        let expr = format!("!!document.querySelector({})", js(selector));
        self.wait_for(&expr, timeout);
    }

    /// Wait until exactly `n` elements match `selector`.
    fn wait_count(&mut self, selector: &str, n: u64, timeout: Duration) {
        let expr = format!("document.querySelectorAll({}).length === {n}", js(selector));
        self.wait_for(&expr, timeout);
    }

    /// Wait until the first element matching `selector` has a non-empty `data-{key}`;
    /// returns it.
    fn wait_data(&mut self, selector: &str, key: &str, timeout: Duration) -> Value {
        let expr = format!(
            "document.querySelector({})?.dataset[{}]",
            js(selector),
            js(&camel(key))
        );
        self.wait_for(&expr, timeout)
    }
}

/// `data-peer-id` is `dataset.peerId`.
fn camel(key: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in key.chars() {
        match c {
            '-' => up = true,
            c if up => {
                out.extend(c.to_uppercase());
                up = false;
            }
            c => out.push(c),
        }
    }
    out
}
