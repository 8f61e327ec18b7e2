"""The demo's tour: switch a fault on, watch it become an incident and pages, switch it off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from callwatch.demo import phone
from callwatch.demo.view import Snapshot, collect, incident_detail

PAST_DUE = 5.0      # seconds past a level's due time before saying whether it was paged


@dataclass(frozen=True)
class Tour:
    scenario: str
    alertname: str          # the alert this scenario's runbook starts from
    runbook: str
    answers_phone: str | None = None   # contact who answers their phone page and presses 1


TOURS = (
    Tour("total-outage", "TelephonyServiceDown", "complete-outage.md"),
    # Twilio is down, so the team lead's L2 phone page goes through Telnyx. (In total-outage
    # both providers are down and no phone page can be placed.)
    Tour("twilio-outage", "TelephonyProviderHealthLow", "complete-outage.md",
         answers_phone="team_lead"),
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
        self.acks: dict[str, str] = {}
        self.started = time.monotonic()

    def log(self, text: str) -> None:
        self.events.append(f"{time.monotonic() - self.started:6.1f}s  {text}")

    async def snapshot(self) -> Snapshot:
        snap = await collect(self.stack, self.session, self.events, self.acks)
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
        person = self._answer_phone(tour)
        try:
            await self._walk(tour, person)
        finally:
            if person is not None:  # the default: a called person answers and presses nothing
                self.stack.simulator.phone_behaviour(person.number, "answer", "")
                self.log(f"simulator: {person.name} back to answering without pressing a key")

    def _answer_phone(self, tour: Tour) -> phone.Answerer | None:
        if tour.answers_phone is None:
            return None
        person = phone.answerer(self.stack.policy, tour.answers_phone)
        self.stack.simulator.phone_behaviour(person.number, "answer", "1")
        self.log(f"simulator: {person.name} ({person.number}) will answer a phone page "
                 "and press 1")
        return person

    async def _walk(self, tour: Tour, person: phone.Answerer | None) -> None:
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
            await self._log_paged(incident["id"])
            if person is None:
                await self._hold()
            else:
                await self._phone_ack(incident, person)
        self.stack.simulator.set_scenario("normal")
        self.log("simulator: back to normal traffic")
        if incident:
            def resolved(snap: Snapshot):
                return any(i.get("id") == incident["id"] and i.get("state") == "resolved"
                           for i in snap.incidents)
            if await self._until(resolved, f"incident {incident['id']} to resolve"):
                self.log(f"incident {incident['id']} resolved")

    async def _log_paged(self, ident: str) -> None:
        """Say who the opening paged and why (the schedule that put them on call)."""
        try:
            detail = await incident_detail(self.stack, self.session, ident)
        except (aiohttp.ClientError, TimeoutError):
            return  # the view notes callwatch's errors; the pages still show below
        line = phone.paged_line(detail, self.stack.policy)
        if line:
            self.log(f"incident {ident} {line}")

    async def _hold(self, until: float | None = None,
                    stop: Callable[[], Awaitable[object]] | None = None) -> object:
        """Leave the fault on a while (``hold_seconds``, or until the epoch time ``until``),
        logging pages; unless someone answers a phone page, nobody acknowledges, so escalation
        shows. With ``stop``, end as soon as it finds something, and return that."""
        deadline = time.time() + self.hold_seconds if until is None else until
        pages = (await self.snapshot()).pages
        while time.time() < deadline:
            await asyncio.sleep(1.0)
            now = (await self.snapshot()).pages
            for channel, count in now.items():
                if count > pages.get(channel, 0):
                    self.log(f"page: {count - pages.get(channel, 0)} more on {channel}")
            pages = now
            found = await stop() if stop is not None else None
            if found:
                return found
        return None

    async def _phone_ack(self, incident: dict, person: phone.Answerer) -> None:
        """Say that ``person`` acknowledged from the phone once the timeline shows it; then wait
        past the next engineering level's due time and say whether it was paged."""
        ident = incident["id"]

        async def acked() -> phone.PhoneAck | None:
            try:
                return phone.phone_ack(await incident_detail(self.stack, self.session, ident))
            except (aiohttp.ClientError, TimeoutError):
                return None  # the view notes callwatch's errors; ask again next second

        ack = await self._hold(until=time.time() + self.timeout, stop=acked)
        if ack is None:
            self.log(f"gave up waiting for {person.name} to acknowledge {ident} from the phone "
                     f"after {self.timeout:.0f}s")
            return
        opened = phone.epoch(incident["opened_at"])
        scale = self.stack.time_scale
        carried = f" (the call went through {ack.provider})" if ack.provider else ""
        self.log(f"{ack.by} pressed 1 on the phone: incident {ident} acknowledged "
                 f"{phone.minutes(ack.at - opened, scale)} after opening{carried}")
        step = phone.next_step(self.stack.policy, incident.get("priority", ""),
                               (ack.at - opened) * scale, time.time())
        if step is None:
            self.log("no engineering level was left to page after the acknowledgement")
            return
        await self._hold(until=opened + step.after_seconds / scale + PAST_DUE)
        try:
            detail = await incident_detail(self.stack, self.session, ident)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.log(f"could not read {ident}'s timeline ({type(exc).__name__}): whether "
                     "escalation stopped is not known")
            return
        self.log(phone.stop_line(detail, ack, step, opened, time.time(), scale))
