"""What the simulated providers know: calls, Insights summaries, alerts, webhook deliveries.

Pure data plus small queries; no I/O. Every timestamp is epoch seconds from the injected clock,
and rendered in each provider's own format by the HTTP modules (``twilio.py``, ``telnyx.py``).
One :class:`SimState` is shared by the HTTP apps, the traffic generator and the control API.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]

# Outcome names are callwatch's (policy.catalog.OUTCOMES); providers see their own spellings.
ANSWERED = ("completed", "dropped")

DEFAULT_TWILIO_SID = "AC" + "0" * 30 + "01"
DEFAULT_TELNYX_CONNECTION = "1684641123236054244"


@dataclass
class SimCall:
    """One call at one provider. ``end`` is None while the call is up."""

    provider: str                 # "twilio" | "telnyx"
    id: str                       # Twilio CallSid / Telnyx call_control_id
    outcome: str                  # callwatch outcome the call ends with (decided at start)
    direction: str                # "inbound" | "outbound"
    from_: str
    to: str
    start: float
    answered: bool
    end: float | None = None
    duration: int = 0             # seconds of conversation (0 when not answered)
    sip: int | None = None        # final SIP code (Twilio SipResponseCode, Telnyx sip_hangup_cause)
    hangup_cause: str = ""        # Telnyx hangup_cause
    mos: float | None = None      # inbound MOS when media flowed
    quality: dict | None = None   # jitter / packet stats (numbers; rendered as providers do)
    session_id: str = ""
    leg_id: str = ""
    created_via_api: bool = False  # made by POST /Calls.json or POST /v2/calls (notifiers)
    client_state: str | None = None  # Telnyx client_state given at dial, echoed in events
    sequence: int = 0             # Twilio SequenceNumber of the last callback sent

    @property
    def active(self) -> bool:
        return self.end is None


@dataclass
class MonitorAlert:
    """A Twilio Monitor (debugger) alert, e.g. 11200 for a failed webhook retrieval."""

    sid: str
    error_code: str
    log_level: str
    created: float
    resource_sid: str
    request_url: str
    alert_text: str


@dataclass
class WebhookDelivery:
    """A Telnyx webhook delivery record with its attempts."""

    id: str
    status: str                   # "delivered" | "failed"
    event_type: str
    started: float
    finished: float
    call_id: str
    url: str
    attempts: list[dict] = field(default_factory=list)


@dataclass
class SimState:
    """Everything the simulated providers hold, plus the shared clock and random source."""

    clock: Clock = time.time
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    twilio_account_sid: str = DEFAULT_TWILIO_SID
    twilio_auth_token: str = "sim-twilio-auth-token"
    telnyx_api_key: str = "KEYsimulator-telnyx-api-key"
    telnyx_connection_id: str = DEFAULT_TELNYX_CONNECTION
    slack_token: str = "xoxb-simulator-slack-token"
    slack_signing_secret: str = "simulator-slack-signing-secret"  # signs button clicks
    pagerduty_routing_key: str = "R0UT1NGKEYSIMULATOR0000000000000"
    statuspage_api_key: str = "simulator-statuspage-api-key"     # the manage API's OAuth key
    statuspage_page_id: str = "simpage0001"                        # the one page it manages
    statuspage_incidents: dict[str, dict] = field(default_factory=dict)  # id -> incident
    calls: dict[str, SimCall] = field(default_factory=dict)
    alerts: list[MonitorAlert] = field(default_factory=list)
    deliveries: list[WebhookDelivery] = field(default_factory=list)
    placed: dict[str, dict] = field(default_factory=dict)
    # Statuspage indicator per provider: none | minor | major | critical | maintenance
    status_indicator: dict[str, str] = field(
        default_factory=lambda: {"twilio": "none", "telnyx": "none"})
    max_calls: int = 50_000       # oldest ended calls are forgotten past this (bounded memory)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def new_id(self, prefix: str, width: int = 32) -> str:
        """A unique, deterministic id such as ``CA000…0042`` (prefix + zero-padded hex)."""
        number = next(self._ids)
        return f"{prefix}{number:0{width - len(prefix)}x}"

    def add_call(self, call: SimCall) -> SimCall:
        """Store ``call``; forget the oldest ended calls beyond ``max_calls``."""
        self.calls[call.id] = call
        if len(self.calls) > self.max_calls:
            ended = [c.id for c in self.calls.values() if not c.active]
            for old_id in ended[: len(self.calls) // 10]:
                del self.calls[old_id]
        return call

    def provider_calls(self, provider: str) -> list[SimCall]:
        """Calls of ``provider``, newest first (as both providers list them)."""
        found = [c for c in self.calls.values() if c.provider == provider]
        found.sort(key=lambda c: (c.start, c.id), reverse=True)
        return found

    def active_calls(self, provider: str) -> list[SimCall]:
        return [c for c in self.provider_calls(provider) if c.active]

    def end_call(self, call: SimCall, when: float) -> None:
        """Mark ``call`` ended at ``when``; its duration is the answered time in seconds."""
        call.end = when
        call.duration = max(1, round(when - call.start)) if call.answered else 0

    def add_alert(self, error_code: str, resource_sid: str, request_url: str,
                  text: str, log_level: str = "error") -> MonitorAlert:
        alert = MonitorAlert(self.new_id("NO", 34), error_code, log_level, self.clock(),
                             resource_sid, request_url, text)
        self.alerts.append(alert)
        del self.alerts[: max(0, len(self.alerts) - self.max_calls)]
        return alert

    def add_delivery(self, status: str, event_type: str, call_id: str, url: str,
                     http_status: int, attempts: int = 1) -> WebhookDelivery:
        """Record a Telnyx webhook delivery; a failed one carries ``attempts`` failed tries."""
        now = self.clock()
        tries = [{"status": "failed" if status == "failed" or i < attempts - 1 else "delivered",
                  "started_at": now, "finished_at": now,
                  "errors": [75499] if status == "failed" or i < attempts - 1 else [],
                  "http": {"request": {"url": url, "headers": []},
                           "response": {"status": http_status if status == "failed" else 200,
                                        "headers": [], "body": ""}}}
                 for i in range(attempts)]
        delivery = WebhookDelivery(self.new_id("", 32), status, event_type, now, now,
                                   call_id, url, tries)
        self.deliveries.append(delivery)
        del self.deliveries[: max(0, len(self.deliveries) - self.max_calls)]
        return delivery

    def place(self, provider: str, call_id: str, request: dict, resource: dict) -> dict:
        """Record a call created through the API (what the phone notifier asked for)."""
        item = {"provider": provider, "id": call_id, "request": request, "resource": resource,
                "at": self.clock()}
        self.placed[call_id] = item
        return item

    def placed_calls(self, provider: str | None = None) -> list[dict]:
        return [p for p in self.placed.values() if provider in (None, p["provider"])]

    def reset(self) -> None:
        """Forget every call, alert and delivery (credentials and clock stay)."""
        self.calls.clear()
        self.alerts.clear()
        self.deliveries.clear()
        self.placed.clear()
