"""A signed Twilio status callback to a webhook endpoint.

Signed with ``TWILIO_AUTH_TOKEN`` over the target URL exactly as configured (configure the public
URL the endpoint's owner validates against). Carries ``X-Callwatch-Probe: 1`` so callwatch's own
ingestion verifies it but does not count it as a call.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from callwatch.signatures import twilio_sign
from exporter.probes import ProbeContext, ProbeResult
from exporter.probes.send import exchange, failed
from exporter.webhooks import PROBE_HEADER
from policy.spec_exporter import ProbeTarget


def probe_form() -> dict[str, str]:
    return {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": "AC" + "0" * 32,
            "CallStatus": "completed", "CallbackSource": "call-progress-events",
            "Direction": "outbound-api", "From": "+15005550006", "To": "+15005550006",
            "SequenceNumber": "0", "ApiVersion": "2010-04-01", "CallDuration": "0"}


async def probe(ctx: ProbeContext, target: ProbeTarget) -> ProbeResult:
    if not ctx.twilio_auth_token:
        return failed(target, "TWILIO_AUTH_TOKEN is not set: cannot sign a Twilio probe")
    form = probe_form()
    headers = {"X-Twilio-Signature": twilio_sign(ctx.twilio_auth_token, target.url, form),
               "Content-Type": "application/x-www-form-urlencoded", PROBE_HEADER: "1"}
    return await exchange(ctx, target, "POST", data=urlencode(form).encode(), headers=headers)
