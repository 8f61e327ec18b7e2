"""On-call schedules over the whole stack at 60x: an override changes who is phoned, and an
escalation step naming a schedule phones whoever that schedule has on call when it fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import yaml

from callwatch.demo.stack import DemoStack
from policy import load_policy
from policy.oncall import on_call
from tests.conftest import POLICY_PATH
from tests.e2e.harness import StackClient, eventually

pytestmark = pytest.mark.e2e


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def scheduled_policy(path: Path, now: datetime) -> tuple[str, str]:
    """The shipped policy with primary overridden to an engineer the rotation does not have on
    call now, L1 phoned too, and L2 naming a ``secondary`` schedule; (override, secondary)."""
    shipped = load_policy(POLICY_PATH)
    primary = shipped.schedules["primary"]
    rotation = on_call(primary, now).contact
    cover = next(key for key in primary.layers[0].participants if key != rotation)
    document = yaml.safe_load(POLICY_PATH.read_text(encoding="utf-8"))
    schedules = document["schedules"]
    schedules["primary"]["overrides"] = [{
        "contact": cover, "from": _local(now - timedelta(hours=1), primary.timezone),
        "to": _local(now + timedelta(hours=2), primary.timezone)}]
    # one day each, from yesterday's 00:00 UTC: engineering_manager is on call today
    start = (now - timedelta(days=1)).strftime("%Y-%m-%dT00:00")
    schedules["secondary"] = {"timezone": "UTC", "layers": [{
        "name": "daily", "start": start, "rotate_every": "1d",
        "participants": ["team_lead", "engineering_manager"]}]}
    chain = document["escalation"]["engineering"]
    chain[0]["channels"] = ["pagerduty", "slack", "phone"]
    chain[1]["contacts"] = ["schedule:secondary"]
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return cover, "engineering_manager"


async def test_an_override_changes_who_is_phoned_and_escalation_reaches_the_schedules_person(
        tmp_path) -> None:
    now = datetime.now(UTC)
    policy_file = tmp_path / "scheduled.yaml"
    cover, secondary = scheduled_policy(policy_file, now)
    async with DemoStack(tmp_path / "stack", policy_path=str(policy_file), time_scale=60,
                         call_rate=30) as stack, aiohttp.ClientSession() as session:
        api = StackClient(stack, session)
        oncall = await api.get("/oncall?schedule=primary")
        assert (oncall["schedules"]["primary"]["contact"],
                oncall["schedules"]["primary"]["layer"]) == (cover, "override")
        status, incident = await api.post("/incidents", {
            "summary": "Schedule drill", "priority": "P1", "description": "e2e on-call"})
        assert status == 201, incident
        numbers = {key: stack.policy.contacts[key].phone for key in stack.policy.contacts}

        def phoned() -> list[str]:
            return [call.to for call in stack.simulator.phone_calls()]

        async def rang(key: str):
            return numbers[key] in phoned()

        await eventually(lambda: rang(cover), 30, f"{cover}'s phone (the override) to ring")
        rotation = on_call(load_policy(POLICY_PATH).schedules["primary"], now).contact
        assert numbers[rotation] not in phoned(), "the rotation's engineer was phoned"
        # L2 is due 15 policy minutes in: 15 s at 60x
        await eventually(lambda: rang(secondary), 60, f"{secondary}'s phone (L2) to ring")
        assert numbers["team_lead"] not in phoned()
        detail = await api.detail(incident["id"])
        opened = next(e for e in detail["timeline"] if e["kind"] == "opened")
        assert opened["detail"]["paged"] == [f"{cover}, on call for primary"]
        [second] = [e for e in detail["timeline"]
                    if e["kind"] == "escalated" and e["detail"]["level"] == "L2"]
        assert second["detail"]["paged"] == [f"{secondary}, on call for secondary"]
