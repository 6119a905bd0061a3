"""--bolt-client-auth=require with real clients: pymgclient (sslcert/sslkey) and the neo4j driver
(client_certificate)."""

import mgclient
import neo4j
import pytest
from neo4j.exceptions import ServiceUnavailable

from conftest import FIXTURES


def pymg(server, name=None):
    kwargs = {}
    if name:
        kwargs = {"sslcert": str(FIXTURES / f"{name}.pem"), "sslkey": str(FIXTURES / f"{name}.key")}
    conn = mgclient.connect(host="127.0.0.1", port=server.port, sslmode=mgclient.MG_SSLMODE_REQUIRE, **kwargs)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("RETURN 1 AS x")
    rows = cur.fetchall()
    conn.close()
    return rows


def test_pymgclient_with_a_valid_client_certificate(boltd_mtls):
    assert pymg(boltd_mtls, "client") == [(1,)]
    subject = "client_subject: O=boltd tests, CN=boltd test client"
    assert subject in boltd_mtls.log_text(subject)


def test_pymgclient_without_or_with_a_foreign_certificate_is_refused(boltd_mtls):
    for name in (None, "other-client"):
        with pytest.raises((mgclient.OperationalError, mgclient.DatabaseError)):
            pymg(boltd_mtls, name)


def test_neo4j_driver_with_client_certificate(boltd_mtls):
    cert = neo4j.auth_management.ClientCertificate(
        certfile=str(FIXTURES / "client.pem"), keyfile=str(FIXTURES / "client.key")
    )
    trust = neo4j.TrustCustomCAs(str(FIXTURES / "ca.pem"))
    url = f"bolt://localhost:{boltd_mtls.port}"
    with neo4j.GraphDatabase.driver(
        url, auth=None, encrypted=True, trusted_certificates=trust, client_certificate=cert
    ) as driver:
        records, _, _ = driver.execute_query("RETURN 'mutual' AS s")
        assert records[0]["s"] == "mutual"
    with neo4j.GraphDatabase.driver(url, auth=None, encrypted=True, trusted_certificates=trust) as driver:
        with pytest.raises(ServiceUnavailable):
            driver.verify_connectivity()
