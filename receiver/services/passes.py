"""How a periodic worker (escalation, the dead man's switch, handoff notices) runs its passes.

A pass that fails on the store is logged as a warning and tried again at the next one; any
other exception is logged with its traceback: a worker must outlive its bugs, since nothing
else would page. Between passes a worker sleeps until its poll interval passes or an event
(a wake-up, or its stop) is set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from receiver.store.base import StoreError


async def guarded(run_once: Callable[[], Awaitable[object]], log: logging.Logger,
                  what: str) -> None:
    """Run one pass; log its failure (``<what> pass failed`` / ``crashed``), never raise."""
    try:
        await run_once()
    except StoreError as exc:
        log.warning(f"{what} pass failed", extra={"error": str(exc)})
    except Exception:  # the worker must outlive its bugs
        log.exception(f"{what} pass crashed")


async def pause(event: asyncio.Event, seconds: float) -> None:
    """Sleep until ``event`` is set or ``seconds`` pass, whichever is first (the event is
    left as it is: the caller clears a wake-up, never its stop)."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
