#!/usr/bin/env bash
# Scans boltd's TLS configuration with sslyze (from PyPI, in its own venv .venv-scan) and checks:
# no SSL 2/3, TLS 1.0 or 1.1; no weak cipher suites (NULL, anonymous, EXPORT, RC4, DES, 3DES,
# MD5); no compression; secure renegotiation and no client-initiated renegotiation; TLS 1.3
# offered. Runs the default configuration (the system's cipher policy) and the recommended strict
# list. Prints "tls-scan: N passed, N failed".
#
# Usage: scripts/tls-scan.sh [path/to/boltd]     (default: target/debug/boltd)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/boltd}
[ -x "$bin" ] || cargo build --quiet

if [ ! -x .venv-scan/bin/sslyze ]; then
  python3 -m venv .venv-scan
  .venv-scan/bin/pip install -q --disable-pip-version-check "sslyze>=6,<7"
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

scan() { # scan NAME EXTRA_FLAGS...
  local name=$1; shift
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" --bolt-address 127.0.0.1 --bolt-port "$port" --log-level error --data-directory "$work/data-$name" \
    --bolt-cert-file fixtures/ssl/server.pem --bolt-key-file fixtures/ssl/server.key "$@" &
  pids+=($!)
  for _ in $(seq 100); do
    (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    sleep 0.1
  done
  .venv-scan/bin/sslyze "127.0.0.1:$port" --json_out "$work/$name.json" >"$work/$name.txt" 2>&1 || true
}

scan default
scan strict --bolt-tls-ciphers 'ECDHE+AESGCM:ECDHE+CHACHA20'

.venv-scan/bin/python - "$work" <<'PY'
import json, sys, pathlib
work = pathlib.Path(sys.argv[1])
weak = ("NULL", "anon", "EXPORT", "RC4", "DES", "MD5")
passed = failed = 0
def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAILED: {name} {detail}")
for run in ("default", "strict"):
    r = json.loads((work / f"{run}.json").read_text())["server_scan_results"][0]["scan_result"]
    accepted = lambda k: [c["cipher_suite"]["name"] for c in r[k]["result"]["accepted_cipher_suites"]]
    for old in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"):
        check(f"{run}: {old} refused", accepted(f"{old}_cipher_suites") == [], accepted(f"{old}_cipher_suites"))
    suites = accepted("tls_1_2_cipher_suites") + accepted("tls_1_3_cipher_suites")
    bad = [s for s in suites if any(w in s for w in weak)]
    check(f"{run}: no weak cipher suites", bad == [], bad)
    check(f"{run}: TLS 1.3 offered", accepted("tls_1_3_cipher_suites") != [])
    check(f"{run}: no compression", r["tls_compression"]["result"]["supports_compression"] is False)
    reneg = r["session_renegotiation"]["result"]
    check(f"{run}: secure renegotiation", reneg["supports_secure_renegotiation"] is True)
    check(f"{run}: no client renegotiation DoS", reneg["is_vulnerable_to_client_renegotiation_dos"] is False)
    if run == "strict":
        no_fs = [s for s in suites if s.startswith("TLS_RSA_") or "CBC" in s]
        check("strict: forward secrecy and AEAD only", no_fs == [], no_fs)
    print(f"{run}: TLS 1.2 suites: {', '.join(accepted('tls_1_2_cipher_suites'))}")
    print(f"{run}: TLS 1.3 suites: {', '.join(accepted('tls_1_3_cipher_suites'))}")
print(f"tls-scan: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
