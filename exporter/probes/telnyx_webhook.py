"""A signed Telnyx ``call.hangup`` event to a webhook endpoint.

Signed with ``CALLWATCH_PROBE_TELNYX_PRIVATE_KEY``; the target must trust its public key
(callwatch: ``TELNYX_PUBLIC_KEY``). Carries ``X-Callwatch-Probe: 1`` (see twilio_webhook).
"""

from __future__ import annotations

import json
import secrets

from callwatch.signatures import telnyx_sign
from exporter.probes import ProbeContext, ProbeResult
from exporter.probes.send import exchange, failed
from exporter.webhooks import PROBE_HEADER
from policy.spec_exporter import ProbeTarget


def probe_body(now: float) -> bytes:
    leg = secrets.token_hex(16)
    return json.dumps({"data": {
        "record_type": "event", "event_type": "call.hangup", "id": secrets.token_hex(16),
        "occurred_at": _iso(now),
        "payload": {"call_control_id": f"v3:probe-{leg}", "call_leg_id": f"probe-{leg}",
                    "call_session_id": f"probe-{leg}", "hangup_cause": "normal_clearing",
                    "hangup_source": "caller", "sip_hangup_cause": "200", "state": "hangup",
                    "from": "+15005550006", "to": "+15005550006"}},
        "meta": {"attempt": 1, "delivered_to": "probe"}}).encode()


def _iso(now: float) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def probe(ctx: ProbeContext, target: ProbeTarget) -> ProbeResult:
    if ctx.telnyx_private_key is None:
        return failed(target, "CALLWATCH_PROBE_TELNYX_PRIVATE_KEY is not set: cannot sign a "
                              "Telnyx probe")
    now = ctx.clock()
    body = probe_body(now)
    headers = telnyx_sign(ctx.telnyx_private_key, body, int(now))
    headers.update({"Content-Type": "application/json", PROBE_HEADER: "1"})
    return await exchange(ctx, target, "POST", data=body, headers=headers)
