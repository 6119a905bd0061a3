#!/usr/bin/env bash
# Builds the RPM with scripts/rpm.sh (`cargo generate-rpm`) and checks it with rpm: metadata, file
# list, config files, scriptlets, requires and provides. Then installs it into a scratch root
# without running its scriptlets (file modes and owners, rpm -V), applies its sysusers.d file to
# that root, and runs each scriptlet against scratch paths with stubs for the commands that change
# the system (as an unprivileged user when started as root: no scriptlet runs as root here).
#
# Needs the rpm command (Debian: apt-get install rpm); installs cargo-generate-rpm (from crates.io)
# when it is missing. Honours CARGO_TARGET_DIR. Prints "rpm: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v rpm >/dev/null; then
  echo "tests/rpm.sh needs the rpm command: apt-get install rpm (Debian) or dnf install rpm"
  exit 1
fi
if ! cargo generate-rpm --version >/dev/null 2>&1; then
  echo "==> installing cargo-generate-rpm"
  cargo install cargo-generate-rpm --locked --quiet
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
echo "==> scripts/rpm.sh"
pkg=$(scripts/rpm.sh | tail -n 1)
[ -f "$pkg" ] || { echo "scripts/rpm.sh produced no package"; exit 1; }
echo "built $pkg"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { rpm -qp "$@" "$pkg" 2>/dev/null; } # q RPM-QUERY-OPTIONS...: query the built package

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
same() { [ "$1" = "$2" ]; }        # same ACTUAL EXPECTED
has_line() { grep -qxF -- "$2" <<<"$1"; } # has_line TEXT LINE
fails() { ! "$@"; }                # fails COMMAND...: succeeds when COMMAND fails

# --- Metadata, files, config files -------------------------------------------------------------
check "rpm -qip reads the package" q -i
check "name is boltd" same "$(q --qf '%{NAME}')" boltd
check "version is Cargo.toml's" same "$(q --qf '%{VERSION}')" "$version"
check "built for this machine's architecture" same "$(q --qf '%{ARCH}')" "$(uname -m)"
check "has a summary" test -n "$(q --qf '%{SUMMARY}')"
check "has a license tag" same "$(q --qf '%{LICENSE}')" NOASSERTION

cat >"$work/files.expected" <<'EOF'
/etc/boltd/boltd.toml
/usr/bin/boltd
/usr/lib/systemd/system/boltd.service
/usr/lib/sysusers.d/boltd.conf
/usr/share/doc/boltd/CHANGELOG.md
/usr/share/doc/boltd/README.md
EOF
q -l | sort >"$work/files"
check "rpm -qlp lists exactly the deb's files, in RPM places, and the sysusers.d entry" \
  cmp -s "$work/files" "$work/files.expected"
check "the only config file is /etc/boltd/boltd.toml" same "$(q --configfiles)" /etc/boltd/boltd.toml
check "the config is %config(noreplace)" same \
  "$(q --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' | sed -n 's#^/etc/boltd/boltd.toml ##p')" cn
check "README and CHANGELOG are %doc" same "$(q --docfiles | sort | tr '\n' ' ')" \
  "/usr/share/doc/boltd/CHANGELOG.md /usr/share/doc/boltd/README.md "
q --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' >"$work/modes"
check "header: binary is 0755 root:root" has_line "$(cat "$work/modes")" "-rwxr-xr-x root:root /usr/bin/boltd"
check "header: config is 0644 root:root" has_line "$(cat "$work/modes")" "-rw-r--r-- root:root /etc/boltd/boltd.toml"
check "header: unit is 0644 root:root" has_line "$(cat "$work/modes")" "-rw-r--r-- root:root /usr/lib/systemd/system/boltd.service"
check "header: sysusers.d entry is 0644 root:root" has_line "$(cat "$work/modes")" "-rw-r--r-- root:root /usr/lib/sysusers.d/boltd.conf"
check "no file in the payload belongs to boltd (the user exists only after %post)" \
  fails grep -q ' boltd:\|:boltd ' "$work/modes"

# --- Scriptlets: exactly the files in rpm/, run by /bin/sh, valid sh --------------------------
for tag in POSTIN PREUN POSTUN; do
  case $tag in POSTIN) file=rpm/post.sh ;; PREUN) file=rpm/preun.sh ;; POSTUN) file=rpm/postun.sh ;; esac
  q --qf "%{$tag}" >"$work/$tag"
  check "%$tag is $file" cmp -s "$work/$tag" "$file"
  check "%$tag runs under /bin/sh" same "$(q --qf "%{${tag}PROG}")" /bin/sh
  check "%$tag is valid sh" sh -n "$work/$tag"
done
check "rpm -qp --scripts shows the three scriptlets" same \
  "$(q --scripts | grep -c -E '^(postinstall|preuninstall|postuninstall) scriptlet \(using /bin/sh\):$')" 3
check "no %pre scriptlet" same "$(q --qf '%{PREIN}')" "(none)"

# --- Requires and provides ----------------------------------------------------------------------
q -R | sed 's/ *$//' >"$work/requires"
check "requires /bin/sh (the scriptlets)" grep -qx '/bin/sh' "$work/requires"
check "requires the system OpenSSL (libssl)" grep -q '^libssl\.so\.[0-9]*()(64bit)$' "$work/requires"
check "requires the system OpenSSL (libcrypto)" grep -q '^libcrypto\.so\.[0-9]*()(64bit)$' "$work/requires"
check "requires glibc" grep -q '^libc\.so\.6()(64bit)$' "$work/requires"
# Anything else (a Debian package name, a path on this machine) would make it uninstallable.
check "requires nothing but /bin/sh, its config, rpmlib features and shared libraries" fails grep -vE \
  -e '^(/bin/sh|config\(boltd\) = .*|rpmlib\([A-Za-z]+\) <= [0-9.-]+|rtld\(GNU_HASH\))$' \
  -e '^(lib|ld-)[A-Za-z0-9_+.-]*\.so(\.[0-9]+)*\([A-Za-z0-9_.]*\)\(64bit\)$' "$work/requires"
glibc=$(grep -o 'GLIBC_[0-9.]*' "$work/requires" | sed 's/GLIBC_//' | sort -V | tail -n 1)
echo "note: the package installs where glibc >= $glibc and $(grep -o '^libssl\.so\.[0-9]*' "$work/requires" | head -n 1) are"
q -P | sed 's/ *$//' >"$work/provides"
check "provides boltd = version-release" grep -qx "boltd = $version-$(q --qf '%{RELEASE}')" "$work/provides"
check "provides no shared library" fails grep -q '\.so' "$work/provides"
# rpm 4.19 and later (Fedora 39, RHEL 10) create the user from these before the files go in.
sysusers_line=$(grep -v '^#' rpm/boltd.sysusers.conf | tr -s ' ')
check "provides user(boltd), carrying the sysusers.d line" same \
  "$(sed -n 's/^user(boltd) = //p' "$work/provides" | base64 -d 2>/dev/null | tr -d '\0')" "$sysusers_line"
check "provides group(boltd)" grep -qx 'group(boltd)' "$work/provides"

# --- Payload, installed into a scratch root without scriptlets ----------------------------------
root="$work/root"
# rpm --root sets owners, so it runs as root; unprivileged, as root of a new user namespace.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else unshare --map-root-user "$@"; fi; }
in_root() { as_root rpm --root "$root" --dbpath /var/lib/rpm "$@"; } # rpm on the scratch root
check "rpm --root installs it (no deps, no scriptlets)" in_root --nodeps --noscripts -i "$pkg"
check "rpm --root -V finds the files as packaged" in_root -V --nodeps boltd
check "rpm --root -qc lists the config" same "$(in_root -qc boltd 2>/dev/null)" /etc/boltd/boltd.toml
stat_line() { as_root stat -c '%a %U:%G' "$root$1"; } # as rpm left it, seen from the namespace
check "installed binary is 0755 root:root" same "$(stat_line /usr/bin/boltd)" "755 root:root"
check "installed config is 0644 root:root" same "$(stat_line /etc/boltd/boltd.toml)" "644 root:root"
check "installed unit is 0644 root:root" same "$(stat_line /usr/lib/systemd/system/boltd.service)" "644 root:root"
check "installed sysusers.d entry is 0644 root:root" same "$(stat_line /usr/lib/sysusers.d/boltd.conf)" "644 root:root"
check "the packaged binary runs" same "$("$root/usr/bin/boltd" --version)" "boltd $version"
has_section() { readelf -S "$root/usr/bin/boltd" | grep -qF " $1 "; } # has_section NAME: in the binary
check "the packaged binary has no debug info" fails has_section .debug_info
check "the packaged binary keeps its symbol table" has_section .symtab
check "the config is conf/boltd.toml" cmp -s "$root/etc/boltd/boltd.toml" conf/boltd.toml
unit="$root/usr/lib/systemd/system/boltd.service"
check "unit reloads with SIGHUP" grep -q '^ExecReload=/bin/kill -HUP \$MAINPID' "$unit"
check "unit runs as the boltd user" grep -qx 'User=boltd' "$unit"
check "unit is hardened" grep -qx 'NoNewPrivileges=yes' "$unit"
check "unit keeps the graph in /var/lib/boltd" grep -q '^ExecStart=/usr/bin/boltd .* --data-directory /var/lib/boltd' "$unit"
check "unit has /var/lib/boltd as its state directory" grep -qx 'StateDirectory=boltd' "$unit"

# The sysusers.d entry, applied by the real systemd-sysusers to the scratch root.
if command -v systemd-sysusers >/dev/null; then
  mkdir -p "$root/etc"
  check "systemd-sysusers accepts the entry" \
    as_root systemd-sysusers --root="$root" "$root/usr/lib/sysusers.d/boltd.conf"
  user=$(grep '^boltd:' "$root/etc/passwd" 2>/dev/null || true)
  IFS=: read -r _ _ uid gid gecos home shell <<<"$user"
  check "it made the boltd user" test -n "$user"
  check "a system user (uid below 1000)" test "${uid:-1000}" -lt 1000
  check "with its own boltd group" grep -q "^boltd:x:$gid:" "$root/etc/group"
  check "home is the data directory" same "$home" /var/lib/boltd
  check "no login shell" same "${shell##*/}" nologin
  check "named like the deb's user" same "$gecos" "boltd graph database"
else
  failed=$((failed + 1))
  echo "FAILED: systemd-sysusers is needed to check the sysusers.d entry (Debian: systemd or systemd-standalone-sysusers)"
fi

# --- Scriptlets run for real, against scratch paths ----------------------------------------------
# Every system path is moved under $s; the commands that change users, owners and units are stubs
# that log their arguments to $s/calls (chown would fail unprivileged, and must not run here).
s="$work/s"
mkdir -p "$s/stubs" "$s/state" "$s/etc/boltd" "$s/var/lib" "$s/run"
cp "$root/etc/boltd/boltd.toml" "$s/etc/boltd/"
for cmd in chown groupadd systemctl; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$cmd" "$s" >"$s/stubs/$cmd"
done
# getent knows boltd once a stub made it; systemd-sysusers fails when $s/state/sysusers-fails exists.
cat >"$s/stubs/getent" <<EOF
#!/bin/sh
test -e "$s/state/\$1-\$2"
EOF
cat >"$s/stubs/systemd-sysusers" <<EOF
#!/bin/sh
echo "systemd-sysusers \$*" >>"$s/calls"
test ! -e "$s/state/sysusers-fails" || exit 1
touch "$s/state/passwd-boltd" "$s/state/group-boltd"
EOF
cat >"$s/stubs/useradd" <<EOF
#!/bin/sh
echo "useradd \$*" >>"$s/calls"
touch "$s/state/passwd-boltd"
EOF
printf '#!/bin/sh\necho "cannot generate" >&2\nexit 1\n' >"$s/stubs/failing-boltd"
chmod 0755 "$s"/stubs/*
for tag in POSTIN PREUN POSTUN; do
  sed -e "s#/etc/boltd#$s/etc/boltd#g" -e "s#/var/lib/boltd#$s/var/lib/boltd#g" \
    -e "s#/run/systemd/system#$s/run/systemd/system#g" -e "s#/usr/bin/boltd#$root/usr/bin/boltd#g" \
    "$work/$tag" >"$s/$tag"
done
sed -e "s#$root/usr/bin/boltd#$s/stubs/failing-boltd#" "$s/POSTIN" >"$s/POSTIN-failing"
: >"$s/calls"
chmod 0755 "$work" "$root"
[ "$(id -u)" -ne 0 ] || chown -R 65534:65534 "$s"
run() { # run SCRIPT ARG: the scriptlet as rpm would run it, unprivileged, with the stubs first in PATH
  cat "$s/calls" >>"$work/all-calls"
  : >"$s/calls"
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=65534 --regid=65534 --clear-groups env PATH="$s/stubs:$PATH" sh "$s/$1" "$2" 2>"$s/stderr"
  else
    env PATH="$s/stubs:$PATH" sh "$s/$1" "$2" 2>"$s/stderr"
  fi
}
called() { grep -qxF -- "$1" "$s/calls"; }     # called LINE: a stub was called with exactly that
not_called() { ! grep -q -- "$1" "$s/calls"; } # not_called PATTERN
ssl="$s/etc/boltd/ssl"

# A failed generation leaves nothing behind, so the next install tries again.
check "%post fails when the pair cannot be made" fails run POSTIN-failing 1
check "a failed generation leaves no /etc/boltd/ssl" test ! -e "$ssl"
staging_left() { compgen -G "$s/etc/boltd/.ssl.*" >/dev/null; }
check "a failed generation leaves no staging directory" fails staging_left
rm -f "$s/state/passwd-boltd" "$s/state/group-boltd"

# First install: the user through systemd-sysusers, the data directory, the pair, the preset.
check "%post 1 runs" run POSTIN 1
check "%post 1 applies the packaged sysusers.d file" called "systemd-sysusers /usr/lib/sysusers.d/boltd.conf"
check "the file %post applies is the one the package ships" grep -qx /usr/lib/sysusers.d/boltd.conf "$work/files"
check "%post 1 needs no useradd when systemd-sysusers works" not_called '^useradd'
check "%post 1 gives the data directory to boltd" called "chown boltd:boltd $s/var/lib/boltd"
check "%post 1 makes the data directory 0750" same "$(stat -c %a "$s/var/lib/boltd")" 750
check "%post 1 wrote a loadable certificate" "$root/usr/bin/boltd" cert inspect "$ssl/cert.pem"
check "%post 1 wrote a key" grep -q 'PRIVATE KEY' "$ssl/key.pem"
check "the key is 0400" same "$(stat -c %a "$ssl/key.pem")" 400
check "the certificate is 0400" same "$(stat -c %a "$ssl/cert.pem")" 400
check "the ssl directory is 0500" same "$(stat -c %a "$ssl")" 500
check "the pair is given to boltd" grep -q "^chown -R boltd:boltd $s/etc/boltd/\.ssl\." "$s/calls"
check "no staging directory is left" fails staging_left
check "%post 1 applies the systemd preset" called "systemctl --no-reload preset boltd.service"

# Upgrade: the pair and the graph stay as they are; no preset (the admin's choice stands).
mkdir -p "$s/var/lib/boltd/wal" "$s/var/lib/boltd/snapshots"
echo wal >"$s/var/lib/boltd/wal/wal-00000000000000000001-1.log"
echo snap >"$s/var/lib/boltd/snapshots/snapshot-00000000000000000001-1.snap"
[ "$(id -u)" -ne 0 ] || chown -R 65534:65534 "$s/var/lib/boltd"
data_digest() { (cd "$s/var/lib/boltd" && find . -exec stat -c '%a %n' {} + && find . -type f -exec sha256sum {} +) | sort; }
data_digest >"$work/data.before"
keeps_data() { data_digest | cmp -s - "$work/data.before"; }
pair_digest() { cat "$ssl/cert.pem" "$ssl/key.pem" 2>/dev/null | sha256sum; }
pair_before=$(pair_digest || echo "no pair before")
check "%post 2 runs" run POSTIN 2
check "%post 2 keeps the pair" same "$(pair_digest || echo "no pair after")" "$pair_before"
check "%post 2 keeps the data" keeps_data
check "%post 2 does not apply the preset again" not_called preset
check "%post 2 leaves an existing user alone" not_called '^systemd-sysusers\|^useradd'

# No working systemd-sysusers: useradd makes the same user.
rm -f "$s/state/passwd-boltd" "$s/state/group-boltd"
touch "$s/state/sysusers-fails"
check "%post falls back when systemd-sysusers fails" run POSTIN 2
check "it says it falls back" grep -q 'useradd' "$s/stderr"
check "it makes the boltd group" called "groupadd --system boltd"
check "it makes a system user in that group, home the data directory, no login" grep -qE \
  "^useradd --system --gid boltd --home-dir $s/var/lib/boltd --no-create-home --shell (/usr)?/sbin/nologin --comment boltd graph database boltd$" "$s/calls"
check "the fallback keeps the data" keeps_data

# Erase and upgrade of the old version, with systemd running.
mkdir -p "$s/run/systemd/system"
check "%preun 0 (erase) runs" run PREUN 0
check "%preun 0 stops and disables the service" called "systemctl --no-reload disable --now boltd.service"
check "%preun 1 (upgrade) runs" run PREUN 1
check "%preun 1 leaves the service alone" not_called systemctl
check "%postun 1 (upgrade) runs" run POSTUN 1
check "%postun 1 reloads systemd" called "systemctl daemon-reload"
check "%postun 1 restarts a running server" called "systemctl try-restart boltd.service"
check "%postun 0 (erase) runs" run POSTUN 0
check "%postun 0 reloads systemd" called "systemctl daemon-reload"
check "%postun 0 restarts nothing" not_called try-restart
check "%postun 0 says what it kept" grep -q '/var/lib/boltd' "$s/stderr"
check "erase keeps the data" keeps_data
cat "$s/calls" >>"$work/all-calls"
check "no scriptlet changes owners inside /var/lib/boltd" fails grep -q "^chown.* -R.*$s/var/lib/boltd" "$work/all-calls"
check "erase keeps the pair" same "$(pair_digest || echo "no pair after")" "$pair_before"

echo "rpm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
