"""Synthetic probes in blackbox_exporter's style: one module per kind, wired through ``PROBES``.

A probe takes a :class:`ProbeContext` and a ``policy.spec_exporter.ProbeTarget`` and returns a
:class:`ProbeResult`; it never raises for a failing target (failure is a metric value).
Beside the kinds: ``send`` (the one HTTP exchange), ``tls`` (certificate expiry of https
targets), ``runner`` (rounds and metrics), and ``egress``, callwatch's own egress control probe,
which runs apart from the policy's targets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy.spec_exporter import ProbeTarget


@dataclass(frozen=True)
class ProbeResult:
    target: str
    kind: str
    success: bool
    duration: float
    status: int | None          # HTTP status, None when no answer came
    detail: str
    cert_expiry: float | None = None   # https: unix time the peer's earliest certificate expires


@dataclass
class ProbeContext:
    session: aiohttp.ClientSession
    timeout: float
    clock: Callable[[], float]
    monotonic: Callable[[], float]
    twilio_auth_token: str | None = None
    telnyx_private_key: Ed25519PrivateKey | None = None


Probe = Callable[[ProbeContext, ProbeTarget], Awaitable[ProbeResult]]


def _registry() -> dict[str, Probe]:
    from exporter.probes import http, telnyx_webhook, twilio_webhook
    return {"twilio_webhook": twilio_webhook.probe, "telnyx_webhook": telnyx_webhook.probe,
            "http": http.probe}


PROBES: dict[str, Probe] = {}


def probe_for(kind: str) -> Probe:
    """The probe function of ``kind`` (the keys of policy.spec_exporter.PROBE_KINDS)."""
    if not PROBES:
        PROBES.update(_registry())
    return PROBES[kind]
