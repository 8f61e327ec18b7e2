"""Synthetic probes: signed webhooks to the exporter's own endpoints, HTTP probes, metrics."""

import base64
import time
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from exporter_testkit import NOW, TWILIO_TOKEN, make_app
from prometheus_client import CollectorRegistry

from callwatch.commands.probe import render_table
from exporter.metrics import create_metrics
from exporter.probes import ProbeContext
from exporter.probes.runner import ProbeRunner
from policy.spec_exporter import ProbeTarget


def targets(server):
    url = lambda path: str(server.make_url(path))  # noqa: E731
    return (ProbeTarget("twilio-hook", "twilio_webhook", url("/telephony/webhooks/twilio"),
                        "twilio"),
            ProbeTarget("telnyx-hook", "telnyx_webhook", url("/telephony/webhooks/telnyx"),
                        "telnyx"),
            ProbeTarget("api", "http", url("/healthz"), None),
            ProbeTarget("missing", "http", url("/nope"), None))


@pytest.fixture
async def exporter_server(aiohttp_server, policy, base_env, clock):
    # the probe signs over the URL it calls, so the exporter must validate that same URL
    env = {k: v for k, v in base_env.items() if k != "CALLWATCH_PUBLIC_URL"}
    return await aiohttp_server(make_app(policy, env, clock))


async def run(server, twilio_token, telnyx_key, registry):
    runner = ProbeRunner(targets(server), create_metrics(registry))
    async with aiohttp.ClientSession() as session:
        ctx = ProbeContext(session, 5.0, lambda: NOW, time.monotonic, twilio_token, telnyx_key)
        return {r.target: r for r in await runner.run_round(ctx)}


async def test_signed_probes_reach_the_endpoints_and_are_not_counted_as_calls(
        exporter_server, telnyx_key):
    registry = CollectorRegistry()
    results = await run(exporter_server, TWILIO_TOKEN, telnyx_key, registry)
    assert results["twilio-hook"].success, results["twilio-hook"]
    assert results["telnyx-hook"].success, results["telnyx-hook"]
    assert results["api"].success and results["api"].status == 200
    # a path no route serves, asked without credentials: 401 (callwatch.access), a failure
    assert not results["missing"].success and results["missing"].status == 401
    get = registry.get_sample_value
    assert get("telephony_probe_success", {"target": "twilio-hook"}) == 1
    assert get("telephony_probe_success", {"target": "missing"}) == 0
    assert get("telephony_probe_duration_seconds", {"target": "api"}) > 0
    assert get("telephony_webhook_deliveries_total",
               {"provider": "telnyx", "source": "probe", "outcome": "success"}) == 1
    from callwatch.web import REGISTRY
    app_registry = exporter_server.app[REGISTRY]
    assert app_registry.get_sample_value("telephony_calls_ended_total", {
        "provider": "twilio", "direction": "outbound", "outcome": "completed"}) == 0


async def test_probes_signed_with_the_wrong_secrets_fail_as_a_metric(exporter_server):
    registry = CollectorRegistry()
    results = await run(exporter_server, "wrong-token", Ed25519PrivateKey.generate(), registry)
    assert not results["twilio-hook"].success and results["twilio-hook"].status == 403
    assert not results["telnyx-hook"].success and results["telnyx-hook"].status == 403
    assert registry.get_sample_value("telephony_webhook_deliveries_total", {
        "provider": "twilio", "source": "probe", "outcome": "failure"}) == 1


async def test_probes_without_secrets_fail_saying_which_secret_is_missing(exporter_server):
    results = await run(exporter_server, None, None, CollectorRegistry())
    assert "TWILIO_AUTH_TOKEN" in results["twilio-hook"].detail
    assert "CALLWATCH_PROBE_TELNYX_PRIVATE_KEY" in results["telnyx-hook"].detail


async def test_an_unreachable_target_is_a_failed_probe_not_an_error(unused_tcp_port):
    target = ProbeTarget("down", "http", f"http://127.0.0.1:{unused_tcp_port}/", None)
    async with aiohttp.ClientSession() as session:
        ctx = ProbeContext(session, 2.0, time.time, time.monotonic)
        (result,) = await ProbeRunner((target,), None).run_round(ctx)
    assert not result.success and result.status is None and "Connect" in result.detail


def test_the_result_table_names_every_target():
    from exporter.probes import ProbeResult
    table = render_table([ProbeResult("twilio-hook", "twilio_webhook", True, 0.012, 200, "probe"),
                          ProbeResult("telnyx-hook", "telnyx_webhook", False, 0.5, 403, "bad")])
    lines = table.splitlines()
    assert lines[0].split()[:5] == ["TARGET", "KIND", "SUCCESS", "DURATION", "STATUS"]
    assert "twilio-hook" in lines[1] and "yes" in lines[1] and "12 ms" in lines[1]
    assert "NO" in lines[2] and "403" in lines[2]


def test_the_probe_private_key_file_is_read(tmp_path, telnyx_key):
    from exporter.config import load_config
    raw = telnyx_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                   serialization.NoEncryption())
    path = tmp_path / "key"
    path.write_text(base64.b64encode(raw).decode() + "\n")
    config = load_config({"CALLWATCH_PROBE_TELNYX_PRIVATE_KEY_FILE": str(path)})
    assert config.probe_telnyx_private_key == base64.b64encode(raw).decode()


# --- certificate expiry of https targets ------------------------------------------------------

def _certificate(subject: str, issuer_key, issuer_name, days: float, *, ca: bool, key=None):
    """A certificate for 127.0.0.1 and localhost valid for ``days``, and its key."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer_name or name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256()), key


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def ca_and_leaf(tmp_path):
    """A CA that expires in 3 days and a leaf it signed that expires in 9: the server sends
    both, so the earliest expiry of the chain is the CA's, not the leaf's."""
    ca, ca_key = _certificate("probe test CA", None, None, 3, ca=True)
    leaf, leaf_key = _certificate("127.0.0.1", ca_key, ca.subject, 9, ca=False)
    chain, key, ca_file = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    chain.write_bytes(_pem(leaf) + _pem(ca))
    key.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ca_file.write_bytes(_pem(ca))
    return ca, leaf, str(chain), str(key), str(ca_file)


async def https_round(aiohttp_server, server_context, client_context):
    """Two probe rounds of an https target and a plain http one, through a session trusting
    ``client_context``: the registry, the second round's results, the runner, the https
    server."""
    from aiohttp import web

    from exporter.probes.tls import probe_session

    async def ok(request):
        return web.json_response({"status": "ok"})
    app = web.Application()
    app.router.add_get("/healthz", ok)
    secure = await aiohttp_server(app, ssl=server_context)
    plain = await aiohttp_server(app)
    registry = CollectorRegistry()
    runner = ProbeRunner((ProbeTarget("secure", "http", str(secure.make_url("/healthz")), None),
                          ProbeTarget("plain", "http", str(plain.make_url("/healthz")), None)),
                         create_metrics(registry))
    async with probe_session(ssl=client_context) as session:
        ctx = ProbeContext(session, 5.0, time.time, time.monotonic)
        await runner.run_round(ctx)   # the second round reuses its pooled connections
        results = {r.target: r for r in await runner.run_round(ctx)}
    return registry, results, runner, secure


async def test_an_https_probe_exports_the_earliest_expiry_of_the_chain_the_server_sent(
        aiohttp_server, ca_and_leaf):
    import ssl
    ca, leaf, chain, key, ca_file = ca_and_leaf
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(chain, key)
    registry, results, _, _ = await https_round(aiohttp_server, server,
                                                ssl.create_default_context(cafile=ca_file))
    assert results["secure"].success, results["secure"]
    expiry = registry.get_sample_value("telephony_probe_ssl_earliest_cert_expiry_seconds",
                                       {"target": "secure"})
    assert expiry == ca.not_valid_after_utc.timestamp()
    assert expiry < leaf.not_valid_after_utc.timestamp()


@pytest.fixture
def self_signed(tmp_path):
    """The simulator's throwaway certificate (simulator/tls.py) and its notAfter."""
    from cryptography import x509

    from simulator.tls import make_certificate
    cert = make_certificate(tmp_path, days=5)
    pem = Path(cert.cert_file).read_bytes()
    return cert, x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()


async def test_a_self_signed_target_exports_its_certificate_not_after_and_http_exports_none(
        aiohttp_server, self_signed):
    cert, not_after = self_signed
    registry, results, runner, secure = await https_round(
        aiohttp_server, cert.server_context(), cert.client_context())
    name = "telephony_probe_ssl_earliest_cert_expiry_seconds"
    assert results["secure"].cert_expiry == not_after
    assert registry.get_sample_value(name, {"target": "secure"}) == not_after
    assert results["plain"].success and results["plain"].cert_expiry is None
    assert registry.get_sample_value(name, {"target": "plain"}) is None
    # the server gone, no certificate this round: the series goes rather than reading 0
    await secure.close()
    async with aiohttp.ClientSession() as session:
        await runner.run_round(ProbeContext(session, 2.0, time.time, time.monotonic))
    assert registry.get_sample_value(name, {"target": "secure"}) is None
    assert registry.get_sample_value("telephony_probe_success", {"target": "secure"}) == 0
