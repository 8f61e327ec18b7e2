"""An HTTP GET of the app's API: success on any 2xx, or on exactly ``expect_status``."""

from __future__ import annotations

from exporter.probes import ProbeContext, ProbeResult
from exporter.probes.send import exchange
from policy.spec_exporter import ProbeTarget


async def probe(ctx: ProbeContext, target: ProbeTarget) -> ProbeResult:
    expected = target.expect_status
    ok = (lambda status: status == expected) if expected else (lambda s: 200 <= s < 300)
    return await exchange(ctx, target, "GET", ok=ok)
