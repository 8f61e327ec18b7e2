"""The customer notice on the status page, end to end: the receiver with the real notifiers
(build_notifiers from the simulator's environment) publishing to the simulator's Statuspage
stand-in, which checks the OAuth key and answers in Statuspage's JSON shapes."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from prometheus_client import CollectorRegistry

from callwatch.web import create_app
from policy.model import StatusPage
from receiver.app import setup_receiver
from receiver.domain.status_page import IMPACT, components, split
from receiver.notify.base import Notification, NotifyError
from receiver.notify.statuspage import StatuspageNotifier, StatuspageSettings
from tests.receiver.conftest import auth
from tests.receiver.standins import alert, payload

COMPONENTS = {"twilio": "cmp-twilio", "telnyx": "cmp-telnyx"}


async def until(predicate, timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the status page stand-in did not get what was expected in time")


async def start(aiohttp_client, policy, sim, receiver_env, publish: str):
    spec = StatusPage(provider="statuspage", page_id=sim.state.statuspage_page_id,
                      components=COMPONENTS, publish=publish, api_key_env="STATUSPAGE_API_KEY")
    app = create_app(dataclasses.replace(policy, status_page=spec), CollectorRegistry())
    setup_receiver(app, {**sim.env(), **receiver_env})   # notifiers from the registry
    return await aiohttp_client(app, headers=auth())


def creates(sim) -> list:
    return [r for r in sim.requests("statuspage") if r.method == "POST"]


def patches(sim) -> list:
    return [r for r in sim.requests("statuspage") if r.method == "PATCH"]


async def declare(client, priority: str, provider: str) -> str:
    answer = await client.post("/incidents", json={
        "summary": "calls failing", "priority": priority, "provider": provider,
        "description": "Outbound calls to the US fail", "by": "Ada"})
    assert answer.status == 201, await answer.text()
    return (await answer.json())["id"]


async def test_a_p1_published_on_opening_is_updated_on_ack_and_resolve_and_created_once(
        aiohttp_client, policy, receiver_env):
    from simulator import Simulator

    async with Simulator(traffic=False) as sim:
        sim.fail("statuspage", 503, count=1)      # the first create meets an outage
        client = await start(aiohttp_client, policy, sim, receiver_env, "auto")
        incident = await declare(client, "P1", "twilio")
        await until(lambda: len(sim.state.statuspage_incidents) == 1)
        (page,) = sim.state.statuspage_incidents.values()
        assert page["status"] == "investigating" and page["impact"] == "major"
        assert [c["id"] for c in page["components"]] == ["cmp-twilio"]
        assert page["components"][0]["status"] == "partial_outage"
        assert page["name"] == "Service alert: telephony service issues"
        assert "We are experiencing issues" in page["incident_updates"][0]["body"]
        assert len(creates(sim)) == 2                  # the 503, then the create

        assert (await client.post(f"/incidents/{incident}/ack", json={"by": "Ada"})).status == 200
        await until(lambda: page["status"] == "identified")
        assert patches(sim)[0].path.endswith(f"/incidents/{page['id']}")

        # a second publish, with edited text, edits the same Statuspage incident
        answer = await client.post(f"/incidents/{incident}/status-page",
                                   json={"body": "Calls to the US fail; a fix is rolling out.",
                                         "by": "Ada"})
        assert answer.status == 202, await answer.text()
        assert (await answer.json())["kind"] == "update"
        await until(lambda: page["incident_updates"][0]["body"].startswith("Calls to the US"))

        assert (await client.post(f"/incidents/{incident}/resolve",
                                  json={"by": "Ada"})).status == 200
        await until(lambda: page["status"] == "resolved")
        assert page["components"][0]["status"] == "operational"
        await asyncio.sleep(0.3)                       # room for a duplicate to show
        assert len(sim.state.statuspage_incidents) == 1
        assert len(creates(sim)) == 2                  # the 503, then the one create
        assert len(patches(sim)) == 3                  # identified, the edit, resolved
        detail = await (await client.get(f"/incidents/{incident}")).json()
        sent = [e["detail"] for e in detail["timeline"] if e["kind"] == "notified"
                and e["detail"]["channel"] == "status_page"]
        assert [d["kind"] for d in sent] == ["trigger", "acknowledge", "update", "resolve"]
        assert {d["ref"] for d in sent} == {page["id"]}
        first = next(n for n in detail["notifications"] if n["channel"] == "status_page")
        assert first["attempts"] == 2                  # the 503 was retried


async def test_a_raise_to_p1_publishes_and_a_reopening_returns_the_same_notice_to_investigating(
        aiohttp_client, policy, receiver_env):
    from simulator import Simulator

    async with Simulator(traffic=False) as sim:
        client = await start(aiohttp_client, policy, sim, receiver_env, "auto")

        async def alertmanager(status: str, priority: str,
                               starts_at: str = "2026-11-27T03:00:00Z") -> None:
            body = payload(alert(status=status, priority=priority, starts_at=starts_at,
                                 fingerprint=f"fp-{priority}"))
            answer = await client.post("/alerts", json=body)
            assert answer.status == 200, await answer.text()

        await alertmanager("firing", "P2")
        await asyncio.sleep(0.3)
        assert sim.state.statuspage_incidents == {}    # auto publishes P0/P1 only
        await alertmanager("firing", "P1")             # raised: published now
        await until(lambda: len(sim.state.statuspage_incidents) == 1)
        (page,) = sim.state.statuspage_incidents.values()
        assert page["impact"] == "major"
        await alertmanager("firing", "P0")             # raised again: the impact follows
        await until(lambda: page["impact"] == "critical")
        await alertmanager("resolved", "P0")
        await until(lambda: page["status"] == "resolved" and page["resolved_at"] is not None)
        await alertmanager("firing", "P0", "2026-11-27T03:20:00Z")   # again, inside the window
        await until(lambda: page["status"] == "investigating")
        assert page["resolved_at"] is None
        await asyncio.sleep(0.3)
        assert len(sim.state.statuspage_incidents) == 1 and len(creates(sim)) == 1
        assert [u["status"] for u in reversed(page["incident_updates"])] == \
            ["investigating", "investigating", "resolved", "investigating"]


async def test_manual_mode_publishes_only_when_asked(
        aiohttp_client, policy, receiver_env):
    from simulator import Simulator

    async with Simulator(traffic=False) as sim:
        client = await start(aiohttp_client, policy, sim, receiver_env, "manual")
        incident = await declare(client, "P0", "telnyx")
        assert (await client.post(f"/incidents/{incident}/ack", json={"by": "Ada"})).status == 200
        await asyncio.sleep(0.3)
        assert sim.requests("statuspage") == []        # nobody published: nothing to update
        answer = await client.post(f"/incidents/{incident}/status-page")
        assert answer.status == 202, await answer.text()
        body = await answer.json()
        assert (body["kind"], body["status"], body["impact"]) == \
            ("trigger", "identified", "critical")
        assert body["components"] == ["cmp-telnyx"]
        await until(lambda: len(sim.state.statuspage_incidents) == 1)
        (page,) = sim.state.statuspage_incidents.values()
        assert page["impact"] == "critical" and page["status"] == "identified"
        assert {c["status"] for c in page["components"]} == {"major_outage"}


async def test_the_publish_endpoint_answers_bad_input_with_4xx(aiohttp_client, policy,
                                                               receiver_env):
    from simulator import Simulator

    async with Simulator(traffic=False) as sim:
        client = await start(aiohttp_client, policy, sim, receiver_env, "manual")
        incident = await declare(client, "P2", "telnyx")
        cases = [("/incidents/nope/status-page", {}, 404),
                 (f"/incidents/{incident}/status-page", {"body": 3}, 400),
                 (f"/incidents/{incident}/status-page", {"text": "x"}, 400),
                 (f"/incidents/{incident}/status-page", [1], 400)]
        for path, body, status in cases:
            answer = await client.post(path, json=body)
            assert answer.status == status, (path, body)
            assert "error" in await answer.json()
        broken = await client.post(f"/incidents/{incident}/status-page", data=b"{not json",
                                   headers={"Content-Type": "application/json"})
        assert broken.status == 400


async def test_the_stand_in_refuses_a_wrong_key_and_a_body_statuspage_would_refuse():
    from simulator import Simulator

    async with Simulator(traffic=False) as sim:
        env = sim.env()
        wrong = StatuspageNotifier(StatuspageSettings("not-the-key", env["STATUSPAGE_PAGE_ID"],
                                                      base_url=env["STATUSPAGE_API_URL"]))
        right = StatuspageNotifier(StatuspageSettings(env["STATUSPAGE_API_KEY"],
                                                      env["STATUSPAGE_PAGE_ID"],
                                                      base_url=env["STATUSPAGE_API_URL"]))
        note = Notification(id="n1", incident_id="i1", channel="status_page", kind="trigger",
                            priority="P2", summary="Service alert", text="Calls fail",
                            details={"status": "investigating", "impact": "minor",
                                     "components": "cmp-telnyx"})
        try:
            with pytest.raises(NotifyError) as refused:
                await wrong.send(note)
            assert (refused.value.reason, refused.value.retryable) == ("auth", False)
            with pytest.raises(NotifyError) as missing:
                await right.send(dataclasses.replace(note, thread_ref="no-such-incident"))
            assert missing.value.reason == "config"
            delivery = await right.send(note)
        finally:
            await wrong.close()
            await right.close()
        page = sim.state.statuspage_incidents[delivery.ref]
        assert page["components"] == [{"id": "cmp-telnyx", "name": "cmp-telnyx",
                                       "page_id": env["STATUSPAGE_PAGE_ID"],
                                       "status": "degraded_performance"}]


def test_impact_follows_the_priority() -> None:
    assert IMPACT == {"P0": "critical", "P1": "major", "P2": "minor", "P3": "none"}


def test_provider_all_names_every_component_and_no_provider_none(policy) -> None:
    spec = StatusPage(provider="statuspage", page_id="p", components=COMPONENTS,
                      api_key_env="K")
    with_page = dataclasses.replace(policy, status_page=spec)
    assert components(with_page, "all") == ["cmp-twilio", "cmp-telnyx"]
    assert components(with_page, "telnyx") == ["cmp-telnyx"]
    assert components(with_page, None) == []


def test_a_notice_splits_into_its_first_line_as_name_and_the_rest_as_body() -> None:
    assert split("Service alert: issues\n\nWe are on it.\n") == ("Service alert: issues",
                                                                    "We are on it.")
    assert split("  \n") == ("Telephony service issues", "")


async def test_the_cli_publishes_with_a_body_file(make_client, policy, monkeypatch, capsys,
                                                  tmp_path):
    from callwatch.cli import main
    from tests.receiver.conftest import TOKEN
    from tests.receiver.test_actions import open_incident

    spec = StatusPage(provider="statuspage", page_id="p", components=COMPONENTS,
                      api_key_env="STATUSPAGE_API_KEY")
    monkeypatch.setenv("CALLWATCH_RECEIVER_TOKEN", TOKEN)
    monkeypatch.delenv("CALLWATCH_RECEIVER_TOKEN_FILE", raising=False)
    client = await make_client(policy=dataclasses.replace(policy, status_page=spec))
    url = str(client.server.make_url("")).rstrip("/")
    incident_id = await open_incident(client)
    text = tmp_path / "notice.txt"
    text.write_text("Calls to the US fail; we are on it.\n", encoding="utf-8")
    argv = ["incidents", "--url", url, "publish", incident_id, "--body-file", str(text)]
    code = await asyncio.to_thread(main, argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    queued = json.loads(out)
    assert (queued["kind"], queued["status"], queued["impact"]) == \
        ("trigger", "investigating", "critical")
    detail = await (await client.get(f"/incidents/{incident_id}")).json()
    assert [n["kind"] for n in detail["notifications"] if n["channel"] == "status_page"] == \
        ["trigger"]
    code = await asyncio.to_thread(main, [*argv[:-1], str(tmp_path / "missing.txt")])
    assert code == 1 and "cannot read --body-file" in capsys.readouterr().err
