//! The `data-*` hooks are the web client's test interface, listed once in docs/testing.md.
//! These checks read the files, no browser: every hook the client uses is in that list, and a
//! hook written without a value on the page's static markup marks one element only (the
//! ambiguity `data-room` once had: a room entry and the chat card), except the few that are
//! meant to repeat and are always read inside their own container.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Hooks that repeat in index.html by design, each read inside its container.
const REPEATED: [&str; 3] = [
    "data-qr-slot",   // in the QR dialog and in the pairing dialog
    "data-nav-badge", // one per bottom-bar button
    "data-nav",       // one per bottom-bar button, told apart by its value
];

/// Words that look like hooks in the client's comments.
const NOT_HOOKS: [&str; 1] = ["data-channel"];

fn web(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).unwrap()
}

/// Every `data-…` name in `text` (attribute names, selectors, `h()` attribute keys).
fn hook_names(text: &str) -> BTreeSet<String> {
    let b = text.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while let Some(at) = text[i..].find("data-") {
        let start = i + at;
        let boundary =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'-');
        let mut end = start + 5;
        while end < b.len()
            && (b[end].is_ascii_lowercase() || b[end].is_ascii_digit() || b[end] == b'-')
        {
            end += 1;
        }
        if boundary && end > start + 5 && !text[start..end].ends_with('-') {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

/// How many static elements of `html` carry each hook with no value (`<x data-peer-list>`).
fn valueless_counts(html: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        for attr in tag.split_whitespace() {
            if attr.starts_with("data-") && !attr.contains('=') {
                *counts.entry(attr.to_string()).or_insert(0) += 1;
            }
        }
    }
    counts
}

fn client_sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut out = vec![("web/index.html".to_string(), web("web/index.html"))];
    let mut dirs = vec![root.join("js")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "js") {
                out.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    out
}

#[test]
fn every_hook_of_the_client_is_in_the_testing_list() {
    let listed = hook_names(&web("docs/testing.md"));
    let mut missing = Vec::new();
    for (file, text) in client_sources() {
        for name in hook_names(&text) {
            if !listed.contains(&name) && !NOT_HOOKS.contains(&name.as_str()) {
                missing.push(format!("{name} ({file})"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "hooks missing from docs/testing.md: {missing:?}"
    );
}

#[test]
fn a_valueless_hook_marks_one_static_element() {
    let repeated: Vec<String> = valueless_counts(&web("web/index.html"))
        .into_iter()
        .filter(|(name, n)| *n > 1 && !REPEATED.contains(&name.as_str()))
        .map(|(name, n)| format!("{name} ×{n}"))
        .collect();
    assert!(
        repeated.is_empty(),
        "ambiguous hooks in index.html: {repeated:?}"
    );
}

#[test]
fn the_checks_see_names_and_repeats() {
    let names = hook_names("<p data-a-b x-data-no data-c>[data-d=1] 'data-e': data- ");
    assert_eq!(
        names,
        ["data-a-b", "data-c", "data-d", "data-e"]
            .map(String::from)
            .into()
    );
    let counts = valueless_counts("<p data-x><b data-x data-y=\"1\"></b><i data-z>");
    assert_eq!(counts.get("data-x"), Some(&2));
    assert_eq!(counts.get("data-y"), None);
}
