"""Vendor escalation drafts: the account values and the exporter's evidence, then the rows.

``await vendor_context(incident, policy, config, session, now=...)`` reads what the pure
``receiver.domain.vendor.vendor_fields`` needs:

- the account values from the environment variables (or files) the policy names in
  ``vendors.<provider>.account`` (``account_id_env``, ``connection_id_env``, ``numbers_env`` —
  a comma-separated list — or their ``*_file`` forms);
- the exporter's ``GET {config.exporter_url}/telephony/providers/{provider}/health``
  (``CALLWATCH_EXPORTER_URL``, else ``CALLWATCH_PUBLIC_URL``), sent with the receiver's own
  credentials (the exporter asks for the same ones: give both the same token). Any failure
  there (no URL, refused, timeout, bad JSON) leaves the evidence empty: it never raises.

``vendor_drafter(...)`` is the escalation worker's hook that turns a due vendor action into
outbox rows (``receiver.domain.vendor.vendor_payloads``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiohttp

from callwatch.credentials import Credentials, authorization
from callwatch.secrets import SecretError, read_secret_file
from policy import Policy
from receiver.config import ReceiverConfig
from receiver.domain.escalation import Action
from receiver.domain.ids import new_id
from receiver.domain.model import Event, Incident, NewOutbox
from receiver.domain.vendor import vendor_fields, vendor_payloads
from receiver.services.escalation import VendorRows
from receiver.services.state import ReceiverState

log = logging.getLogger("callwatch.receiver.vendor")
HEALTH_TIMEOUT = 3.0
ACCOUNT_NAMES = ("account_id", "connection_id", "numbers")


def _account_value(account: Mapping[str, str], name: str, environ: Mapping[str, str]
                   ) -> tuple[str | None, str | None]:
    """(value, source) of ``<name>_env`` / ``<name>_file``; (None, None) when not asked for."""
    if f"{name}_env" in account:
        variable = account[f"{name}_env"]
        return environ.get(variable, ""), variable
    if f"{name}_file" in account:
        path = account[f"{name}_file"]
        try:
            return read_secret_file(path, name), path
        except SecretError:
            return "", path
    return None, None


def health_url(exporter_url: str, provider: str) -> str | None:
    base = exporter_url.rstrip("/")
    return f"{base}/telephony/providers/{provider}/health" if base else None


async def fetch_health(session: aiohttp.ClientSession | None, url: str | None,
                       credentials: Credentials | None = None) -> Mapping[str, Any] | None:
    """The exporter's provider health JSON, or None on any failure (logged, never raised).
    Sends ``credentials``: the exporter's routes take the same ones as the receiver's."""
    if session is None or url is None:
        return None
    header = authorization(credentials) if credentials else None
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT),
                               headers={"Authorization": header} if header else None) as resp:
            if resp.status != 200:
                log.warning("provider health unavailable", extra={"status": resp.status})
                return None
            body = await resp.json(content_type=None)
            return body if isinstance(body, dict) else None
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        log.warning("provider health unavailable", extra={"error": type(exc).__name__})
        return None


async def vendor_context(incident: Incident, policy: Policy, config: ReceiverConfig,
                         session: aiohttp.ClientSession | None, *,
                         now: float | None = None) -> dict[str, Any] | None:
    """The template's ``vendor`` fields (module docstring); None when the incident's provider
    has no vendor entry. Never raises for an unreachable exporter."""
    if incident.provider not in policy.vendors:
        return None
    health = await fetch_health(session, health_url(config.exporter_url, incident.provider or ""),
                                config.credentials)
    vendor = policy.vendors[incident.provider or ""]
    account = {name: _account_value(vendor.account, name, config.environ)
               for name in ACCOUNT_NAMES}
    return vendor_fields(incident, policy, account, time.time() if now is None else now, health)


def vendor_drafter(state: ReceiverState) -> VendorRows:
    """The escalation worker's vendor rows: the vendor email drafted from the incident and the
    exporter's provider health (example failed calls, errors), sent to the on-call, and to the
    vendor only where the policy opts in (``receiver.domain.vendor.vendor_payloads``)."""
    async def draft(incident: Incident, timeline: list[Event], action: Action, now: float,
                    batch: str) -> list[NewOutbox]:
        about = replace(incident, provider=action.provider)  # "all" -> each vendor in turn
        vendor = await vendor_context(about, state.policy, state.config, state.http, now=now)
        if vendor is None:
            return []
        return vendor_payloads(about, timeline, state.policy, vendor, now=now, new_id=new_id,
                               batch=batch, comms=state.comms,
                               public_url=state.config.public_url)

    return draft
