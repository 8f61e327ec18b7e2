"""callwatch's own failure pages someone, around callwatch, over the real Prometheus and
Alertmanager: with callwatch stopped, the generated rules raise CallwatchTargetDown and the
generated route sends it to the out-of-band pager (alertmanager.fallback_receiver, the
simulator's), which is all that can still hear it. Policy time runs 60 times faster."""

from __future__ import annotations

import asyncio

import pytest

from callwatch.demo.stack import DemoStack
from tests.e2e.harness import eventually

pytestmark = pytest.mark.e2e


async def test_a_stopped_callwatch_reaches_the_out_of_band_pager(tmp_path):
    async with DemoStack(tmp_path, scenario="normal", call_rate=5.0) as stack:
        pager = stack.simulator.oob
        await asyncio.sleep(5)                      # a few evaluations with callwatch up
        assert pager.alerts("CallwatchTargetDown") == []
        callwatch = stack.processes[0]
        await asyncio.to_thread(callwatch.stop)     # the receiver dies with it

        async def paged():
            return pager.alerts("CallwatchTargetDown")

        [alert, *_] = await eventually(paged, 60, "CallwatchTargetDown at the out-of-band pager")
        assert alert["labels"]["component"] == "callwatch"
        assert alert["labels"]["priority"] == stack.policy.self_monitoring.priority
        assert alert["labels"]["job"] == "callwatch"
        # the heartbeat goes to callwatch alone, never around it
        assert pager.alerts("CallwatchWatchdog") == []
