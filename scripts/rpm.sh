#!/usr/bin/env bash
# Builds the RPM: the release binary, a copy of it without debug info (the one the package ships),
# then `cargo generate-rpm`, which packages the files [package.metadata.generate-rpm] in Cargo.toml
# lists. Prints the package's path on the last line. Honours CARGO_TARGET_DIR.
#
# The package needs the glibc and OpenSSL of the machine that builds it (rpm refuses it elsewhere),
# so build it on, or in a container of, the oldest distribution it is meant for.
#
# Usage: scripts/rpm.sh      (needs cargo-generate-rpm: cargo install --locked cargo-generate-rpm)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo generate-rpm --version >/dev/null 2>&1; then
  echo "scripts/rpm.sh needs cargo-generate-rpm: cargo install --locked cargo-generate-rpm" >&2
  exit 1
fi

# Where cargo puts its output: CARGO_TARGET_DIR, a target-dir in .cargo/config, or ./target.
target_dir=$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
if [ -z "$target_dir" ]; then
  echo "scripts/rpm.sh: cargo metadata did not say where the target directory is" >&2
  exit 1
fi

cargo build --release --bin boltd
# The release profile keeps line tables (debug = 1); the package does without them, as cargo deb
# strips its copy. The symbol table stays, so a backtrace still names functions. A copy, so the
# build itself keeps its debug info.
mkdir -p "$target_dir/release/stripped"
strip --strip-debug -o "$target_dir/release/stripped/boltd" "$target_dir/release/boltd"

rm -f "$target_dir"/generate-rpm/boltd-*.rpm
cargo generate-rpm --target-dir "$target_dir" >&2
ls "$target_dir"/generate-rpm/boltd-*.rpm
