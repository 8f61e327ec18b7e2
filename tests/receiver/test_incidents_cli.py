"""``callwatch incidents``: the command line against a live receiver (aiohttp test server)."""

from __future__ import annotations

import asyncio
import json

import pytest

from callwatch.cli import main
from tests.receiver.conftest import TOKEN
from tests.receiver.test_actions import open_incident


@pytest.fixture
async def live(make_client, monkeypatch):
    monkeypatch.setenv("CALLWATCH_RECEIVER_TOKEN", TOKEN)
    monkeypatch.delenv("CALLWATCH_RECEIVER_TOKEN_FILE", raising=False)
    client = await make_client()
    return client, str(client.server.make_url("")).rstrip("/")


async def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, ["incidents", *argv])
    out, err = capsys.readouterr()
    return code, out, err


async def test_list_prints_a_table_of_incidents(live, capsys):
    client, url = live
    incident_id = await open_incident(client)
    code, out, _ = await cli(capsys, "--url", url, "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "PRI", "STATE", "OPENED", "ACKED", "BY",
                                               "SUMMARY"]
    assert lines[1].split()[:3] == [incident_id, "P0", "triggered"]
    assert lines[1].endswith("TelephonyServiceDown on twilio")


async def test_ack_then_show_prints_the_acknowledged_incident(live, capsys):
    client, url = live
    incident_id = await open_incident(client)
    code, out, _ = await cli(capsys, "--url", url, "ack", incident_id, "--by", "Ada")
    assert code == 0 and json.loads(out)["acked_by"] == "Ada"
    code, out, _ = await cli(capsys, "--url", url, "show", incident_id)
    shown = json.loads(out)
    assert shown["state"] == "acknowledged"
    assert "acknowledged" in [e["kind"] for e in shown["timeline"]]


async def test_a_second_ack_prints_the_servers_409_on_one_line_and_exits_1(live, capsys):
    client, url = live
    incident_id = await open_incident(client)
    await cli(capsys, "--url", url, "ack", incident_id, "--by", "Ada")
    code, out, err = await cli(capsys, "--url", url, "ack", incident_id, "--by", "Bob")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith(f"callwatch incidents ack: HTTP 409 conflict: incident {incident_id} "
                          "was already acknowledged by Ada at ")


async def test_resolve_of_an_unknown_id_is_a_404_line(live, capsys):
    _, url = live
    code, _, err = await cli(capsys, "--url", url, "resolve", "nope", "--by", "Ada")
    assert code == 1 and "HTTP 404 not_found: no incident with id 'nope'" in err


async def test_the_url_comes_from_callwatch_url(live, capsys, monkeypatch):
    client, url = live
    await open_incident(client)
    monkeypatch.setenv("CALLWATCH_URL", url)
    code, out, _ = await cli(capsys, "list", "--state", "triggered", "--json")
    assert code == 0 and len(json.loads(out)["incidents"]) == 1


async def test_without_the_token_the_server_says_401(live, capsys, monkeypatch):
    client, url = live
    incident_id = await open_incident(client)
    monkeypatch.delenv("CALLWATCH_RECEIVER_TOKEN")
    code, _, err = await cli(capsys, "--url", url, "ack", incident_id, "--by", "Ada")
    assert code == 1 and "HTTP 401 unauthorized" in err


async def test_declare_opens_an_incident_by_hand(live, capsys):
    _, url = live
    code, out, _ = await cli(capsys, "--url", url, "declare", "--summary", "Data breach",
                             "--priority", "P0", "--description", "Leaked recordings")
    assert code == 0 and json.loads(out)["priority"] == "P0"


async def test_an_unreachable_server_is_one_line_and_exit_1(capsys, unused_tcp_port,
                                                           monkeypatch):
    monkeypatch.setenv("CALLWATCH_RECEIVER_TOKEN", TOKEN)
    code, _, err = await cli(capsys, "--url", f"http://127.0.0.1:{unused_tcp_port}", "list")
    assert code == 1 and err.startswith("callwatch incidents list: cannot reach http://127.0.0.1")
