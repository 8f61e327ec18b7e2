"""Atlassian Statuspage: the customer notice as a status page incident, created once, then
updated.

A notification on the status page carries the incident's name (``summary``), the notice
(``text``, the rendered ``customer_notice``) and, in ``details``, ``status`` (investigating,
identified, monitoring, resolved), ``impact`` (none, minor, major, critical) and
``components`` (comma-separated component ids). Without a ``thread_ref`` it creates the
incident (``POST {base}/pages/{page_id}/incidents``) and ``Delivery.ref`` is the Statuspage
incident id the dispatcher keeps for the row; with one (an earlier row of the incident was
delivered) it updates that incident (``PATCH {base}/pages/{page_id}/incidents/{thread_ref}``)
and never creates another. Every request sends ``Authorization: OAuth <api key>``.

Statuspage takes no idempotency key, so a create that may already have happened (an earlier
send timed out, met a 5xx or died mid-send: ``Notification.maybe_sent_since``) first reads the
page's unresolved incidents (``GET {base}/pages/{page_id}/incidents/unresolved``). One with the
same name whose first update carries the same text, created at or after ``maybe_sent_since``
(less ``LOOKBACK_MARGIN`` for clock skew), is that earlier create: its id is delivered
(``Delivery.found``) and nothing is posted. When the page cannot be read the send fails,
retryable, rather than risk a second incident customers would see.

The affected components show ``COMPONENT_STATUS[impact]`` while the incident is open and
``operational`` once it is resolved. Failures: HTTP statuses by the shared table
(``receiver.notify.common.http_error``: 429/408/5xx retried; 401/403 auth, 404 config, other
4xx rejected, none retried), a timeout or a refused connection retried, an untrusted TLS
certificate a ``config`` failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from receiver.notify.base import Delivery, Notification, NotifyError
from receiver.notify.common import http_error, transport_error, truncate

DEFAULT_BASE_URL = "https://api.statuspage.io/v1"
STATUSES = ("investigating", "identified", "monitoring", "resolved")
IMPACTS = ("none", "minor", "major", "critical")
COMPONENT_STATUS = {"none": "degraded_performance", "minor": "degraded_performance",
                    "major": "partial_outage", "critical": "major_outage"}
NAME_LIMIT = 255   # Statuspage's limit on an incident name
LOOKBACK_MARGIN = 120.0   # seconds: our clock and Statuspage's may disagree


@dataclass(frozen=True)
class StatuspageSettings:
    """One page (``page_id``), its ``api_key``; ``base_url`` without a trailing slash."""

    api_key: str = field(repr=False)
    page_id: str = ""
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 10.0


class StatuspageNotifier:
    """Creates or updates the incident's status page incident (module docstring)."""

    channel_type = "statuspage"

    def __init__(self, settings: StatuspageSettings) -> None:
        self._settings = settings
        self._base = settings.base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def send(self, notification: Notification) -> Delivery:
        body = {"incident": incident_body(notification)}
        url = f"{self._base}/pages/{self._settings.page_id}/incidents"
        method = "POST"
        if notification.thread_ref:
            method, url = "PATCH", f"{url}/{notification.thread_ref}"
        elif notification.maybe_sent_since is not None:
            found = await self._created_before(url, body["incident"],
                                               notification.maybe_sent_since)
            if found:
                return Delivery(ref=found, via="statuspage", found=True)
        answer = await self._request(method, url, body)
        ref = str(answer.get("id") or notification.thread_ref or "")
        if not ref:
            raise NotifyError("rejected", "Statuspage answered without an incident id",
                              retryable=False)
        return Delivery(ref=ref, via="statuspage")

    async def _created_before(self, url: str, incident: dict, since: float) -> str | None:
        """The id of an unresolved incident an earlier send created (module docstring)."""
        try:
            listed = await self._request("GET", f"{url}/unresolved")
        except NotifyError as exc:
            raise NotifyError(exc.reason, "could not read the page's unresolved incidents to "
                              f"check for an earlier create ({exc.detail})",
                              retryable=True) from None
        matches = [i for i in listed if isinstance(i, dict)
                   and _is_earlier_create(i, incident, since - LOOKBACK_MARGIN)]
        matches.sort(key=lambda i: str(i.get("created_at")))
        return str(matches[0]["id"]) if matches else None

    async def _request(self, method: str, url: str, body: dict | None = None) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._settings.timeout))
        headers = {"Authorization": f"OAuth {self._settings.api_key}"}
        try:
            async with self._session.request(method, url, json=body, headers=headers) as resp:
                if resp.status >= 300:
                    raise http_error(resp.status, "Statuspage")
                answer = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, "Statuspage") from None
        except ValueError:
            raise NotifyError("server_error", "Statuspage answered something other than JSON",
                              retryable=True) from None
        if method == "GET":
            return answer if isinstance(answer, list) else []
        return answer if isinstance(answer, dict) else {}

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def incident_body(n: Notification) -> dict[str, Any]:
    """The ``incident`` object of a create or update (module docstring); NotifyError
    ``config`` for a status or impact Statuspage does not know."""
    status = n.details.get("status", "investigating")
    impact = n.details.get("impact", "none")
    if status not in STATUSES or impact not in IMPACTS:
        raise NotifyError("config", f"unknown Statuspage status {status!r} or impact {impact!r}",
                          retryable=False)
    ids = [c for c in str(n.details.get("components", "")).split(",") if c]
    shown = "operational" if status == "resolved" else COMPONENT_STATUS[impact]
    return {"name": truncate(n.summary or "Telephony service issues", NAME_LIMIT),
            "status": status, "body": n.text, "impact_override": impact,
            "component_ids": ids, "components": dict.fromkeys(ids, shown),
            "deliver_notifications": True}


def _is_earlier_create(listed: dict, incident: dict, not_before: float) -> bool:
    """Whether ``listed`` (a Statuspage incident) is what creating ``incident`` (our body)
    made: same name, first update's text ours, created at or after ``not_before``."""
    updates = listed.get("incident_updates") or []
    first = updates[-1] if isinstance(updates, list) and updates else {}   # newest first
    try:
        created = datetime.fromisoformat(str(listed.get("created_at"))).timestamp()
    except ValueError:
        return False
    return (bool(listed.get("id")) and listed.get("name") == incident["name"]
            and isinstance(first, dict)
            and str(first.get("body") or "").strip() == str(incident["body"] or "").strip()
            and created >= not_before)
