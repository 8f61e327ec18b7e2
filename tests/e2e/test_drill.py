"""``callwatch drill`` over the whole stack at 60x: the synthetic alert goes through the real
Alertmanager to the receiver, pages say DRILL, a person acknowledges, the command prints both
durations, resolves the drill and records it; the drill stays out of MTTA. Unacknowledged, it
says so, resolves and exits 1."""

from __future__ import annotations

import asyncio
import os
import sys

import aiohttp
import pytest

from callwatch.demo.stack import DemoStack
from tests.e2e.harness import StackClient, eventually

pytestmark = pytest.mark.e2e
NAME = "TelephonyProviderHealthLow"


async def _drill(stack, *extra: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "CALLWATCH_RECEIVER_TOKEN": stack.token}
    env.pop("CALLWATCH_URL", None)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callwatch", "drill", "--policy", stack.policy_path,
        "--alertmanager", stack.urls.alertmanager, "--url", stack.urls.callwatch,
        "--poll", "0.3", *extra, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def _drill_incident(api: StackClient, provider: str) -> dict | None:
    found = [i for i in await api.incidents(NAME, provider) if i["state"] != "resolved"]
    return found[0] if found else None


async def _ack_count(session: aiohttp.ClientSession, stack) -> float:
    async with session.get(stack.urls.callwatch + "/metrics") as response:
        text = await response.text()
    # a priority's series appears with its first observation: none at all is zero
    return sum(float(row.split()[-1]) for row in text.splitlines()
               if row.startswith("callwatch_incident_ack_seconds_count{"))


async def test_a_drill_is_paged_timed_resolved_and_kept_out_of_mtta(tmp_path) -> None:
    async with DemoStack(tmp_path, time_scale=60, call_rate=30) as stack, \
            aiohttp.ClientSession() as session:
        api = StackClient(stack, session)
        drill = await _drill(stack, "--scenario", "twilio-outage", "--priority", "P1",
                             "--timeout", "30")
        incident = await eventually(lambda: _drill_incident(api, "twilio"), 20,
                                    "the drill's incident")
        assert incident["labels"]["drill"] == "true" and incident["priority"] == "P1"
        detail = await api.detail(incident["id"])
        # it came through Alertmanager: only its webhook adds a fingerprint to what we posted
        alert = detail["alerts"][0]
        assert alert["generatorURL"] == "callwatch://drill" and alert["fingerprint"]
        assert alert["labels"]["managed_by"] == "callwatch"

        async def slack_page():
            pages = stack.simulator.notifications()["slack"]
            return [m for m in pages if incident["summary"] in str(m)]

        messages = await eventually(slack_page, 20, "the drill's Slack page")
        assert all(str(m.get("text", "")).startswith("DRILL: ") for m in messages), messages
        header = next(b for b in messages[0]["blocks"] if b["type"] == "header")
        assert header["text"]["text"].startswith("DRILL: ")
        status, _ = await api.post(f"/incidents/{incident['id']}/ack", {"by": "drill-e2e"})
        assert status == 200
        out, err = await asyncio.wait_for(drill.communicate(), 30)
        assert drill.returncode == 0, (out, err)
        text = out.decode()
        assert "alert -> first page: " in text and "page -> acknowledgement: " in text, text
        assert "by drill-e2e" in text
        detail = await api.detail(incident["id"])
        assert detail["state"] == "resolved"
        (recorded,) = [e for e in detail["timeline"] if e["kind"] == "drill"]
        assert recorded["actor"] == "callwatch drill"
        assert recorded["detail"]["acked_by"] == "drill-e2e"
        assert 0 <= recorded["detail"]["alert_to_page_seconds"] < 30
        assert recorded["detail"]["page_to_ack_seconds"] >= 0
        month = detail["opened_at"][:7]
        review = await api.get(f"/reports/monthly?month={month}")
        (listed,) = [d for d in review["drills"] if d["id"] == incident["id"]]
        assert listed["result"] == recorded["detail"]
        assert await _ack_count(session, stack) == 0.0      # not an MTTA observation
        trends = await api.get("/reports/trends?weeks=1")
        assert trends["series"][-1]["priorities"]["P1"]["opened"] == 0
        assert NAME not in {a["alertname"] for a in trends["alertnames"]}

        # nobody acknowledges: it says so, resolves and exits 1
        ignored = await _drill(stack, "--scenario", "telnyx-outage", "--timeout", "4")
        out, err = await asyncio.wait_for(ignored.communicate(), 30)
        assert ignored.returncode == 1, (out, err)
        assert b"nobody acknowledged incident" in out, out
        unanswered = (await api.incidents(NAME, "telnyx"))[0]
        assert unanswered["state"] == "resolved" and unanswered["acked_at"] is None
