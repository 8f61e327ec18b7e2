"""What ``GET /incidents`` asks the store for: filters, a page size and a cursor.

Pure. ``parse_query`` reads the request's query parameters (each name with its values) into an
``IncidentQuery``; bad input raises ``BadQuery`` naming the parameter, which the HTTP layer
makes a 400. An empty value (``?state=``) is the same as leaving the parameter out.

The order is fixed and total: ``opened_at`` newest first, then ``id`` descending. A page's
``next`` cursor names its last incident, (opened_at, id); the page it asks for starts strictly
after it. So a client paging back through history sees every incident once: incidents opened
meanwhile are newer than any cursor and appear on a fresh first page, never mid-walk. A
cursor is opaque to clients (base64url of a JSON pair) and only ever read back by
``decode_cursor``.

Filters, all optional and combined with AND: ``state``, ``priority`` (P0-P3), ``provider``,
``alertname`` (the incident's ``alertname`` label: the group's common label), and
``since`` <= opened_at < ``until`` (RFC 3339 with an offset, as ``/oncall`` reads times).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from policy.model import PRIORITIES
from receiver.domain.model import INCIDENT_STATES, Incident
from receiver.domain.oncall_views import BadQuery, parse_instant

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_TEXT = 200          # a provider or alertname filter; label values are short
MAX_CURSOR = 200        # a cursor is ~60 characters; anything far longer is not ours
PARAMETERS = ("before", "limit", "state", "priority", "provider", "alertname", "since",
              "until")


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the (opened_at, id) of its last incident."""

    opened_at: float
    id: str


@dataclass(frozen=True)
class IncidentQuery:
    """One page of ``GET /incidents``: the filters (None: any), ``before`` (None: the newest
    first) and at most ``limit`` incidents. ``since``/``until`` are Unix seconds."""

    state: str | None = None
    priority: str | None = None
    provider: str | None = None
    alertname: str | None = None
    since: float | None = None
    until: float | None = None
    before: Cursor | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class IncidentPage:
    """The incidents of one page, in order, and the cursor of the next (None: no more)."""

    incidents: list[Incident] = field(default_factory=list)
    next: Cursor | None = None


def encode_cursor(cursor: Cursor) -> str:
    """The opaque text a client sends back as ``?before=``."""
    raw = json.dumps([cursor.opened_at, cursor.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """The cursor ``encode_cursor`` made; BadQuery("before", ...) for anything else."""
    problem = BadQuery("before", "not a cursor this API gave out (use a page's `next` as it "
                                 "is)")
    if len(text) > MAX_CURSOR:
        raise problem
    try:
        pair = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):  # bad base64, bad UTF-8 or bad JSON
        raise problem from None
    if not (isinstance(pair, list) and len(pair) == 2):
        raise problem
    opened_at, incident_id = pair
    if (isinstance(opened_at, bool) or not isinstance(opened_at, int | float)
            or not math.isfinite(opened_at) or not isinstance(incident_id, str)
            or not incident_id):
        raise problem
    return Cursor(float(opened_at), incident_id)


def parse_query(params: Mapping[str, Sequence[str]]) -> IncidentQuery:
    """``params`` (a query string's names and their values) as an IncidentQuery; BadQuery
    for an unknown or repeated parameter or a bad value."""
    for name, values in params.items():
        if name not in PARAMETERS:
            raise BadQuery(name, f"unknown parameter; known: {', '.join(PARAMETERS)}")
        if len(values) > 1:
            raise BadQuery(name, "given more than once")
    given = {name: values[0] for name, values in params.items() if values and values[0]}
    since = _instant(given, "since")
    until = _instant(given, "until")
    if since is not None and until is not None and until <= since:
        raise BadQuery("until", "must be after since")
    cursor = given.get("before")
    return IncidentQuery(
        state=_choice(given, "state", INCIDENT_STATES),
        priority=_choice(given, "priority", PRIORITIES),
        provider=_text(given, "provider"), alertname=_text(given, "alertname"),
        since=since, until=until, before=decode_cursor(cursor) if cursor else None,
        limit=_limit(given.get("limit")))


def _choice(given: Mapping[str, str], name: str, allowed: Sequence[str]) -> str | None:
    value = given.get(name)
    if value is not None and value not in allowed:
        raise BadQuery(name, f"must be one of {', '.join(allowed)}")
    return value


def _text(given: Mapping[str, str], name: str) -> str | None:
    value = given.get(name)
    if value is not None and len(value) > MAX_TEXT:
        raise BadQuery(name, f"must be at most {MAX_TEXT} characters")
    return value


def _instant(given: Mapping[str, str], name: str) -> float | None:
    value = given.get(name)
    return None if value is None else parse_instant(value, name).timestamp()


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise BadQuery("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)
