#!/usr/bin/env bash
# Renders every view of the web client at 390×844 (light and dark) and 1280×800 (light and
# dark), with three devices on a namespaced LAN, into docs/screenshots/ (shown in the README):
# the UI flow test with HOMEDROP_SCREENSHOTS set. Needs root (namespaces) and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
rm -f docs/screenshots/*.png
HOMEDROP_SCREENSHOTS="$PWD/docs/screenshots" \
  cargo test --locked --test main ui::the_phone_ui_does_every_flow_through_its_hooks -- --exact
ls docs/screenshots
