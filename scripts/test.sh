#!/usr/bin/env bash
# Every test homedrop has, on a fresh Debian machine: installs what the tests need when it is
# missing (never skips a test for lack of it), then format, lint, unit, integration and
# browser tests. Browser and namespace tests need root (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null || need+=(chromium)
# Firefox ESR and node (its driver, tests/firefox/driver.mjs) for tests/firefox.rs.
command -v firefox-esr >/dev/null || need+=(firefox-esr)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v ip >/dev/null || need+=(iproute2)
command -v tc >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
command -v ethtool >/dev/null || need+=(ethtool)
command -v cc >/dev/null || need+=(build-essential)
# The vendored OpenSSL (webrtc-unreliable, the connection check) is configured by perl scripts
# that need modules beyond perl-base.
perl -MIPC::Cmd -MFile::Compare -e1 2>/dev/null || need+=(perl)
# systemd-analyze checks the shipped unit offline (systemd need not be running).
command -v systemd-analyze >/dev/null || need+=(systemd)
# python-zeroconf (pip, below) is the independent mDNS resolver of tests/mdns.rs.
command -v python3 >/dev/null || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
# The static-build tests: `file` judges the binaries, qemu runs the aarch64 one.
command -v file >/dev/null || need+=(file)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
# coturn's client tools (turnutils_uclient, turnutils_peer, turnutils_stunclient) for the
# relay interop tests. Its server is never started: it would take port 3478.
{ command -v turnutils_uclient && command -v turnutils_peer && command -v turnutils_stunclient; } \
  >/dev/null || need+=(coturn)
# certutil puts a test CA into a relative's Chromium NSS database (tests/remote_tls.rs).
command -v certutil >/dev/null || need+=(libnss3-tools)
# unzip -t checks the "Save all" ZIP (tests/batch.rs).
command -v unzip >/dev/null || need+=(unzip)
# pebble (the ACME test CA) and pebble-challtestsrv (its DNS) for tests/acme.rs.
{ command -v pebble && command -v pebble-challtestsrv; } >/dev/null || need+=(pebble)
# miniupnpd (nftables backend) plays the home router of the router-mapping tests; it is
# started only inside test namespaces.
command -v miniupnpd >/dev/null || need+=(miniupnpd-nftables)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Keep package scripts from starting services (coturn's) while installing.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
  fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ -z "$policy" ] || rm -f "$policy"
  case " ${need[*]} " in *" coturn "*) systemctl disable coturn >/dev/null 2>&1 || true ;; esac
fi
python3 -c 'import sys, zeroconf; sys.exit(zeroconf.__version__ != "0.154.0")' 2>/dev/null ||
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q zeroconf==0.154.0
# puppeteer-core (pinned by tests/firefox/package-lock.json; it downloads no browser) into
# the git-ignored tests/firefox/node_modules, again whenever the lock file changed.
if ! cmp -s tests/firefox/package-lock.json tests/firefox/node_modules/.homedrop-lock; then
  (cd tests/firefox && npm ci --no-audit --no-fund --loglevel=error &&
    cp package-lock.json node_modules/.homedrop-lock)
fi
# axe-core (pinned by tests/a11y/package-lock.json) for tests/a11y.rs, which injects its
# axe.min.js into headless Chromium: into the git-ignored tests/a11y/node_modules, again
# whenever the lock file changed.
if ! cmp -s tests/a11y/package-lock.json tests/a11y/node_modules/.homedrop-lock; then
  (cd tests/a11y && npm ci --no-audit --no-fund --loglevel=error &&
    cp package-lock.json node_modules/.homedrop-lock)
fi
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy

cargo fmt --check
python3 scripts/check-layers.py
python3 scripts/check-sizes.py
cargo clippy --all-targets --locked -- -D warnings
cargo build --release --locked
# Static x86-64 and aarch64 binaries and their .debs, built once here (aarch64 takes
# minutes); tests/packaging.rs checks these artifacts and runs the aarch64 one under qemu.
bash scripts/build-static.sh
cargo test --locked -- --test-threads=4
