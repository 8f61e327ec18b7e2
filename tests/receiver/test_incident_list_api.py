"""``GET /incidents`` pages and filters over HTTP, and ``callwatch incidents list`` on top."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from callwatch.cli import main
from receiver.domain.times import iso
from tests.receiver.conftest import TOKEN, auth
from tests.receiver.standins import alert, payload

# (alertname, provider, priority label), opened a minute apart, oldest first
OPENED = [("Drops", "twilio", "P1"), ("Latency", "telnyx", "P2"), ("Drops", "telnyx", "P1"),
          ("Down", "twilio", "P0"), ("Drops", "twilio", "P3")]


@pytest.fixture
async def listed(make_client, clock):
    """A receiver holding the OPENED incidents; (client, their ids newest first, open times)."""
    client = await make_client()
    ids, times = [], []
    for n, (name, provider, priority) in enumerate(OPENED):
        body = payload(alert(name, provider=provider, priority=priority), group=f"{name}{n}")
        body["commonLabels"] = {"alertname": name}
        response = await client.post("/alerts", data=json.dumps(body), headers=auth())
        assert response.status == 200
        ids.append((await response.json())["incident"])
        times.append(clock.now)
        clock.advance(60)
    return client, ids[::-1], times


async def get(client, query: str) -> tuple[int, dict]:
    response = await client.get(f"/incidents?{query}", headers=auth())
    return response.status, await response.json()


async def walk(client, query: str) -> tuple[list[str], int]:
    """Every page of ``query`` at two incidents a page: the ids, and how many pages."""
    ids, pages, before = [], 0, ""
    while True:
        status, body = await get(client, f"{query}&limit=2{before}")
        assert status == 200, body
        ids += [i["id"] for i in body["incidents"]]
        pages += 1
        if body["next"] is None:
            return ids, pages
        assert isinstance(body["next"], str) and len(body["incidents"]) == 2
        before = f"&before={body['next']}"


async def test_next_walks_every_incident_once_newest_first(listed):
    client, ids, _ = listed
    assert await walk(client, "") == (ids, 3)
    status, body = await get(client, "limit=5")
    assert status == 200 and [i["id"] for i in body["incidents"]] == ids and body["next"] is None


async def test_filters_combine_and_page(listed):
    client, ids, times = listed
    oldest_first = ids[::-1]
    assert (await walk(client, "alertname=Drops"))[0] == [ids[0], ids[2], ids[4]]
    assert (await walk(client, "provider=twilio&alertname=Drops"))[0] == [ids[0], ids[4]]
    assert (await walk(client, "priority=P1"))[0] == [oldest_first[2], oldest_first[0]]
    assert (await walk(client, "state=resolved"))[0] == []
    since, until = iso(times[1]), iso(times[3])   # [second, fourth): the second and third
    assert (await walk(client, f"since={since}&until={until}"))[0] == [ids[2], ids[3]]
    offset = since.replace("Z", "+00:00").replace("+", "%2B")
    assert (await walk(client, f"since={offset}&state=triggered"))[0] == ids[:4]


@pytest.mark.parametrize(("query", "field", "words"), [
    ("state=open", "state", "must be one of triggered, acknowledged, resolved"),
    ("priority=P9", "priority", "must be one of P0, P1, P2, P3"),
    ("limit=0", "limit", "from 1 to 1000"),
    ("limit=1001", "limit", "from 1 to 1000"),
    ("limit=ten", "limit", "from 1 to 1000"),
    ("since=yesterday", "since", "not an ISO 8601 time"),
    ("until=2027-01-15T09:00:00", "until", "has no UTC offset"),
    ("since=2027-01-15T09:00:00Z&until=2027-01-15T09:00:00Z", "until", "must be after since"),
    ("before=not-a-cursor", "before", "not a cursor this API gave out"),
    ("before=" + base64.urlsafe_b64encode(b'{"id": 1}').decode(), "before", "not a cursor"),
    ("before=" + base64.urlsafe_b64encode(b'[1e999, "x"]').decode(), "before", "not a cursor"),
    ("stat=resolved", "stat", "unknown parameter"),
    ("state=resolved&state=triggered", "state", "given more than once"),
    ("alertname=" + "x" * 201, "alertname", "at most 200 characters"),
])
async def test_a_bad_parameter_is_a_400_naming_it(listed, query, field, words):
    client, _, _ = listed
    status, body = await get(client, query)
    assert status == 400 and body["error"] == "invalid_request" and body["field"] == field
    assert words in body["detail"], body


async def cli(capsys, *argv: str) -> tuple[int, str]:
    code = await asyncio.to_thread(main, ["incidents", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, out


async def test_the_cli_shows_a_page_names_the_next_and_walks_them_all(listed, capsys,
                                                                       monkeypatch):
    client, ids, _ = listed
    monkeypatch.setenv("CALLWATCH_RECEIVER_TOKEN", TOKEN)
    monkeypatch.delenv("CALLWATCH_RECEIVER_TOKEN_FILE", raising=False)
    monkeypatch.setenv("CALLWATCH_URL", str(client.server.make_url("")).rstrip("/"))
    _, out = await cli(capsys, "list", "--limit", "2")
    *rows, last = out.splitlines()
    assert [row.split()[0] for row in rows[1:]] == ids[:2]
    assert last.startswith("next page: --before ")
    _, out = await cli(capsys, "list", "--limit", "2", "--before", last.split()[-1], "--json")
    assert [i["id"] for i in json.loads(out)["incidents"]] == ids[2:4]
    _, out = await cli(capsys, "list", "--all", "--limit", "2", "--json")
    assert json.loads(out) == {"incidents": json.loads(out)["incidents"], "next": None}
    assert [i["id"] for i in json.loads(out)["incidents"]] == ids
    _, out = await cli(capsys, "list", "--all", "--provider", "twilio", "--alertname", "Drops")
    assert [row.split()[0] for row in out.splitlines()[1:]] == [ids[0], ids[4]]
