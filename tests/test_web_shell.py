"""The web shell every component mounts on: health, metrics and JSON errors."""

from __future__ import annotations

from callwatch.web import READINESS, ApiError, Check, create_app


async def _boom(request):
    raise RuntimeError("secret-ish internal detail")


async def _conflict(request):
    raise ApiError(409, "conflict", "incident 7 is already acknowledged")


def _app(policy):
    app = create_app(policy, max_body=64)
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
    response = await client.get("/nope")
    assert response.status == 404
    assert (await response.json())["error"] == "not_found"


async def test_a_wrong_method_is_a_json_405(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app(policy))
    response = await client.delete("/healthz")
    assert response.status == 405
    assert (await response.json())["error"] == "method_not_allowed"


async def test_an_unexpected_exception_is_a_500_without_its_text(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app(policy))
    response = await client.get("/boom")
    assert response.status == 500
    body = await response.text()
    assert "secret-ish" not in body and "Traceback" not in body
    assert (await response.json())["error"] == "internal"


async def test_an_api_error_keeps_its_status_and_detail(aiohttp_client, policy) -> None:
    client = await aiohttp_client(_app(policy))
    response = await client.post("/conflict")
    assert response.status == 409
    assert await response.json() == {"error": "conflict",
                                     "detail": "incident 7 is already acknowledged"}
