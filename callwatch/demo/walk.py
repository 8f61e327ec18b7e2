"""The demo's tour: switch a fault on, watch it become an incident and pages, switch it off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from callwatch.demo.view import Snapshot, collect


@dataclass(frozen=True)
class Tour:
    scenario: str
    alertname: str          # the alert this scenario's runbook starts from
    runbook: str


TOURS = (
    Tour("total-outage", "TelephonyServiceDown", "complete-outage.md"),
    Tour("twilio-outage", "TelephonyProviderHealthLow", "complete-outage.md"),
    Tour("high-drop-rate", "TelephonyCallDropRateHigh", "high-call-drop-rate.md"),
    Tour("webhook-failures", "TelephonyWebhookFailureRateHigh", "webhook-failures.md"),
    Tour("poor-quality", "TelephonyCallQualityLow", "poor-call-quality.md"),
)


class Walker:
    """Drives the stack through tours, appending one human line per lifecycle event."""

    def __init__(self, stack, session: aiohttp.ClientSession, redraw: Callable[[Snapshot], None],
                 hold_seconds: float = 20.0, timeout: float = 150.0) -> None:
        self.stack = stack
        self.session = session
        self.redraw = redraw
        self.hold_seconds = hold_seconds
        self.timeout = timeout
        self.events: list[str] = []
        self.started = time.monotonic()

    def log(self, text: str) -> None:
        self.events.append(f"{time.monotonic() - self.started:6.1f}s  {text}")

    async def snapshot(self) -> Snapshot:
        snap = await collect(self.stack, self.session, self.events)
        self.redraw(snap)
        return snap

    async def _until(self, predicate: Callable[[Snapshot], object], what: str) -> object:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            found = predicate(await self.snapshot())
            if found:
                return found
            await asyncio.sleep(1.0)
        self.log(f"gave up waiting for {what} after {self.timeout:.0f}s")
        return None

    async def run(self, tour: Tour) -> None:
        before = {i.get("id") for i in (await self.snapshot()).incidents}
        self.stack.simulator.set_scenario(tour.scenario)
        self.log(f"simulator: scenario {tour.scenario} switched on")

        def opened(snap: Snapshot):
            return next((i for i in snap.incidents if i.get("id") not in before
                         and tour.alertname in str(i.get("summary", "")) + str(i.get("group_key"))),
                        None)

        incident = await self._until(opened, f"an incident for {tour.alertname}")
        if incident:
            self.log(f"incident {incident['id']} opened: {incident.get('priority')} "
                     f"{incident.get('summary')}  (runbook {tour.runbook})")
            await self._hold()
        self.stack.simulator.set_scenario("normal")
        self.log("simulator: back to normal traffic")
        if incident:
            def resolved(snap: Snapshot):
                return any(i.get("id") == incident["id"] and i.get("state") == "resolved"
                           for i in snap.incidents)
            if await self._until(resolved, f"incident {incident['id']} to resolve"):
                self.log(f"incident {incident['id']} resolved")

    async def _hold(self) -> None:
        """Leave the fault on a while: nobody acknowledges, so escalation shows."""
        deadline = time.monotonic() + self.hold_seconds
        pages = (await self.snapshot()).pages
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            now = (await self.snapshot()).pages
            for channel, count in now.items():
                if count > pages.get(channel, 0):
                    self.log(f"page: {count - pages.get(channel, 0)} more on {channel}")
            pages = now
