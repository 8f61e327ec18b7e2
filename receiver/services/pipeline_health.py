"""The receiver's part of ``GET /alerting/health``: the store and each notification channel."""

from __future__ import annotations

import asyncio

from receiver.services.state import ReceiverState


async def pipeline_health(state: ReceiverState) -> list[dict]:
    """One entry per component: ``{"name", "up", "detail", "last_error"}``.

    A channel is up until a send fails, and again after the next send works; one that has
    sent nothing yet is up with detail "no sends yet".
    """
    components = [await _store(state)]
    outcomes = getattr(state.dispatcher, "last_outcome", {})
    for channel, spec in state.policy.channels.items():
        worked, error, _at = outcomes.get(channel, (True, None, None))
        detail = spec.type if channel in outcomes else f"{spec.type}: no sends yet"
        components.append({"name": f"notifier:{channel}", "up": worked, "detail": detail,
                           "last_error": error})
    return components


async def _store(state: ReceiverState) -> dict:
    if state.store is None:
        return {"name": "store", "up": False, "detail": "not open", "last_error": "not open"}
    try:
        async with asyncio.timeout(2.0):
            await state.store.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means down; the text says which
        error = str(exc)[:200] or type(exc).__name__
        return {"name": "store", "up": False, "detail": state.store.dialect, "last_error": error}
    return {"name": "store", "up": True, "detail": state.store.dialect, "last_error": None}
