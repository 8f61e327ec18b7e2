"""Outbound calls the simulated providers play out, as a person on the phone would.

The receiver pages people by placing calls (Twilio ``POST .../Calls.json``, Telnyx
``POST /v2/calls``). When such a call names somewhere to call back (a ``StatusCallback`` or a
``<Gather action>``; a ``webhook_url``), :class:`Voice` plays it in a background task after the
create request has been answered, following the behaviour the :class:`PhoneBook` holds for its
``To`` number ("answer and press 1", "no-answer", "busy", ...). Every callback sent and every
command received is kept in the call's :class:`PlayedCall`, so tests can await the end of a
call (``await voice.settled()``) and check what the receiver was told and what it answered.

What each provider sends lives in ``voice_twilio.py`` and ``voice_telnyx.py``; this module holds
what both share: behaviours, records, the HTTP sender and the task bookkeeping. A callback the
receiver answers with a non-2xx, or cannot be reached for, is recorded and never retried.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field, fields

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simulator.state import SimState

log = logging.getLogger("simulator.voice")

BEHAVIOURS = ("answer", "no-answer", "busy", "failed", "canceled", "machine")
UNANSWERED = ("no-answer", "busy", "failed", "canceled")
ANY_NUMBER = "*"
DIGITS = re.compile(r"[0-9*#]*")
BODY_LIMIT = 16_384  # characters of a receiver's answer kept in the record


class BadBehaviour(ValueError):
    """A behaviour the phone book refuses; ``code`` names the problem for the control API."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Behaviour:
    """What the person at a number does: ``name`` in BEHAVIOURS; ``digits``: one key pressed
    per Gather round, in order (only ``answer`` presses keys)."""

    name: str = "answer"
    digits: str = ""


class PhoneBook:
    """Behaviour per number; ``"*"`` (or None) is every number without its own. Unset: answer,
    press nothing."""

    def __init__(self) -> None:
        self._by_number: dict[str, Behaviour] = {}

    def set(self, number: str | None, name: str, digits: str = "") -> Behaviour:
        """Set the behaviour of ``number``; BadBehaviour (code ``unknown_behaviour``,
        ``invalid_digits`` or ``invalid_number``) when refused."""
        if number is not None and (not isinstance(number, str) or not number.strip()):
            raise BadBehaviour("invalid_number", "number must be a phone number or '*'")
        if name not in BEHAVIOURS:
            raise BadBehaviour("unknown_behaviour", f"unknown behaviour {name!r}; "
                                                    f"one of {', '.join(BEHAVIOURS)}")
        if not isinstance(digits, str) or not DIGITS.fullmatch(digits):
            raise BadBehaviour("invalid_digits", "digits must be a string of 0-9, * and #, "
                                                 "one key per Gather round")
        chosen = Behaviour(name, digits)
        self._by_number[(number or ANY_NUMBER).strip()] = chosen
        return chosen

    def lookup(self, number: str) -> Behaviour:
        return self._by_number.get(number) or self._by_number.get(ANY_NUMBER) or Behaviour()

    def as_dict(self) -> dict:
        return {number: asdict(b) for number, b in self._by_number.items()}

    def clear(self) -> None:
        self._by_number.clear()


@dataclass
class Callback:
    """One request sent to the receiver and what came back.

    ``kind``: Twilio ``"gather"`` (a Gather action) or ``"status"`` (the status callback);
    Telnyx the event type. ``payload``: the form fields (Twilio) or the event envelope (Telnyx).
    ``status`` is None when the receiver could not be reached (``error`` says why).
    """

    kind: str
    method: str
    url: str
    payload: dict
    status: int | None = None
    body: str = ""
    error: str | None = None
    at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Command:
    """One Telnyx command on a played call; ``accepted`` is False when it was refused (422)."""

    action: str
    body: dict
    accepted: bool
    at: float


@dataclass(eq=False)
class PlayedCall:
    """A call being (or that was) played. ``status``: ``playing``, ``ended``, or ``stopped``
    (cancelled by reset/close). ``outcome``: Twilio's final CallStatus, Telnyx's hangup_cause."""

    provider: str
    id: str
    to: str
    from_: str
    behaviour: str
    digits: str
    machine_detection: bool
    started_at: float
    resource: dict = field(default_factory=dict, repr=False)  # what GET on the call shows
    status: str = "playing"
    outcome: str = ""
    ended_at: float | None = None
    callbacks: list[Callback] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    spoken: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def settled(self, timeout: float = 10.0) -> PlayedCall:
        """Wait until the call has finished playing (TimeoutError after ``timeout`` s)."""
        async with asyncio.timeout(timeout):
            await self.done.wait()
        return self

    def as_dict(self) -> dict:
        """JSON-ready record (no secrets: signatures and credentials are never kept)."""
        names = [f.name for f in fields(PlayedCall) if f.name not in ("done", "resource")]
        out = {("from" if n == "from_" else n): getattr(self, n) for n in names}
        out["callbacks"] = [asdict(c) for c in self.callbacks]
        out["commands"] = [asdict(c) for c in self.commands]
        out["spoken"] = list(self.spoken)
        return out


async def respond_then(request: web.Request, response: web.Response,
                       start: Callable[[], object]) -> web.Response:
    """Send ``response`` completely, then call ``start`` (even when the client went away, as a
    real provider plays a call it created): a call's first callback or a command's follow-up
    event never overtakes the answer to the request that caused it."""
    try:
        await response.prepare(request)
        await response.write_eof()
    finally:
        start()
    return response


class Voice:
    """The played calls of one simulator, their tasks, and the session that calls back."""

    def __init__(self, state: SimState, telnyx_key: Ed25519PrivateKey, *,
                 callback_timeout: float = 10.0, idle_hangup_seconds: float | None = 120.0
                 ) -> None:
        self.state, self.telnyx_key = state, telnyx_key
        self.callback_timeout = callback_timeout
        # A Telnyx callee who hears nothing for this long hangs up (None: never).
        self.idle_hangup_seconds = idle_hangup_seconds
        self.phone_book = PhoneBook()
        self.calls: dict[str, PlayedCall] = {}
        self._tasks: set[asyncio.Task] = set()
        self._session: aiohttp.ClientSession | None = None

    def now(self) -> float:
        return self.state.clock()

    def register(self, call: PlayedCall) -> PlayedCall:
        """Record ``call`` before its create request is answered, so tests see it at once."""
        self.calls[call.id] = call
        return call

    def launch(self, call: PlayedCall, script: Coroutine) -> None:
        """Play ``call`` by running ``script`` in a task kept until it ends."""
        task = asyncio.create_task(self._run(call, script), name=f"simulator-voice-{call.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A done callback, not a finally: a task cancelled before its first step never runs
        # its coroutine, and the call must still be marked finished (and its script closed).
        task.add_done_callback(lambda done: self._finish(call, script, done.cancelled()))

    async def _run(self, call: PlayedCall, script: Coroutine) -> None:
        try:
            await script
        except Exception:  # one broken call must not stop the others or the simulator
            log.exception("playing %s call %s failed", call.provider, call.id)

    def _finish(self, call: PlayedCall, script: Coroutine, cancelled: bool) -> None:
        script.close()  # no "never awaited" warning when cancelled before it started
        call.status = "stopped" if cancelled else "ended"
        call.ended_at = call.ended_at or self.now()
        call.done.set()

    def played(self, provider: str | None = None) -> list[PlayedCall]:
        return [c for c in self.calls.values() if provider in (None, c.provider)]

    async def settled(self, timeout: float = 10.0) -> list[PlayedCall]:
        """Wait until every call played so far has finished; TimeoutError naming the others."""
        calls = list(self.calls.values())
        try:
            async with asyncio.timeout(timeout):
                for call in calls:
                    await call.done.wait()
        except TimeoutError:
            playing = [c.id for c in calls if not c.done.is_set()]
            raise TimeoutError(f"calls still playing after {timeout}s: {playing}") from None
        return calls

    async def deliver(self, call: PlayedCall, kind: str, method: str, url: str, payload: dict,
                      *, data: bytes | None, headers: dict[str, str]) -> Callback:
        """Send one callback, record it on ``call``; never raises for the receiver's sake."""
        sent = Callback(kind, method, url, payload, at=self.now())
        call.callbacks.append(sent)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.request(
                    method, url, data=data, headers=headers, allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=self.callback_timeout)) as response:
                sent.status = response.status
                sent.body = (await response.text(errors="replace"))[:BODY_LIMIT]
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            sent.error = f"unreachable: {type(exc).__name__}: {exc}"[:500]
            log.debug("%s callback to %s failed: %s", call.provider, url, exc)
        return sent

    def as_dict(self) -> dict:
        return {"behaviours": self.phone_book.as_dict(),
                "default": asdict(self.phone_book.lookup(ANY_NUMBER)),
                "calls": [c.as_dict() for c in self.calls.values()]}

    def reset(self) -> None:
        """Forget behaviours and played calls; calls still playing are stopped."""
        for task in list(self._tasks):
            task.cancel()
        self.calls.clear()
        self.phone_book.clear()

    async def close(self) -> None:
        """Stop every call still playing and close the session."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
