"""The official neo4j Python driver 6.x against boltd over TLS."""

import warnings

import neo4j
import pytest
from neo4j.exceptions import ClientError, ServiceUnavailable

from conftest import FIXTURES, fingerprint_of_pem

RELOAD = "RELOAD BOLT_SERVER TLS"


def test_version_is_6():
    assert neo4j.__version__.startswith("6."), neo4j.__version__


def test_bolt_ssc_queries_and_reload(boltd_tls):
    with neo4j.GraphDatabase.driver(f"bolt+ssc://localhost:{boltd_tls.port}", auth=None) as driver:
        records, summary, keys = driver.execute_query("RETURN 1 AS x, $p AS p", p="param")
        assert keys == ["x", "p"]
        assert [r.values() for r in records] == [[1, "param"]]

        boltd_tls.install("server2.pem", "server2.key")
        with driver.session() as session:
            result = session.run(RELOAD)
            assert result.keys() == []
            assert list(result) == []
            summary = result.consume()
            # On Bolt 5.4 only the legacy notification carries Memgraph's code; the GQL status
            # objects the driver derives from it do not, so read the (deprecated) legacy view.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                codes = [n.code for n in summary.summary_notifications]
            assert "ReloadSSL" in codes
        assert boltd_tls.served_fingerprint() == fingerprint_of_pem("server2.pem")
        records, _, _ = driver.execute_query("UNWIND range(1, 3) AS x RETURN x")
        assert [r["x"] for r in records] == [1, 2, 3]


def test_reload_in_managed_transaction_is_refused(boltd_tls):
    with neo4j.GraphDatabase.driver(f"bolt+ssc://localhost:{boltd_tls.port}", auth=None) as driver:
        boltd_tls.install("server2.pem", "server2.key")
        # execute_query wraps the statement in BEGIN ... COMMIT.
        with pytest.raises(ClientError, match="multicommand transactions"):
            driver.execute_query(RELOAD)
        assert boltd_tls.served_fingerprint() == fingerprint_of_pem("server.pem")
        with driver.session() as session:
            tx = session.begin_transaction()
            with pytest.raises(ClientError, match="multicommand transactions"):
                tx.run(RELOAD).consume()
            tx.close()  # rolls back the failed transaction
        assert boltd_tls.served_fingerprint() == fingerprint_of_pem("server.pem")


def test_ca_signed_certificate_trusted_via_custom_ca(boltd_tls):
    trust = neo4j.TrustCustomCAs(str(FIXTURES / "ca.pem"))
    url = f"bolt://localhost:{boltd_tls.port}"
    with neo4j.GraphDatabase.driver(url, auth=("", ""), encrypted=True, trusted_certificates=trust) as driver:
        driver.verify_connectivity()
        records, _, _ = driver.execute_query("RETURN 'verified' AS s")
        assert records[0]["s"] == "verified"
        boltd_tls.install("server2.pem", "server2.key")
        with driver.session() as session:
            session.run(RELOAD).consume()
    # A fresh driver verifies the rotated certificate against the same CA.
    with neo4j.GraphDatabase.driver(url, auth=None, encrypted=True, trusted_certificates=trust) as driver:
        records, _, _ = driver.execute_query("RETURN 2 AS n")
        assert records[0]["n"] == 2
    assert boltd_tls.served_fingerprint() == fingerprint_of_pem("server2.pem")


def test_untrusted_self_signed_certificate_is_rejected_by_a_verifying_client(boltd_tls):
    boltd_tls.install("ec.pem", "ec.key")
    with neo4j.GraphDatabase.driver(f"bolt+ssc://localhost:{boltd_tls.port}", auth=None) as driver:
        with driver.session() as session:
            session.run(RELOAD).consume()
    trust = neo4j.TrustCustomCAs(str(FIXTURES / "ca.pem"))
    with neo4j.GraphDatabase.driver(
        f"bolt://localhost:{boltd_tls.port}", auth=None, encrypted=True, trusted_certificates=trust
    ) as driver:
        with pytest.raises(ServiceUnavailable):
            driver.verify_connectivity()


def test_plain_bolt_url_against_tls_port_fails(boltd_tls):
    with neo4j.GraphDatabase.driver(
        f"bolt://localhost:{boltd_tls.port}", auth=None, connection_timeout=5
    ) as driver:
        with pytest.raises(ServiceUnavailable):
            driver.verify_connectivity()
