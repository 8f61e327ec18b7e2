"""Call traffic: calls drawn from the current scenario, kept in the provider state, and
reported to target URLs as SIGNED webhooks at a set rate.

:func:`draw_call` is pure (scenario knobs + RNG → outcome, MOS, SIP code, hangup cause).
:class:`TrafficGenerator` ``step(now)`` starts the calls due at ``rate`` per second, ends the
ones whose hold time is over, records them in :class:`SimState` (so API polling sees the same
calls), and returns the webhooks to send; ``run()`` does that on a timer and POSTs them.

Per call: answered calls get a ``in-progress`` callback (Twilio) / ``call.answered`` (Telnyx)
when they start, when ``progress_events`` is on; every call gets its final callback /
``call.hangup`` when it ends. With the scenario's ``webhook_failure_ratio`` a delivery to the
app "failed": a Twilio Monitor 11200 alert, a failed Telnyx webhook delivery record.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simulator.scenarios import ProviderKnobs, Scenario
from simulator.state import Clock, SimCall, SimState
from simulator.webhooks import Webhook, telnyx_event, twilio_callback

log = logging.getLogger("simulator.traffic")

# Per outcome: (Twilio SIP code choices, Telnyx (hangup_cause, sip) choices).
SIGNALS = {
    "completed": ((200,), (("normal_clearing", 200),)),
    "dropped": ((408, 480, 500, 503), (("unspecified", 503), ("unspecified", 408),
                                        ("call_rejected", 500))),
    "failed": ((500, 503, 404), (("unspecified", 503), ("not_found", 404),
                                  ("call_rejected", 403))),
    "busy": ((486,), (("user_busy", 486),)),
    "no_answer": ((480,), (("timeout", 480),)),
    "canceled": ((487,), (("originator_cancel", 487),)),
}


@dataclass(frozen=True)
class Drawn:
    outcome: str
    mos: float | None
    sip_twilio: int
    telnyx_cause: str
    sip_telnyx: int


def draw_outcome(knobs: ProviderKnobs, rng: random.Random) -> str:
    """An outcome following the knobs: unanswered shares first, then drops among answered."""
    r = rng.random()
    for outcome, share in (("failed", knobs.failure_ratio), ("busy", knobs.busy_ratio),
                           ("no_answer", knobs.no_answer_ratio),
                           ("canceled", knobs.canceled_ratio)):
        if r < share:
            return outcome
        r -= share
    return "dropped" if rng.random() < knobs.drop_ratio else "completed"


def draw_call(knobs: ProviderKnobs, rng: random.Random) -> Drawn:
    """Outcome, MOS (answered calls only, N(mean, sd) clamped to 1..4.5) and signals."""
    outcome = draw_outcome(knobs, rng)
    mos = None
    if outcome in ("completed", "dropped"):
        mos = round(min(4.5, max(1.0, rng.gauss(knobs.mos_mean, knobs.mos_sd))), 2)
    twilio_codes, telnyx_signals = SIGNALS[outcome]
    cause, sip = rng.choice(telnyx_signals)
    return Drawn(outcome, mos, rng.choice(twilio_codes), cause, sip)


@dataclass
class TrafficConfig:
    """Where webhooks go and how fast calls come. A None URL skips that provider's webhooks."""

    twilio_url: str | None = None
    telnyx_url: str | None = None
    rate: float = 5.0                 # calls per second, both providers together
    hold_seconds: float = 3.0         # mean hold time of answered calls (wall seconds)
    progress_events: bool = True      # also send in-progress / call.answered at answer
    app_webhook_url: str = "https://app.example.com/webhooks"  # what provider records name
    answer_placed_calls: bool = False  # calls dialled through POST /v2/calls get answered:
    # a call.answered event (with their client_state) to telnyx_url, a hangup after the hold


@dataclass
class TrafficStats:
    started: int = 0
    sent: int = 0
    send_errors: int = 0
    dropped: int = 0                  # not sent: too many sends still in flight
    by_status: dict[int, int] = field(default_factory=dict)


class TrafficGenerator:
    """Generates calls from ``scenario()``; deterministic for a seeded ``rng`` and a clock."""

    def __init__(self, state: SimState, scenario: Callable[[], Scenario], config: TrafficConfig,
                 telnyx_key: Ed25519PrivateKey, rng: random.Random | None = None,
                 clock: Clock | None = None) -> None:
        self.state, self.scenario, self.config = state, scenario, config
        self.telnyx_key = telnyx_key
        self.rng = rng or random.Random(42)
        self.clock = clock or state.clock
        self.stats = TrafficStats()
        self._ending: list[tuple[float, str]] = []   # heap of (end time, call id)
        self._last: float | None = None
        self._budget = 0.0

    def start_call(self, now: float) -> tuple[SimCall, list[Webhook]]:
        """Start one call now; unanswered calls end at once. Returns its webhooks so far."""
        scenario = self.scenario()
        provider = "twilio" if self.rng.random() < scenario.twilio_share else "telnyx"
        drawn = draw_call(scenario.knobs(provider), self.rng)
        answered = drawn.outcome in ("completed", "dropped")
        twilio = provider == "twilio"
        call = SimCall(
            provider, self.state.new_id("CA", 34) if twilio else "v3:" + self.state.new_id("", 40),
            drawn.outcome, self.rng.choice(("outbound", "inbound")),
            f"+1500555{self.rng.randrange(10000):04d}", f"+1415555{self.rng.randrange(10000):04d}",
            now, answered, sip=drawn.sip_twilio if twilio else drawn.sip_telnyx,
            hangup_cause="" if twilio else drawn.telnyx_cause, mos=drawn.mos,
            quality=self._quality(drawn.mos), session_id=str(self._uuid()),
            leg_id=str(self._uuid()))
        self.state.add_call(call)
        self.stats.started += 1
        if not answered:
            return call, self.end_call(call, now)
        hold = self.config.hold_seconds * self.rng.uniform(0.5, 1.5)
        heapq.heappush(self._ending, (now + hold, call.id))
        if not self.config.progress_events:
            return call, []
        return call, [w for w in [self._webhook(call, now, progress=True)] if w]

    def end_call(self, call: SimCall, now: float) -> list[Webhook]:
        """End ``call`` now: state, provider delivery records, final webhook."""
        self.state.end_call(call, now)
        knobs = self.scenario().knobs(call.provider)
        failed = self.rng.random() < knobs.webhook_failure_ratio
        url = self.config.app_webhook_url
        if call.provider == "twilio" and failed:
            self.state.add_alert("11200", call.id, url, "HTTP retrieval failure: the webhook "
                                 "answered 500")
        elif call.provider == "telnyx":
            self.state.add_delivery("failed" if failed else "delivered", "call.hangup", call.id,
                                    url, 500 if failed else 200, attempts=2 if failed else 1)
        webhook = self._webhook(call, now, progress=False)
        return [webhook] if webhook else []

    def step(self, now: float | None = None) -> list[Webhook]:
        """Advance to ``now``: start the calls due at ``rate``, end the calls due to end."""
        now = self.clock() if now is None else now
        if self._last is not None:
            self._budget += max(0.0, now - self._last) * self.config.rate
        self._last = now
        webhooks: list[Webhook] = []
        while self._ending and self._ending[0][0] <= now:
            _, call_id = heapq.heappop(self._ending)
            call = self.state.calls.get(call_id)
            if call is not None and call.active:
                webhooks += self.end_call(call, now)
        while self._budget >= 1.0:
            self._budget -= 1.0
            webhooks += self.start_call(now)[1]
        if self.config.answer_placed_calls:
            webhooks += self.answer_placed(now)
        return webhooks

    def answer_placed(self, now: float) -> list[Webhook]:
        """Answer the Telnyx calls notifiers dialled since the last step (``call.answered``)."""
        webhooks: list[Webhook] = []
        for placed in self.state.placed_calls("telnyx"):
            resource = placed["resource"]
            if ("answered_at" in placed or "call_control_id" not in resource
                    or placed.get("played")):
                continue  # already answered, a TeXML call (answered by its own document), or
                # a call the voice player plays to its dial's webhook_url
            placed["answered_at"] = now
            request = placed["request"]
            call = SimCall("telnyx", resource["call_control_id"], "completed", "outbound",
                           str(request.get("from", "")), str(request.get("to", "")), now, True,
                           sip=200, hangup_cause="normal_clearing", mos=4.4,
                           session_id=resource["call_session_id"], leg_id=resource["call_leg_id"],
                           created_via_api=True, client_state=request.get("client_state"))
            self.state.add_call(call)
            heapq.heappush(self._ending, (now + self.config.hold_seconds, call.id))
            webhook = self._webhook(call, now, progress=True)
            webhooks += [webhook] if webhook else []
        return webhooks

    def generate(self, count: int, now: float | None = None) -> list[Webhook]:
        """Start ``count`` calls and end every one of them at once (for tests and bursts)."""
        now = self.clock() if now is None else now
        webhooks: list[Webhook] = []
        for _ in range(count):
            webhooks += self.start_call(now)[1]
        while self._ending:
            _, call_id = heapq.heappop(self._ending)
            call = self.state.calls.get(call_id)
            if call is not None and call.active:
                webhooks += self.end_call(call, now + self.config.hold_seconds)
        return webhooks

    def _webhook(self, call: SimCall, now: float, progress: bool) -> Webhook | None:
        if call.provider == "twilio" and self.config.twilio_url:
            return twilio_callback(call, self.state.twilio_account_sid,
                                   self.state.twilio_auth_token, self.config.twilio_url, now,
                                   status="in-progress" if progress else None)
        if call.provider == "telnyx" and self.config.telnyx_url:
            return telnyx_event(call, self.telnyx_key, self.state.telnyx_connection_id,
                                self.config.telnyx_url, now,
                                "call.answered" if progress else "call.hangup",
                                str(self._uuid()))
        return None

    def _quality(self, mos: float | None) -> dict | None:
        if mos is None:
            return None
        poor = mos < 3.5
        rng = self.rng
        return {"jitter_avg": round(rng.uniform(8, 30) if poor else rng.uniform(1, 5), 1),
                "jitter_max": round(rng.uniform(40, 120) if poor else rng.uniform(5, 20), 1),
                "jitter_packets": rng.randrange(50, 400) if poor else rng.randrange(0, 20),
                "packet_loss_pct": round(rng.uniform(3, 9) if poor else rng.uniform(0, 0.8), 2)}

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    async def send(self, session: aiohttp.ClientSession, webhooks: list[Webhook],
                   timeout: float = 10.0) -> None:
        """POST ``webhooks`` concurrently; failures are counted, never raised."""
        async def one(webhook: Webhook) -> None:
            try:
                async with session.post(webhook.url, data=webhook.body, headers=webhook.headers,
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                    await resp.read()
                    self.stats.by_status[resp.status] = self.stats.by_status.get(resp.status, 0) + 1
                    self.stats.sent += 1
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.stats.send_errors += 1
                log.debug("webhook to %s failed: %s", webhook.url, exc)

        await asyncio.gather(*(one(w) for w in webhooks))

    async def run(self, tick: float = 0.1, max_in_flight: int = 64) -> None:
        """Step every ``tick`` seconds and send each step's webhooks without waiting for the
        previous ones (a slow target must not slow the call rate), until cancelled. Past
        ``max_in_flight`` unfinished sends, a step's webhooks are dropped and counted."""
        pending: set[asyncio.Task] = set()
        async with aiohttp.ClientSession() as session:
            try:
                while True:
                    webhooks = self.step()
                    if webhooks and len(pending) < max_in_flight:
                        task = asyncio.create_task(self.send(session, webhooks))
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                    elif webhooks:
                        self.stats.dropped += len(webhooks)
                    await asyncio.sleep(tick)
            finally:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
