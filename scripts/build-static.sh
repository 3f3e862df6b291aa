#!/usr/bin/env bash
# Fully static release binaries of homedrop, without Docker, and a .deb for each:
#   x86-64 boxes:                 target/x86_64-unknown-linux-musl/release/homedrop  (musl-gcc)
#   64-bit Raspberry Pi OS (Pi 3, 4, 5, Zero 2 W):
#                                 target/aarch64-unknown-linux-musl/release/homedrop (cargo-zigbuild)
#   Debian packages:              target/debian/homedrop_<version>_{amd64,arm64}.deb (cargo-deb)
# Installs what it needs when missing (musl-tools, file, ziglang + cargo-zigbuild from PyPI,
# the rustup targets, cargo-deb). Fails when `file` does not call a binary static, when one is
# larger than 10 MB, or when a package misses the binary, the unit or the example config.
# 32-bit Pi OS (armv7) needs a target this machine's rustup mirror lacks: use cross-rs with
# Docker for it (Cross.toml).
#
# Usage: bash scripts/build-static.sh [--no-deb]
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_BYTES=10000000
CARGO_DEB_VERSION=3.8.0
X86=x86_64-unknown-linux-musl
ARM=aarch64-unknown-linux-musl
deb=1
for arg in "$@"; do
  case "$arg" in
    --no-deb) deb=0 ;;
    *) echo "usage: $0 [--no-deb]" >&2; exit 2 ;;
  esac
done

install_missing() {
  local need=()
  command -v musl-gcc >/dev/null || need+=(musl-tools)
  command -v file >/dev/null || need+=(file)
  command -v dpkg-deb >/dev/null || need+=(dpkg)
  command -v pip3 >/dev/null || command -v pip >/dev/null || need+=(python3-pip)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  # pip puts console scripts next to the interpreter (pyenv, venv) or in ~/.local/bin.
  local scripts
  scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
  export PATH="$PATH:$scripts:$HOME/.local/bin"
  if ! command -v cargo-zigbuild >/dev/null || ! python3 -m ziglang version >/dev/null 2>&1; then
    echo "installing: ziglang cargo-zigbuild (PyPI)"
    # Debian's system Python refuses plain pip installs (PEP 668); these are build tools only.
    python3 -m pip install -q ziglang cargo-zigbuild 2>/dev/null ||
      python3 -m pip install -q --break-system-packages ziglang cargo-zigbuild
    hash -r
  fi
  local have
  have="$(rustup target list --installed)"
  for t in "$X86" "$ARM"; do
    grep -qx "$t" <<<"$have" || rustup target add "$t"
  done
  if [ "$deb" = 1 ] && ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    echo "installing: cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
  fi
}

# Fails unless `file` calls the binary static and it fits in MAX_BYTES; prints path and size.
check_binary() {
  local bin="$1" arch="$2" desc size
  [ -x "$bin" ] || { echo "FAIL: $bin was not built" >&2; exit 1; }
  desc="$(file -L "$bin")"
  size="$(stat -c %s "$bin")"
  grep -Eq 'statically linked|static-pie linked' <<<"$desc" ||
    { echo "FAIL: not static: $desc" >&2; exit 1; }
  grep -q "$arch" <<<"$desc" || { echo "FAIL: not $arch: $desc" >&2; exit 1; }
  [ "$size" -le "$MAX_BYTES" ] ||
    { echo "FAIL: $bin is $size bytes, more than $MAX_BYTES" >&2; exit 1; }
  printf '%-55s %9d bytes (%s MB)  %s\n' "$bin" "$size" \
    "$(awk "BEGIN{printf \"%.2f\", $size/1e6}")" "${desc#*: }"
}

# A .deb from an already built static binary; fails unless it holds the binary, the unit
# and the example config.
package() {
  local target="$1" out
  out="$(cargo deb --no-build --no-strip --target "$target" --output target/debian/ 2>&1 | tail -n1)"
  [ -f "$out" ] || { echo "FAIL: cargo deb for $target: $out" >&2; exit 1; }
  local contents
  contents="$(dpkg-deb --contents "$out")"
  for f in ./usr/bin/homedrop ./usr/lib/systemd/system/homedrop.service \
    ./etc/homedrop/homedrop.toml; do
    grep -q " $f\$" <<<"$contents" || { echo "FAIL: $out lacks $f" >&2; exit 1; }
  done
  dpkg-deb --info "$out" postinst 2>/dev/null | grep -q "deb-systemd-helper enable homedrop" ||
    { echo "FAIL: $out does not enable the unit on install" >&2; exit 1; }
  printf '%-55s %9d bytes\n' "$out" "$(stat -c %s "$out")"
}

install_missing
# musl-gcc for x86-64; should C code (a vendored OpenSSL) not build against musl's headers,
# zig's cross toolchain, which builds it for aarch64, does.
cargo build --release --locked --target "$X86" || {
  echo "musl-gcc build failed; building $X86 with cargo-zigbuild instead" >&2
  cargo zigbuild --release --locked --target "$X86"
}
cargo zigbuild --release --locked --target "$ARM"

echo
check_binary "target/$X86/release/homedrop" "x86-64"
check_binary "target/$ARM/release/homedrop" "aarch64"
if [ "$deb" = 1 ]; then
  mkdir -p target/debian
  package "$X86"
  package "$ARM"
fi
