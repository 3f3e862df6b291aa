//! Accessibility checks in Chromium: axe-core injected into a [`Page`], media emulation
//! (dark/light, reduced motion) and keyboard input over the DevTools protocol.
//!
//! axe-core is pinned by `tests/a11y/package-lock.json`; the test command installs it into
//! `tests/a11y/node_modules` (`npm ci`). Its `axe.min.js` is evaluated in the page as it is:
//! nothing runs under node. [`serious_violations`] keeps only what axe rates `serious` or
//! `critical`, each with the rule, its help text and the CSS targets of every failing node,
//! so an assertion message says exactly what is wrong and where.

use std::fmt;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::page::Page;

/// Where the test command puts axe-core (`npm ci` in tests/a11y).
pub fn axe_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/a11y/node_modules/axe-core/axe.min.js")
}

/// One axe rule that failed, rated serious or critical.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// axe's rule id, e.g. `color-contrast`, `button-name`.
    pub id: String,
    pub impact: String,
    /// What the rule asks for, in axe's words.
    pub help: String,
    /// One CSS selector per failing node, with axe's summary of why it fails.
    pub nodes: Vec<(String, String)>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "{} ({}): {}", self.id, self.impact, self.help)?;
        for (target, why) in &self.nodes {
            let why = why.replace('\n', " ");
            writeln!(f, "    at {target}: {why}")?;
        }
        Ok(())
    }
}

/// Load axe-core into the page unless it is there already (a navigation drops it).
pub fn inject(page: &mut Page) {
    if page.eval("typeof window.axe === 'object'") == json!(true) {
        return;
    }
    let path = axe_path();
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; install it with `npm ci` in tests/a11y (scripts/test.sh does)",
            path.display()
        )
    });
    // As a classic script would run it: axe.min.js sets `window.axe`.
    page.eval(&format!("{src}\n;typeof window.axe"));
    assert_eq!(
        page.eval("typeof window.axe"),
        json!("object"),
        "axe-core did not load into the page"
    );
}

/// Run axe over the whole document; the serious and critical violations.
pub fn serious_violations(page: &mut Page) -> Vec<Violation> {
    inject(page);
    let found = page.eval(
        "axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations \
           .filter(v => v.impact === 'serious' || v.impact === 'critical') \
           .map(v => ({ id: v.id, impact: v.impact, help: v.help, \
             nodes: v.nodes.map(n => [n.target.join(' '), n.failureSummary || '']) })))",
    );
    found
        .as_array()
        .unwrap_or_else(|| panic!("axe.run gave {found}"))
        .iter()
        .map(violation)
        .collect()
}

fn violation(v: &Value) -> Violation {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let nodes = v["nodes"]
        .as_array()
        .map(|ns| {
            ns.iter()
                .map(|n| {
                    let t = n[0].as_str().unwrap_or_default().to_string();
                    (t, n[1].as_str().unwrap_or_default().to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    Violation {
        id: s("id"),
        impact: s("impact"),
        help: s("help"),
        nodes,
    }
}

/// The system preferences the page sees ([`super::shots::scheme`]), checked through
/// `matchMedia`: `scheme` is `light` or `dark`; `reduce` asks for reduced motion
/// (`prefers-reduced-motion: reduce`), otherwise `no-preference`.
pub fn emulate(page: &mut Page, scheme: &str, reduce: bool) {
    let motion = if reduce { "reduce" } else { "no-preference" };
    super::shots::scheme(page, scheme, reduce);
    let seen = page.eval(&format!(
        "matchMedia('(prefers-color-scheme: {scheme})').matches && \
         matchMedia('(prefers-reduced-motion: {motion})').matches"
    ));
    assert_eq!(seen, json!(true), "the page does not see {scheme}/{motion}");
}

/// Press Tab (with Shift when `back`) as a keyboard would: the page's focus moves and
/// `:focus-visible` applies.
pub fn press_tab(page: &mut Page, back: bool) {
    let modifiers = if back { 8 } else { 0 };
    for kind in ["rawKeyDown", "keyUp"] {
        page.call(
            "Input.dispatchKeyEvent",
            json!({"type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9,
                   "nativeVirtualKeyCode": 9, "modifiers": modifiers}),
        );
    }
}

/// Let a headless page hold focus as a foreground window would (key events reach it,
/// `:focus-visible` matches).
pub fn focus_page(page: &mut Page) {
    page.call(
        "Emulation.setFocusEmulationEnabled",
        json!({"enabled": true}),
    );
    page.call("Page.bringToFront", json!({}));
}
