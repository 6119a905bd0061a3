#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests, then the real-client tests (pymgclient, the
# neo4j driver, GQLAlchemy, and the neo4j JavaScript driver in headless Chromium over WebSocket)
# against the built server. Installs what it needs on a fresh Debian machine: the OpenSSL headers
# and pkg-config (for the openssl crate), the openssl command, chromium and npm, a Python venv in
# .venv with the pinned clients, .venv-gqlalchemy for GQLAlchemy (which pins an older neo4j
# driver), and the pinned JavaScript driver in tests/browser/node_modules (npm ci).
#
# Then scans the TLS configuration with sslyze (its own venv, .venv-scan); runs the Rust tests, the
# client tests and the scan again on the `vendored-openssl` build (OpenSSL 3.5, built from source
# with perl and make); and builds and checks the Debian package (installing cargo-deb when
# missing) and the RPM (with the rpm command, and systemd-sysusers to try its sysusers.d entry;
# installing cargo-generate-rpm when missing).
#
# Usage: scripts/test.sh            (from anywhere; works on a clean clone)
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
# perl and make build OpenSSL from source for the vendored-openssl build.
for pkg in pkg-config libssl-dev openssl python3-venv rpm perl make; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
# systemd has systemd-sysusers; a machine (a container) without systemd gets the standalone one.
command -v systemd-sysusers >/dev/null 2>&1 || need_pkgs+=(systemd-standalone-sysusers)
# The browser test (tests/python/test_browser.py): headless Chromium, and npm for the neo4j
# driver's browser bundle.
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
# A python3 from outside Debian (pyenv) brings its own venv module.
if python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need_pkgs=("${need_pkgs[@]/python3-venv}")
fi
missing=()
for p in "${need_pkgs[@]}"; do [ -n "$p" ] && missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

echo "==> Rust tests"
cargo test --all-targets 2>&1

echo "==> Python venv with the real clients"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt

echo "==> the neo4j JavaScript driver for the browser test (npm ci, when not yet installed)"
if [ ! -f tests/browser/node_modules/.package-lock.json ] \
  || [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
  (cd tests/browser && npm ci --no-audit --no-fund)
fi

echo "==> real-client tests"
# cargo test built target/debug/boltd; the client tests run that binary as a real process.
BOLTD_BIN="$PWD/target/debug/boltd" .venv/bin/python -m pytest -q tests/python \
  --ignore=tests/python/test_gqlalchemy.py

echo "==> TCK runner unit tests (no server, no feature files needed)"
.venv/bin/python -m pytest -q bench/test_tck.py

echo "==> GQLAlchemy tests (own venv: it needs the neo4j 5 driver)"
if [ ! -x .venv-gqlalchemy/bin/python ]; then
  python3 -m venv .venv-gqlalchemy
fi
.venv-gqlalchemy/bin/pip install -q --disable-pip-version-check -r tests/python/requirements-gqlalchemy.txt
BOLTD_BIN="$PWD/target/debug/boltd" .venv-gqlalchemy/bin/python -m pytest -q tests/python/test_gqlalchemy.py

echo "==> TLS configuration scan (sslyze)"
scripts/tls-scan.sh target/debug/boltd

echo "==> the vendored-openssl build (OpenSSL 3.5 built in, as on Debian 13): Rust tests, real clients, TLS scan"
# The same tests against the newer library, whose record layer and failure paths differ from the
# system's 3.0. Its own target directory, so that neither build invalidates the other.
cargo test --all-targets --features vendored-openssl --target-dir target/vendored-openssl 2>&1
BOLTD_BIN="$PWD/target/vendored-openssl/debug/boltd" .venv/bin/python -m pytest -q tests/python \
  --ignore=tests/python/test_gqlalchemy.py
scripts/tls-scan.sh target/vendored-openssl/debug/boltd

echo "==> Debian package"
tests/package.sh

echo "==> RPM package"
# Reuses the release build cargo deb just made; installs cargo-generate-rpm the first time.
tests/rpm.sh
