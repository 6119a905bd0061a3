#!/bin/sh
# boltd %preun: $1 is 0 when the package is being erased and 1 or more when this is the old
# version going away during an upgrade. On erase the service is stopped and disabled (as
# %systemd_preun does); on upgrade it is left running, and %postun restarts it.

if [ "$1" -eq 0 ]; then
    systemctl --no-reload disable --now boltd.service >/dev/null 2>&1 || :
fi

exit 0
