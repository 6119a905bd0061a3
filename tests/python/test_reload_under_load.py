"""A reload while four clients run queries continuously: zero failed queries."""

import threading
import time

import mgclient
import neo4j

from conftest import fingerprint_of_pem

PAIRS = [("server2.pem", "server2.key"), ("server.pem", "server.key")]
RELOADS = 20


def test_reloads_under_continuous_queries(boltd_tls):
    stop = threading.Event()
    failures = []
    counts = [0, 0, 0, 0]

    def pymg_worker(i):
        try:
            conn = mgclient.connect(host="127.0.0.1", port=boltd_tls.port, sslmode=mgclient.MG_SSLMODE_REQUIRE)
            conn.autocommit = True
            cur = conn.cursor()
            n = 0
            while not stop.is_set():
                cur.execute("RETURN $n AS n", {"n": n})
                assert cur.fetchall() == [(n,)]
                n += 1
                # Reconnect now and then so new connections race the reloads too.
                if n % 50 == 0:
                    conn.close()
                    conn = mgclient.connect(host="127.0.0.1", port=boltd_tls.port, sslmode=mgclient.MG_SSLMODE_REQUIRE)
                    conn.autocommit = True
                    cur = conn.cursor()
            counts[i] = n
            conn.close()
        except Exception as e:  # noqa: BLE001 - every failure counts
            failures.append(f"pymgclient worker {i}: {e!r}")

    def neo4j_worker(i):
        try:
            with neo4j.GraphDatabase.driver(f"bolt+ssc://localhost:{boltd_tls.port}", auth=None) as driver:
                n = 0
                while not stop.is_set():
                    records, _, _ = driver.execute_query("RETURN $n AS n", n=n)
                    assert records[0]["n"] == n
                    n += 1
                counts[i] = n
        except Exception as e:  # noqa: BLE001
            failures.append(f"neo4j worker {i}: {e!r}")

    threads = [threading.Thread(target=pymg_worker, args=(0,)), threading.Thread(target=pymg_worker, args=(1,)),
               threading.Thread(target=neo4j_worker, args=(2,)), threading.Thread(target=neo4j_worker, args=(3,))]
    for t in threads:
        t.start()

    admin = mgclient.connect(host="127.0.0.1", port=boltd_tls.port, sslmode=mgclient.MG_SSLMODE_REQUIRE)
    admin.autocommit = True
    cur = admin.cursor()
    try:
        for k in range(RELOADS):
            cert, key = PAIRS[k % 2]
            boltd_tls.install(cert, key)
            cur.execute("RELOAD BOLT_SERVER TLS")
            assert boltd_tls.served_fingerprint() == fingerprint_of_pem(cert)
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        admin.close()

    assert failures == []
    assert all(c > 0 for c in counts), counts
