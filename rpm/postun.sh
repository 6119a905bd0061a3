#!/bin/sh
# boltd %postun: $1 is 0 after an erase and 1 or more after an upgrade. Nothing here deletes
# anything: the graph in /var/lib/boltd (WAL, snapshots, users) is the user's data, and the pair in
# /etc/boltd/ssl may be a certificate the user put there. rpm itself keeps an edited
# /etc/boltd/boltd.toml (as boltd.toml.rpmsave on erase, untouched on upgrade).

# systemd reads the unit files again, so it forgets the erased unit or sees the upgraded one.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi

if [ "$1" -ge 1 ]; then
    # As %systemd_postun_with_restart does: a running server is restarted on the new binary.
    systemctl try-restart boltd.service >/dev/null 2>&1 || :
else
    echo "boltd: /var/lib/boltd (the graph), /etc/boltd/ssl and the boltd user were kept;" \
        "delete them yourself if they are not needed." >&2
fi

exit 0
