"""Helpers shared by the simulator tests (imported as ``simhelpers``)."""

from __future__ import annotations

from simulator.state import SimCall, SimState

NOW = 1_795_000_000.0  # 2026-11-18T11:06:40Z: fixed so filters and formats are checkable


class FakeClock:
    """A settable clock; tests move it with ``advance``."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def add_call(state: SimState, provider: str, outcome: str, start: float, *,
             answered: bool | None = None, duration: float = 60, mos: float | None = 4.2,
             sip: int = 200, cause: str = "normal_clearing", ended: bool = True) -> SimCall:
    """Put one call in ``state`` (ended ``duration`` seconds after ``start`` unless not)."""
    prefix = "CA" if provider == "twilio" else "v3:"
    answered = outcome in ("completed", "dropped") if answered is None else answered
    call = SimCall(provider, state.new_id(prefix, 34 if provider == "twilio" else 25), outcome,
                   "outbound", "+15005550006", "+15005550001", start, answered,
                   sip=sip, hangup_cause=cause, mos=mos if answered else None,
                   quality={"jitter_avg": 3, "jitter_max": 12, "packet_loss_pct": 0.4},
                   session_id=state.new_id("", 32), leg_id=state.new_id("", 32))
    state.add_call(call)
    if ended:
        state.end_call(call, start + (duration if answered else 0))
    return call
