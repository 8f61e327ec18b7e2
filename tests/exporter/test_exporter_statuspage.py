"""Statuspage summary.json → telephony_provider_status, defensively."""

import pytest

from exporter.collectors.statuspage import indicator_value

CASES = [
    ("none means all systems operational", "none", 0),
    ("minor is 1", "minor", 1),
    ("maintenance counts as minor", "maintenance", 1),
    ("major is 2", "major", 2),
    ("critical is 3", "critical", 3),
    ("an indicator in capitals is still understood", "MAJOR", 2),
    ("an unknown indicator is taken as minor", "degraded", 1),
    ("an empty indicator is taken as minor", "", 1),
]


@pytest.mark.parametrize("name,indicator,expected", CASES, ids=[c[0] for c in CASES])
def test_indicator_values(name, indicator, expected):
    value, _ = indicator_value({"status": {"indicator": indicator, "description": "x"}})
    assert value == expected


@pytest.mark.parametrize("document", [{}, {"status": "ok"}, [], {"status": {"description": "x"}}],
                         ids=["empty", "status not an object", "not an object", "no indicator"])
def test_a_summary_without_an_indicator_is_an_error(document):
    with pytest.raises(ValueError):
        indicator_value(document)


async def test_an_unreadable_status_page_keeps_the_last_value(aiohttp_server, policy):
    import aiohttp
    from aiohttp import web
    from prometheus_client import CollectorRegistry

    from exporter.collectors.statuspage import StatuspageSource
    from exporter.health import ProviderState
    from exporter.metrics import create_metrics

    answers = [web.json_response({"status": {"indicator": "critical"}}),
               web.Response(status=502, text="bad gateway"), web.Response(text="<html>")]

    async def handler(request):
        return answers.pop(0)

    app = web.Application()
    app.router.add_get("/summary.json", handler)
    server = await aiohttp_server(app)
    registry = CollectorRegistry()
    metrics, state = create_metrics(registry), ProviderState()
    async with aiohttp.ClientSession() as session:
        source = StatuspageSource("twilio", str(server.make_url("/summary.json")), session,
                                  metrics, state, 60, 5)
        await source.poll()
        for _ in range(2):
            with pytest.raises(ValueError):
                await source.poll()
    assert registry.get_sample_value("telephony_provider_status", {"provider": "twilio"}) == 3
    assert "unreadable" in state.status_description
