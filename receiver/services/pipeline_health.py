"""Health of the receiver's parts: the store and each notification channel.

``store_health`` answers both ``/readyz``'s store check and ``/alerting/health``;
``pipeline_health`` is the receiver's part of ``/alerting/health``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from receiver.services.state import ReceiverState


@dataclass(frozen=True)
class Health:
    up: bool
    detail: str
    error: str | None = None


async def store_health(state: ReceiverState) -> Health:
    """Up when the store answers a ping within 2 s; ``detail`` is its dialect."""
    if state.store is None:
        return Health(False, "not open", "not open")
    try:
        async with asyncio.timeout(2.0):
            await state.store.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means down; the text says which
        return Health(False, state.store.dialect, str(exc)[:200] or type(exc).__name__)
    return Health(True, state.store.dialect)


async def pipeline_health(state: ReceiverState) -> list[dict]:
    """One entry per component: ``{"name", "up", "detail", "last_error"}``.

    A channel is up until a send fails, and again after the next send works; one that has
    sent nothing yet is up with detail "no sends yet".
    """
    store = await store_health(state)
    components = [{"name": "store", "up": store.up, "detail": store.detail,
                   "last_error": store.error}]
    outcomes = state.dispatcher.last_outcome if state.dispatcher is not None else {}
    for channel, spec in state.policy.channels.items():
        worked, error, _at = outcomes.get(channel, (True, None, None))
        detail = spec.type if channel in outcomes else f"{spec.type}: no sends yet"
        components.append({"name": f"notifier:{channel}", "up": worked, "detail": detail,
                           "last_error": error})
    return components
