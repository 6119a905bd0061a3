"""Users and privileges with real clients: pymgclient (username/password) and the neo4j driver
(basic auth on Bolt 4.4 and 5.x, and per-session user switching, which is LOGOFF/LOGON on 5.1+)."""

import mgclient
import neo4j
import pytest
from neo4j.exceptions import ClientError

from conftest import Boltd, fingerprint_of_pem, pymg, run

NOT_AUTHORIZED = "You are not authorized to execute this query on database"


def test_pymgclient_open_then_closed_then_reload_privilege(boltd_tls):
    anon = pymg(boltd_tls)
    run(anon, "CREATE USER admin IDENTIFIED BY 'admin-pw'")  # the first user gets every privilege
    anon.close()
    with pytest.raises(mgclient.DatabaseError, match="Authentication failure"):
        pymg(boltd_tls)
    with pytest.raises(mgclient.DatabaseError, match="Authentication failure"):
        pymg(boltd_tls, "admin", "wrong")
    admin = pymg(boltd_tls, "admin", "admin-pw")
    run(admin, "CREATE USER ops IDENTIFIED BY 'ops-pw'")
    ops = pymg(boltd_tls, "ops", "ops-pw")
    boltd_tls.install("server2.pem", "server2.key")
    with pytest.raises(mgclient.DatabaseError, match=NOT_AUTHORIZED):
        run(ops, "RELOAD BOLT_SERVER TLS")
    assert boltd_tls.served_fingerprint() == fingerprint_of_pem("server.pem")
    run(admin, "GRANT RELOAD_TLS TO ops")
    assert run(ops, "RELOAD BOLT_SERVER TLS") == []
    assert boltd_tls.served_fingerprint() == fingerprint_of_pem("server2.pem")
    assert run(admin, "SHOW USERS") == [("admin",), ("ops",)]
    log = boltd_tls.log_text("authentication failed", "user: admin")
    assert "authentication failed" in log and "user: admin" in log
    assert "admin-pw" not in log and "wrong" not in log, "passwords are never logged"


@pytest.mark.parametrize("max_version", ["4.4", "5.4"])
def test_neo4j_basic_auth_and_user_switching(tmp_path, max_version):
    server = Boltd(tmp_path, tls=True, extra=[f"--bolt-max-version={max_version}"])
    try:
        url = f"bolt+ssc://localhost:{server.port}"
        def auto(driver, query, **kw):
            # Auth statements are refused inside transactions, so not execute_query.
            with driver.session(**kw) as s:
                return s.run(query).consume()

        with neo4j.GraphDatabase.driver(url, auth=None) as d:
            with pytest.raises(ClientError, match="multicommand"):
                d.execute_query("CREATE USER admin IDENTIFIED BY 'a'")
            auto(d, "CREATE USER admin IDENTIFIED BY 'a'")
        with neo4j.GraphDatabase.driver(url, auth=("admin", "a")) as d:
            assert d.get_server_info().protocol_version == tuple(int(x) for x in max_version.split("."))
            auto(d, "CREATE USER bob IDENTIFIED BY 'b'")
            auto(d, "CREATE USER eve IDENTIFIED BY 'e'")
            # Memgraph's code is not one the driver maps to AuthError, so it surfaces as a
            # ClientError carrying Memgraph's message, exactly as against Memgraph.
            with pytest.raises(ClientError, match="Authentication failure"):
                with neo4j.GraphDatabase.driver(url, auth=("admin", "nope")) as bad:
                    bad.verify_connectivity()
            with neo4j.GraphDatabase.driver(url, auth=("bob", "b")) as bob:
                with pytest.raises(ClientError, match="not authorized"):
                    with bob.session() as s:
                        s.run("RELOAD BOLT_SERVER TLS").consume()
            auto(d, "GRANT RELOAD_TLS TO bob")
            if max_version == "5.4":
                # Session-level auth: the pooled connection switches user with LOGOFF/LOGON.
                with d.session(auth=("bob", "b")) as s:
                    s.run("RELOAD BOLT_SERVER TLS").consume()
                with d.session(auth=("eve", "e")) as s:
                    with pytest.raises(ClientError, match="not authorized"):
                        s.run("RELOAD BOLT_SERVER TLS").consume()
            else:
                with neo4j.GraphDatabase.driver(url, auth=("bob", "b")) as bob:
                    with bob.session() as s:
                        s.run("RELOAD BOLT_SERVER TLS").consume()
    finally:
        assert server.stop() == 0
