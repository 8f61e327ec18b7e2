"""The Statuspage stand-in: summary.json per provider, switchable."""

from __future__ import annotations

import aiohttp
import pytest

from simulator.statuspage import set_indicator


async def test_both_pages_start_all_operational(server):

    async with aiohttp.ClientSession() as session:
        for provider in ("twilio", "telnyx"):
            async with session.get(server.make_url(f"/{provider}/api/v2/summary.json")) as resp:
                doc = await resp.json()
            assert resp.status == 200
            assert doc["status"] == {"indicator": "none", "description": "All Systems Operational"}
            assert {c["status"] for c in doc["components"]} == {"operational"}
            assert doc["incidents"] == []


@pytest.mark.parametrize("indicator, component_status", [
    ("minor", "degraded_performance"), ("major", "partial_outage"),
    ("critical", "major_outage")])
async def test_switching_one_provider_changes_only_its_page(server, state, indicator,
                                                             component_status):

    set_indicator(state, "twilio", indicator)
    async with aiohttp.ClientSession() as session:
        async with session.get(server.make_url("/twilio/api/v2/summary.json")) as resp:
            twilio = await resp.json()
        async with session.get(server.make_url("/telnyx/api/v2/status.json")) as resp:
            telnyx = await resp.json()
    assert twilio["status"]["indicator"] == indicator
    assert twilio["components"][0]["status"] == component_status
    assert twilio["incidents"][0]["impact"] == indicator
    assert telnyx["status"]["indicator"] == "none"


def test_an_unknown_indicator_is_refused_naming_the_allowed_ones(state):
    with pytest.raises(ValueError, match="none, minor, major, critical"):
        set_indicator(state, "twilio", "on-fire")


async def test_the_management_api_creates_updates_and_lists_the_unresolved_ones(server, state,
                                                                               clock):
    base = server.make_url(f"/statuspage/v1/pages/{state.statuspage_page_id}/incidents")
    key = {"Authorization": f"OAuth {state.statuspage_api_key}"}
    async with aiohttp.ClientSession(headers=key) as session:
        made = []
        for name in ("first", "second"):
            async with session.post(base, json={"incident": {"name": name, "body": "b"}}) as r:
                assert r.status == 201
                made.append(await r.json())
            clock.advance(1)
        async with session.patch(f"{base}/{made[0]['id']}",
                                 json={"incident": {"status": "resolved"}}) as r:
            assert (await r.json())["resolved_at"] is not None
        async with session.get(f"{base}/unresolved") as r:
            assert [i["name"] for i in await r.json()] == ["second"]
        async with session.get(base) as r:
            assert [i["name"] for i in await r.json()] == ["second", "first"]   # newest first
        async with session.patch(f"{base}/{made[0]['id']}",
                                 json={"incident": {"status": "investigating"}}) as r:
            assert (await r.json())["resolved_at"] is None                    # reopened
        async with session.get(f"{base}/{made[1]['id']}") as r:
            assert (await r.json())["incident_updates"][0]["body"] == "b"


@pytest.mark.parametrize("case, method, path, headers, body, status", [
    ("a wrong key", "GET", "{page}/incidents", {"Authorization": "OAuth nope"}, None, 401),
    ("another page", "GET", "otherpage/incidents", None, None, 404),
    ("an unknown incident", "GET", "{page}/incidents/spincnope", None, None, 404),
    ("a body that is not JSON", "POST", "{page}/incidents", None, b"{", 400),
    ("a status Statuspage does not know", "POST", "{page}/incidents", None,
     b'{"incident": {"status": "on-fire"}}', 422),
])
async def test_the_management_api_refuses_what_statuspage_would(server, state, case, method,
                                                                path, headers, body, status):
    page = path.format(page=state.statuspage_page_id)
    url = server.make_url(f"/statuspage/v1/pages/{page}")
    key = headers or {"Authorization": f"OAuth {state.statuspage_api_key}"}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, data=body, headers=key) as r:
            assert r.status == status, case
            assert "error" in await r.json()
