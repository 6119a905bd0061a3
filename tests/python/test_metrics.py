"""The Prometheus endpoint: HTTPS with the Bolt certificate, parsed with the reference parser."""

import hashlib
import ssl
import urllib.request

import mgclient
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from conftest import fingerprint_of_pem


def scrape(server):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    url = f"https://127.0.0.1:{server.metrics_port}/metrics"
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        assert resp.status == 200
        der = resp.fp.raw._sock.getpeercert(binary_form=True)
        body = resp.read().decode()
    samples = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    fp = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    return samples, fp


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_metrics_over_https_count_connections_queries_and_reloads(boltd_metrics):
    before, fp = scrape(boltd_metrics)
    assert fp == fingerprint_of_pem("server.pem"), "metrics are served with the Bolt certificate"
    assert value(before, "boltd_tls_certificate_generation") == 1

    conn = mgclient.connect(host="127.0.0.1", port=boltd_metrics.port, sslmode=mgclient.MG_SSLMODE_REQUIRE)
    conn.autocommit = True
    cur = conn.cursor()
    for i in range(3):
        cur.execute("RETURN $i AS i", {"i": i})
        cur.fetchall()
    try:
        cur.execute("RETURN 1 +")
    except mgclient.DatabaseError:
        pass
    boltd_metrics.install("ec.pem", "ec.key")
    cur.execute("RELOAD BOLT_SERVER TLS")
    conn.close()

    after, fp = scrape(boltd_metrics)
    assert fp == fingerprint_of_pem("ec.pem"), "a reload rotates the metrics certificate too"
    assert value(after, "boltd_connections_total") >= 1
    assert value(after, "boltd_tls_handshakes_total", result="ok") >= 1
    assert value(after, "boltd_tls_handshake_duration_seconds_count") >= 1
    assert value(after, "boltd_queries_total", type="read", result="success") == 3
    assert value(after, "boltd_queries_total", type="unknown", result="failure") == 1
    assert value(after, "boltd_queries_total", type="admin", result="success") == 1
    assert value(after, "boltd_query_duration_seconds_count") >= 5
    assert value(after, "boltd_tls_reloads_total", trigger="query", result="success") == 1
    assert value(after, "boltd_tls_certificate_generation") == 2
    not_after = value(after, "boltd_tls_certificate_not_after_timestamp_seconds")
    cert = ssl._ssl._test_decode_cert(str(boltd_metrics.cert_path))
    assert abs(not_after - ssl.cert_time_to_seconds(cert["notAfter"])) < 2
