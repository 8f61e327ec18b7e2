"""The web shell every component mounts on: health, metrics and JSON errors."""

from __future__ import annotations

import gzip
import platform
from importlib import metadata

from prometheus_client import Counter, Histogram
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from callwatch.access import configure_access
from callwatch.web import READINESS, REGISTRY, ApiError, Check, create_app

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


async def _boom(request):
    raise RuntimeError("secret-ish internal detail")


async def _conflict(request):
    raise ApiError(409, "conflict", "incident 7 is already acknowledged")


TOKEN = "web-shell-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}   # /boom, /conflict and unknown paths ask for it


def _app(policy):
    app = create_app(policy, max_body=64)
    configure_access(app, {"CALLWATCH_RECEIVER_TOKEN": TOKEN})
    app.router.add_get("/boom", _boom)
    app.router.add_post("/conflict", _conflict)
    return app


async def test_healthz_and_metrics_answer(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app(policy))
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    metrics = await client.get("/metrics")
    assert metrics.status == 200
    assert metrics.headers["Content-Type"].startswith("text/plain")


async def test_readyz_reports_each_check_and_fails_when_one_fails(aiohttp_client, policy) -> None:
    app = _app(policy)

    async def store_ok() -> Check:
        return Check("store", True)

    async def prometheus_down() -> Check:
        return Check("prometheus", False, "connection refused")

    app[READINESS].extend([store_ok, prometheus_down])
    client = await aiohttp_client(app)
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["checks"]["prometheus"] == {"ok": False, "detail": "connection refused"}
    assert body["checks"]["store"]["ok"] is True


async def test_an_unknown_path_is_a_json_404(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app(policy))
    response = await client.get("/nope", headers=AUTH)
    assert response.status == 404
    assert (await response.json())["error"] == "not_found"


async def test_a_wrong_method_is_a_json_405(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app(policy))
    response = await client.delete("/healthz", headers=AUTH)
    assert response.status == 405
    assert (await response.json())["error"] == "method_not_allowed"


async def test_an_unexpected_exception_is_a_500_without_its_text(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app(policy))
    response = await client.get("/boom", headers=AUTH)
    assert response.status == 500
    body = await response.text()
    assert "secret-ish" not in body and "Traceback" not in body
    assert (await response.json())["error"] == "internal"


async def test_an_api_error_keeps_its_status_and_detail(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app(policy))
    response = await client.post("/conflict", headers=AUTH)
    assert response.status == 409
    assert await response.json() == {"error": "conflict",
                                     "detail": "incident 7 is already acknowledged"}


def _app_with_counters(policy):
    """The shell with a labelled counter and a histogram, which carry ``_created`` series
    unless those are off."""
    app = _app(policy)
    Counter("cw_test_events", "Events.", ("kind",), registry=app[REGISTRY]).labels("a").inc()
    Histogram("cw_test_seconds", "Durations.", registry=app[REGISTRY]).observe(0.2)
    return app


async def test_a_scraper_asking_for_openmetrics_gets_openmetrics(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app_with_counters(policy))
    response = await client.get("/metrics", headers={"Accept": OPENMETRICS})
    body = await response.text()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")
    families = {family.name: family for family in openmetrics_families(body)}  # parses strictly
    assert families["cw_test_events"].type == "counter"


async def test_a_plain_scrape_gets_the_prometheus_text_format(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app_with_counters(policy))
    response = await client.get("/metrics", headers={"Accept": "text/plain"})
    body = await response.text()
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "# EOF" not in body
    assert "cw_test_events" in {family.name for family in text_string_to_metric_families(body)}


async def test_a_scraper_accepting_gzip_gets_gzip(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app_with_counters(policy), auto_decompress=False)
    zipped = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert b"cw_test_events_total" in gzip.decompress(await zipped.read())
    plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert b"cw_test_events_total" in await plain.read()


async def test_no_created_series_in_either_format(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app_with_counters(policy))
    for accept in ("text/plain", OPENMETRICS):
        body = await (await client.get("/metrics", headers={"Accept": accept})).text()
        assert "cw_test_seconds_count" in body and "cw_test_events" in body
        assert "_created" not in body, accept


async def test_build_info_names_the_version_and_python(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app(policy))
    body = await (await client.get("/metrics")).text()
    [family] = [f for f in text_string_to_metric_families(body)
                if f.name == "callwatch_build_info"]
    [sample] = family.samples
    assert family.type == "gauge" and sample.value == 1
    assert sample.labels == {"version": metadata.version("callwatch"),
                             "python_version": platform.python_version()}


async def test_an_unreadable_accept_version_is_a_json_400(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app(policy))
    response = await client.get("/metrics",
                                headers={"Accept": "application/openmetrics-text; version=x"})
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "bad_request" and "version" in body["detail"]
