"""pymgclient 1.6.0 (Memgraph's Python client, OpenSSL inside) against boltd over TLS."""

import mgclient
import pytest

from conftest import fingerprint_of_pem

RELOAD = "RELOAD BOLT_SERVER TLS"


def connect(server, **kwargs):
    return mgclient.connect(
        host="127.0.0.1", port=server.port, sslmode=mgclient.MG_SSLMODE_REQUIRE, **kwargs
    )


def test_queries_with_autocommit_off(boltd_tls):
    conn = connect(boltd_tls)
    assert conn.autocommit is False
    cur = conn.cursor()
    cur.execute("RETURN 1 AS x, 'a' + 'b' AS s, [1, 2.5, null] AS l, {k: true} AS m")
    assert cur.fetchall() == [(1, "ab", [1, 2.5, None], {"k": True})]
    assert [d.name for d in cur.description] == ["x", "s", "l", "m"]
    assert conn.status == mgclient.CONN_STATUS_IN_TRANSACTION
    conn.commit()
    assert conn.status == mgclient.CONN_STATUS_READY
    cur.execute("UNWIND [1, 2, 3] AS x RETURN x * $k AS y", {"k": 10})
    assert cur.fetchall() == [(10,), (20,), (30,)]
    conn.rollback()
    conn.close()


def test_queries_with_autocommit_on_and_lazy(boltd_tls):
    conn = connect(boltd_tls, lazy=True)
    cur = conn.cursor()
    cur.execute("UNWIND range(1, 25) AS x RETURN x")
    assert cur.fetchone() == (1,)
    assert cur.fetchmany(4) == [(2,), (3,), (4,), (5,)]
    assert len(cur.fetchall()) == 20
    conn.close()


def test_error_then_recovery(boltd_tls):
    conn = connect(boltd_tls)
    conn.autocommit = True
    cur = conn.cursor()
    with pytest.raises(mgclient.DatabaseError, match="Invalid types|INTEGER"):
        cur.execute("RETURN 1 - 'a'")
    cur.execute("RETURN 2 AS x")
    assert cur.fetchall() == [(2,)]
    conn.close()


def test_reload_with_autocommit_on(boltd_tls):
    conn = connect(boltd_tls)
    conn.autocommit = True
    cur = conn.cursor()
    assert boltd_tls.served_fingerprint() == fingerprint_of_pem("server.pem")
    boltd_tls.install("server2.pem", "server2.key")
    cur.execute(RELOAD)
    assert cur.fetchall() == []
    assert boltd_tls.served_fingerprint() == fingerprint_of_pem("server2.pem")
    # The connection opened before the reload keeps working.
    cur.execute("RETURN 42 AS answer")
    assert cur.fetchall() == [(42,)]
    conn.close()


def test_reload_with_autocommit_off_is_refused_inside_the_implicit_begin(boltd_tls):
    conn = connect(boltd_tls)
    cur = conn.cursor()
    boltd_tls.install("server2.pem", "server2.key")
    with pytest.raises(mgclient.DatabaseError, match="multicommand transactions"):
        cur.execute(RELOAD)
    conn.rollback()
    assert boltd_tls.served_fingerprint() == fingerprint_of_pem("server.pem")
    conn.autocommit = True
    cur.execute(RELOAD)
    assert boltd_tls.served_fingerprint() == fingerprint_of_pem("server2.pem")
    conn.close()


def test_failed_reload_reports_the_file_and_keeps_the_certificate(boltd_tls):
    conn = connect(boltd_tls)
    conn.autocommit = True
    cur = conn.cursor()
    boltd_tls.install("garbage.pem", "server.key")
    with pytest.raises(mgclient.DatabaseError, match="Couldn't load server certificate from file"):
        cur.execute(RELOAD)
    assert boltd_tls.served_fingerprint() == fingerprint_of_pem("server.pem")
    cur.execute("RETURN 1 AS x")
    assert cur.fetchall() == [(1,)]
    conn.close()


def test_trust_callback_sees_the_new_key_after_reload(boltd_tls):
    seen = []

    def trust(hostname, ip_address, key_type, fingerprint):
        seen.append((key_type, fingerprint))
        return True

    connect(boltd_tls, trust_callback=trust).close()
    boltd_tls.install("ec.pem", "ec.key")
    conn = connect(boltd_tls)
    conn.autocommit = True
    conn.cursor().execute(RELOAD)
    conn.close()
    connect(boltd_tls, trust_callback=trust).close()
    assert seen[0][0] == "rsaEncryption"
    assert seen[1][0] == "id-ecPublicKey"
    assert seen[0][1] != seen[1][1]


def test_plaintext_pymgclient_is_refused_by_the_tls_port(boltd_tls):
    with pytest.raises(mgclient.OperationalError):
        mgclient.connect(host="127.0.0.1", port=boltd_tls.port, sslmode=mgclient.MG_SSLMODE_DISABLE)


def test_reload_on_plaintext_server(boltd_plain):
    conn = mgclient.connect(host="127.0.0.1", port=boltd_plain.port)
    conn.autocommit = True
    cur = conn.cursor()
    with pytest.raises(mgclient.DatabaseError, match="key or certificate file aren't set"):
        cur.execute(RELOAD)
    cur.execute("RETURN 1 AS x")
    assert cur.fetchall() == [(1,)]
    conn.close()


def test_generated_certificate_is_served_to_pymgclient(tmp_path):
    """`boltd cert generate` output, served by boltd, used by pymgclient."""
    import subprocess

    from conftest import BOLTD_BIN, Boltd

    out = tmp_path / "gen"
    subprocess.run([BOLTD_BIN, "cert", "generate", "--out", str(out), "--key", "p256", "--days", "30"], check=True)
    server = Boltd(tmp_path, tls=False, extra=[f"--bolt-cert-file={out / 'cert.pem'}", f"--bolt-key-file={out / 'key.pem'}"])
    try:
        seen = []
        conn = mgclient.connect(
            host="127.0.0.1", port=server.port, sslmode=mgclient.MG_SSLMODE_REQUIRE,
            trust_callback=lambda *args: seen.append(args) or True,
        )
        cur = conn.cursor()
        cur.execute("SHOW BOLT_SERVER TLS INFO")
        (row,) = cur.fetchall()
        conn.commit()
        names = [d.name for d in cur.description]
        info = dict(zip(names, row))
        assert info["enabled"] is True
        assert info["key_type"] == "EC P-256"
        assert info["subject"] == "O=boltd, CN=boltd"
        assert info["days_left"] in (29, 30)
        assert seen and seen[0][2] == "id-ecPublicKey"
        conn.close()
    finally:
        assert server.stop() == 0
