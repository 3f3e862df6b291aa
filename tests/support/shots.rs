//! Viewports, colour schemes and screenshots of a Chromium [`Page`]: the phone (390×844)
//! and desktop (1280×800) layouts, light and dark, as the UI tests and
//! `scripts/screenshots.sh` (which writes `docs/screenshots/`) see them.

use std::path::Path;

use serde_json::json;

use super::page::Page;

/// A phone: 390×844 CSS px, touch, as an iPhone 12–15 shows a page.
pub const PHONE: (u32, u32) = (390, 844);
/// A laptop window.
pub const DESKTOP: (u32, u32) = (1280, 800);

/// Lay the page out at `size` (mobile: touch and the phone's viewport rules).
pub fn viewport(page: &mut Page, size: (u32, u32), mobile: bool) {
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": size.0, "height": size.1, "deviceScaleFactor": 1, "mobile": mobile}),
    );
    page.call(
        "Emulation.setTouchEmulationEnabled",
        json!({"enabled": mobile, "maxTouchPoints": if mobile { 5 } else { 1 }}),
    );
}

/// Emulate `prefers-color-scheme` (`"light"` or `"dark"`) and, when `reduce`,
/// `prefers-reduced-motion: reduce`.
pub fn scheme(page: &mut Page, colors: &str, reduce: bool) {
    let motion = if reduce { "reduce" } else { "no-preference" };
    page.call(
        "Emulation.setEmulatedMedia",
        json!({"features": [
            {"name": "prefers-color-scheme", "value": colors},
            {"name": "prefers-reduced-motion", "value": motion},
        ]}),
    );
}

/// A PNG of what the viewport shows, written to `path`.
pub fn capture(page: &mut Page, path: &Path) {
    let shot = page.call("Page.captureScreenshot", json!({"format": "png"}));
    let png = base64_decode(shot["data"].as_str().expect("screenshot data"));
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    std::fs::write(path, png).unwrap();
}

/// Standard base64 (the DevTools protocol's binary encoding), padding allowed.
pub fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= u32::from(val(c)) << (18 - 6 * i);
        }
        let take = chunk.len().saturating_sub(1);
        out.extend_from_slice(&n.to_be_bytes()[1..1 + take]);
    }
    out
}

#[test]
fn base64_decodes_with_and_without_padding() {
    assert_eq!(base64_decode("aG9tZWRyb3A="), b"homedrop");
    assert_eq!(base64_decode("aGk"), b"hi");
    assert_eq!(base64_decode("AAEC"), [0, 1, 2]);
}
