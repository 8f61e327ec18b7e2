"""The demo's tour step with a phone acknowledgement, over the whole stack at 60x speed.

``callwatch demo`` walks the tours with ``Walker``; in one of them a person answers the phone
page callwatch places and presses 1. The incident must be acknowledged as that person from the
phone, the engineering chain must page nobody after it, the walker must say so only after
checking, and the person's phone must be back to the default afterwards.
"""

from __future__ import annotations

import aiohttp
import pytest

from callwatch.demo import phone
from callwatch.demo.stack import DemoStack
from callwatch.demo.walk import TOURS, Walker
from tests.conftest import on_call
from tests.e2e.harness import StackClient

pytestmark = pytest.mark.e2e


async def test_the_demo_shows_a_page_acknowledged_from_the_phone(tmp_path) -> None:
    tour = next(t for t in TOURS if t.answers_phone)
    async with DemoStack(tmp_path, time_scale=60, call_rate=120) as stack, \
            aiohttp.ClientSession() as session:
        person = phone.answerer(stack.policy, tour.answers_phone)
        walker = Walker(stack, session, lambda snap: None, hold_seconds=20)
        await walker.run(tour)
        print("\n".join(walker.events))  # the demo's lifecycle lines, shown with -s
        api = StackClient(stack, session)
        acked = [i for i in (await api.get("/incidents"))["incidents"]
                 if i["labels"].get("alertname") == tour.alertname and i["acked_by"]]
        assert len(acked) == 1, acked
        detail = await api.detail(acked[0]["id"])
        ack = phone.phone_ack(detail)
        assert ack is not None and ack.by == person.name == detail["acked_by"], detail
        assert phone.engineering_after(detail, ack.at) == []
        # the check covered the next level's due time while the incident was still open
        opened = phone.epoch(detail["opened_at"])
        step = phone.next_step(stack.policy, detail["priority"], (ack.at - opened) * 60,
                               opened)
        assert phone.epoch(detail["resolved_at"]) > opened + step.after_seconds / 60
        assert [c.digits for c in stack.simulator.phone_calls() if c.to == person.number] \
            == ["1"]
        _check_log(walker.events, person, acked[0]["id"])
        # who the opening paged, and why: the primary schedule's on-call at that moment
        paged = on_call(stack.policy, opened)
        assert (f"incident {acked[0]['id']} paged {paged.name} ({paged.key}, on call for "
                "primary)") in "\n".join(walker.events)
        async with session.get(f"{stack.urls.simulator}/control/phone") as response:
            behaviours = (await response.json())["behaviours"]
        assert behaviours[person.number] == {"name": "answer", "digits": ""}


def _check_log(events: list[str], person: phone.Answerer, incident_id: str) -> None:
    text = "\n".join(events)
    assert f"{person.name} pressed 1 on the phone: incident {incident_id} acknowledged" in text
    assert "escalation stopped: no engineering level paged after the acknowledgement" in text
    assert "NOT" not in text and "gave up" not in text, text
    assert f"incident {incident_id} resolved" in text
