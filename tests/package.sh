#!/usr/bin/env bash
# Builds the Debian package with `cargo deb` and checks its contents and maintainer scripts with
# dpkg-deb. Installs cargo-deb (from crates.io) when it is missing. Prints "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deb --version >/dev/null 2>&1; then
  echo "==> installing cargo-deb"
  cargo install cargo-deb --locked --quiet
fi

echo "==> cargo deb"
deb=$(cargo deb 2>/dev/null | tail -n 1)
[ -f "$deb" ] || { echo "cargo deb produced no package"; exit 1; }
echo "built $deb"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -c "$deb" >"$work/contents"
dpkg-deb -e "$deb" "$work/control"
dpkg-deb -x "$deb" "$work/root"

passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
  if "${@:2}" >/dev/null 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $1"
  fi
}
fails() { ! "$@"; } # fails COMMAND...: succeeds when COMMAND fails

check "binary at /usr/bin/boltd, executable" test -x "$work/root/usr/bin/boltd"
check "the packaged binary runs" "$work/root/usr/bin/boltd" --version
check "config at /etc/boltd/boltd.toml" test -f "$work/root/etc/boltd/boltd.toml"
check "config is a conffile" grep -qx /etc/boltd/boltd.toml "$work/control/conffiles"
check "systemd unit installed" test -f "$work/root/lib/systemd/system/boltd.service"
check "unit reloads with SIGHUP" grep -q '^ExecReload=/bin/kill -HUP \$MAINPID' "$work/root/lib/systemd/system/boltd.service"
check "unit runs as the boltd user" grep -qx 'User=boltd' "$work/root/lib/systemd/system/boltd.service"
check "unit is hardened" grep -qx 'NoNewPrivileges=yes' "$work/root/lib/systemd/system/boltd.service"
check "postinst exists and is executable" test -x "$work/control/postinst"
check "postinst is valid sh" sh -n "$work/control/postinst"
check "postinst creates the user" grep -q 'adduser --system' "$work/control/postinst"
check "postinst generates a pair when /etc/boltd/ssl is absent" grep -q '\[ ! -e /etc/boltd/ssl \]' "$work/control/postinst"
check "postinst uses boltd cert generate" grep -q '/usr/bin/boltd cert generate --out "$staging"' "$work/control/postinst"
check "postinst makes the pair 0400 and owned by boltd" grep -q 'chmod 0400 "$staging/cert.pem" "$staging/key.pem"' "$work/control/postinst"
check "postinst chowns the pair" grep -q 'chown -R boltd:boltd "$staging"' "$work/control/postinst"
check "postinst renames the staged pair into place" grep -q 'mv "$staging" /etc/boltd/ssl' "$work/control/postinst"
check "postrm is valid sh" sh -n "$work/control/postrm"
check "depends on adduser" grep -q '^Depends:.*adduser' "$work/control/control"
check "unit keeps the graph in /var/lib/boltd" grep -q '^ExecStart=.* --data-directory /var/lib/boltd' "$work/root/lib/systemd/system/boltd.service"
check "unit has /var/lib/boltd as its state directory" grep -qx 'StateDirectory=boltd' "$work/root/lib/systemd/system/boltd.service"

# The graph (WAL, snapshots, users) in /var/lib/boltd is the user's data: no maintainer script may
# delete, move or rewrite it, on upgrade, removal or purge. Only the directory itself may be made
# and owned (mkdir, a non-recursive chown/chmod).
touches_data() { # touches_data SCRIPT: succeeds when SCRIPT could change what is in /var/lib/boltd
  grep -v '^[[:space:]]*#' "$1" | grep -Eq \
    -e '(^|[^[:alnum:]_-])(rm|mv|rmdir|shred|truncate|find|cp|rsync)[[:space:]][^#]*/var/lib/boltd' \
    -e '(^|[^[:alnum:]_-])(chown|chmod|chgrp)[[:space:]]+(-[[:alnum:]]+[[:space:]]+)*-[[:alnum:]]*R[^#]*/var/lib/boltd' \
    -e '/var/lib/boltd/'
}
leaves_data_alone() { ! touches_data "$1"; }
for script in preinst postinst prerm postrm; do
  [ -e "$work/control/$script" ] || continue
  check "$script leaves the data in /var/lib/boltd alone" leaves_data_alone "$work/control/$script"
done
printf 'if [ "$1" = purge ]; then\n    rm -rf /etc/boltd/ssl /var/lib/boltd\nfi\n' >"$work/bad-postrm"
printf 'chown -R boltd:boltd /var/lib/boltd\n' >"$work/bad-postinst"
check "the data check catches a purge that deletes the graph" touches_data "$work/bad-postrm"
check "the data check catches a recursive chown of the graph" touches_data "$work/bad-postinst"

# The cert-generation step of postinst, run for real against a scratch directory.
sed -e "s#/etc/boltd/ssl#$work/ssl#g" -e "s#/usr/bin/boltd#$work/root/usr/bin/boltd#g" \
    -e 's#chown -R boltd:boltd#true#' -e 's#addgroup#true#' -e 's#adduser#true#' \
    -e 's#getent#true#' -e "s#/var/lib/boltd#$work/lib#g" -e 's#chown boltd:boltd#true#' \
    "$work/control/postinst" >"$work/postinst-test"
check "postinst runs" sh "$work/postinst-test" configure
check "postinst wrote a loadable certificate" "$work/root/usr/bin/boltd" cert inspect "$work/ssl/cert.pem"
check "the key is mode 0400" test "$(stat -c %a "$work/ssl/key.pem")" = 400
check "a second configure keeps the pair" sh -c "before=\$(sha256sum '$work/ssl/cert.pem'); sh '$work/postinst-test' configure; [ \"\$before\" = \"\$(sha256sum '$work/ssl/cert.pem')\" ]"
check "no staging directory is left after a generation" test -z "$(find "$work" -maxdepth 1 -name '.ssl.*')"
# A generation that fails leaves neither a pair nor a staging directory, so the next configure
# tries again.
mkdir -p "$work/fail"
sed -e "s#$work/ssl#$work/fail/ssl#g" -e "s#$work/root/usr/bin/boltd#false#" \
    "$work/postinst-test" >"$work/postinst-fail"
check "a failed generation fails the configure" fails sh "$work/postinst-fail" configure
check "a failed generation leaves no pair" test ! -e "$work/fail/ssl"
check "a failed generation leaves no staging directory" test -z "$(find "$work/fail" -name '.ssl.*')"

# Configure and purge, run for real against a scratch data directory holding a graph.
mkdir -p "$work/lib/wal" "$work/lib/snapshots"
echo wal >"$work/lib/wal/wal-00000000000000000001-1.log"
echo snap >"$work/lib/snapshots/snapshot-00000000000000000001-1.snap"
data_digest() { (cd "$work/lib" && find . -type f -exec sha256sum {} + | sort); }
data_digest >"$work/lib.before"
sed -e "s#/etc/boltd/ssl#$work/ssl#g" -e "s#/var/lib/boltd#$work/lib#g" "$work/control/postrm" >"$work/postrm-test"
configure_keeps_data() { sh "$work/postinst-test" configure && data_digest | cmp -s - "$work/lib.before"; }
purge_keeps_data() { sh "$work/postrm-test" purge 2>/dev/null && data_digest | cmp -s - "$work/lib.before"; }
check "configure keeps the data" configure_keeps_data
check "purge keeps the data" purge_keeps_data
check "purge removes the generated pair" test ! -e "$work/ssl"

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
