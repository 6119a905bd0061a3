#!/bin/sh
# boltd %post: the service user, the data directory and, on first install, a self-signed TLS pair:
# what debian/postinst does, in RPM's terms. $1 is 1 on a first install and 2 or more on an
# upgrade; every step is safe to repeat, so an upgrade only fills in what is missing.
set -e

# The user, from the sysusers.d file this package ships. systemd-sysusers is on every systemd
# distribution (RHEL 8 too); useradd covers systems without it (a container without systemd) and
# a systemd-sysusers that refuses the file.
if ! getent passwd boltd >/dev/null && command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers /usr/lib/sysusers.d/boltd.conf ||
        echo "boltd: systemd-sysusers failed; creating the boltd user with useradd" >&2
fi
if ! getent passwd boltd >/dev/null; then
    if ! getent group boltd >/dev/null; then
        groupadd --system boltd
    fi
    nologin=/usr/sbin/nologin
    [ -x "$nologin" ] || nologin=/sbin/nologin
    useradd --system --gid boltd --home-dir /var/lib/boltd --no-create-home \
        --shell "$nologin" --comment "boltd graph database" boltd
fi

# The unit's StateDirectory= would make it too, but only once the service starts; making it here
# lets `boltd` be run by hand as the boltd user right after installing. Never recursive: what is
# inside is the user's graph.
mkdir -p /var/lib/boltd
chown boltd:boltd /var/lib/boltd
chmod 0750 /var/lib/boltd

# As Memgraph's packages do: a self-signed testing certificate if none is there yet. TLS stays
# off until bolt_cert_file/bolt_key_file are set in /etc/boltd/boltd.toml. The pair is made in a
# staging directory and renamed into place, so a failed generation leaves no /etc/boltd/ssl
# behind (which would stop the next install from trying again).
if [ ! -e /etc/boltd/ssl ]; then
    staging=$(mktemp -d /etc/boltd/.ssl.XXXXXX)
    trap 'rm -rf "$staging"' EXIT
    /usr/bin/boltd cert generate --out "$staging" \
        --cn "$(hostname -f 2>/dev/null || uname -n)" >/dev/null
    chown -R boltd:boltd "$staging"
    chmod 0400 "$staging/cert.pem" "$staging/key.pem"
    chmod 0500 "$staging"
    mv "$staging" /etc/boltd/ssl
    trap - EXIT
fi

# As %systemd_post does: on a first install the distribution's preset decides whether the unit
# is enabled (Fedora, RHEL and SUSE leave services they do not list disabled).
if [ "$1" -eq 1 ]; then
    systemctl --no-reload preset boltd.service >/dev/null 2>&1 || :
fi

exit 0
