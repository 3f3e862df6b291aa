//! The web client's languages (issue 15): message catalogs in `web/i18n/`, checked by
//! `tests/i18n/check.mjs` (node; the README's test command installs it) and shown by Chromium.
//!
//! - every catalog has exactly English's keys, the same `{placeholders}`, and for plural
//!   entries exactly the categories `Intl.PluralRules` gives its language; `index.json`
//!   lists every catalog file and nothing else;
//! - no text bypasses the catalogs: every text node and text attribute of `web/index.html`
//!   carries `data-i18n` / `data-i18n-attr` (or `translate="no"`), and no literal with a
//!   letter reaches a text sink in `web/js` (or holds words anywhere) outside `t()`;
//! - every key used exists, and every key is used;
//! - the scanners find the bypasses planted in small samples (so the checks above can fail);
//! - a browser asking for German gets German and `<html lang="de">`; the language switch
//!   changes it to French; Polish plurals take their `few` and `many` forms.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::page::Page;
use crate::support::{one_browser_at_a_time, TestApp};

/// The languages the client ships complete.
const LANGUAGES: [&str; 10] = [
    "en", "de", "es", "fr", "pt", "it", "nl", "pl", "zh-CN", "ja",
];

/// `node tests/i18n/check.mjs ARG` as JSON.
fn check(arg: &str) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("node")
        .arg(root.join("tests/i18n/check.mjs"))
        .arg(arg)
        .current_dir(root)
        .output()
        .expect("node is missing: run the README's test command, which installs it");
    assert!(
        out.status.success(),
        "check.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("check.mjs prints JSON")
}

fn list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.to_string())
        .collect()
}

#[test]
fn every_catalog_has_every_key_with_the_same_placeholders_and_plural_forms() {
    let r = check("web");
    let languages: Vec<&str> = r["languages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    for lang in LANGUAGES {
        assert!(
            languages.contains(&lang),
            "index.json lacks {lang}: {languages:?}"
        );
    }
    assert!(
        r["keys"].as_u64().unwrap() > 150,
        "English has only {} keys",
        r["keys"]
    );
    let problems = list(&r["catalogs"]);
    assert!(
        problems.is_empty(),
        "{} catalog problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn no_text_of_the_page_or_the_code_bypasses_the_catalogs() {
    let r = check("web");
    let found = list(&r["bypass"]);
    assert!(
        found.is_empty(),
        "{} strings bypass the catalogs:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn every_key_used_exists_and_every_key_is_used() {
    let r = check("web");
    let unknown = list(&r["unknownKeys"]);
    assert!(
        unknown.is_empty(),
        "keys used but not in en.json: {unknown:?}"
    );
    let dead = list(&r["deadKeys"]);
    assert!(
        dead.is_empty(),
        "keys in en.json that nothing uses: {dead:?}"
    );
}

#[test]
fn the_scanners_find_the_bypasses_planted_in_samples() {
    let r = check("--selftest");
    let cases = r["cases"].as_array().unwrap();
    let wrong: Vec<&Value> = cases
        .iter()
        .filter(|c| c["expected"] != c["found"])
        .collect();
    assert!(
        wrong.is_empty(),
        "scanner cases that went wrong: {wrong:#?}"
    );
    for kind in ["js:", "html:", "catalog:"] {
        let planted = cases
            .iter()
            .filter(|c| c["name"].as_str().unwrap().starts_with(kind))
            .filter(|c| c["expected"].as_u64().unwrap() > 0)
            .count();
        assert!(
            planted >= 3,
            "too few {kind} samples with a bypass: {planted}"
        );
    }
}

/// Chromium with `Accept-Language` / `navigator.languages` set to `lang` before the page loads.
fn browser_speaking(lang: &str) -> Page {
    let mut page = Page::launch(None);
    let ua = page.call_browser("Browser.getVersion", json!({}))["userAgent"]
        .as_str()
        .unwrap()
        .to_string();
    let params = json!({"userAgent": ua, "acceptLanguage": lang});
    page.call("Emulation.setUserAgentOverride", params);
    page
}

/// `t(key, params)` of the loaded page, through its own i18n module (the same URL as
/// main.js imports, so the same module instance with the catalog it loaded).
fn t_in_page(page: &mut Page, key: &str, params: Value) -> String {
    let expr = format!(
        "import(document.querySelector('script[type=module]').src.replace(/main\\.js$/, 'i18n.js'))\
         .then((m) => m.t({}, {params}))",
        serde_json::to_string(key).unwrap()
    );
    page.eval(&expr).as_str().unwrap().to_string()
}

#[test]
fn the_page_speaks_the_browsers_language_and_switches_on_request() {
    let _one = one_browser_at_a_time();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::spawn());
    let url = app.url("/");

    let mut page = browser_speaking("de-DE,de;q=0.9");
    page.open(&url);
    assert_eq!(page.eval("navigator.languages[0]"), json!("de-DE"));
    assert_eq!(page.eval("document.documentElement.lang"), json!("de"));
    assert_eq!(page.text("[data-status]"), "Verbunden");
    assert_eq!(page.text("[data-rename]"), "Umbenennen");
    assert_eq!(
        page.eval("document.querySelector('[data-lang-select]').value"),
        json!("de")
    );

    // The switch: French is saved and the page loads again in French.
    page.eval(
        "(() => { const s = document.querySelector('[data-lang-select]'); s.value = 'fr'; \
         s.dispatchEvent(new Event('change')); return true; })()",
    );
    page.wait_for(
        "document.documentElement.lang === 'fr'",
        Duration::from_secs(20),
    );
    page.wait_for(
        "typeof window.homedrop === 'object'",
        Duration::from_secs(20),
    );
    assert_eq!(page.text("[data-rename]"), "Renommer");
    assert_eq!(
        page.eval("document.querySelector('[data-lang-select]').value"),
        json!("fr")
    );

    // Polish plurals: one, few, many.
    page.eval("localStorage.setItem('homedrop-lang', 'pl'), true");
    page.reload();
    assert_eq!(page.eval("document.documentElement.lang"), json!("pl"));
    let files = |page: &mut Page, n: u64| t_in_page(page, "transfer.files", json!({"count": n}));
    assert_eq!(files(&mut page, 1), "1 plik");
    assert_eq!(files(&mut page, 3), "3 pliki");
    assert_eq!(files(&mut page, 5), "5 plików");
    assert_eq!(files(&mut page, 22), "22 pliki");
    // No key was missing at runtime, and none was asked for before the catalog loaded.
    let missing: Vec<String> = page
        .console()
        .into_iter()
        .filter(|l| l.contains("no message for"))
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
    drop(page);
    drop(app);
}
