"""A periodic worker's pass: a failure is logged and the worker carries on; the pause ends at
its event or its interval."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from receiver.services.passes import guarded, pause
from receiver.store.base import StoreError

log = logging.getLogger("callwatch.test.passes")


async def _store_down() -> None:
    raise StoreError("database is locked")


async def _bug() -> None:
    raise KeyError("oops")


@pytest.mark.parametrize("run_once,level,message", [
    pytest.param(_store_down, logging.WARNING, "escalation pass failed",
                 id="a store outage is a warning and the worker goes on"),
    pytest.param(_bug, logging.ERROR, "escalation pass crashed",
                 id="a bug is logged with its traceback and the worker goes on"),
])
async def test_a_failing_pass_is_logged_never_raised(caplog, run_once, level, message) -> None:
    with caplog.at_level(logging.WARNING, logger=log.name):
        await guarded(run_once, log, "escalation")
    [record] = caplog.records
    assert (record.levelno, record.getMessage()) == (level, message)
    assert (record.exc_info is not None) == (level == logging.ERROR)


async def test_a_pause_ends_when_its_event_is_set_and_leaves_it_set() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, event.set)
    started = time.monotonic()
    await pause(event, 30)
    assert time.monotonic() - started < 5 and event.is_set()


async def test_a_pause_ends_after_its_interval_without_the_event() -> None:
    event = asyncio.Event()
    await pause(event, 0.05)
    assert not event.is_set()
