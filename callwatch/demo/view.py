"""What the demo shows: one snapshot of the whole loop, gathered over HTTP, drawn with rich."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import aiohttp
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from policy import catalog
from policy.model import Policy

_STATUS_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "no_data": "dim"}


@dataclass
class Snapshot:
    scenario: str = "normal"
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)  # row -> provider
    alerts: list[dict] = field(default_factory=list)
    incidents: list[dict] = field(default_factory=list)
    pages: dict[str, int] = field(default_factory=dict)
    acks: dict[str, str] = field(default_factory=dict)   # incident id -> "Team Lead (phone)"
    events: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def _json(session: aiohttp.ClientSession, url: str, **kwargs) -> object:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=3), **kwargs) as response:
        response.raise_for_status()
        return await response.json()


async def incident_detail(stack, session: aiohttp.ClientSession, incident_id: str) -> dict:
    """``GET /incidents/{id}``: the incident with its timeline and notifications."""
    return await _json(session, f"{stack.urls.callwatch}/incidents/{incident_id}",
                       headers={"Authorization": f"Bearer {stack.token}"})


async def collect(stack, session: aiohttp.ClientSession, events: list[str],
                  acks: dict[str, str] | None = None) -> Snapshot:
    """Query Prometheus, Alertmanager, callwatch and the simulator; failures become notes.
    ``acks`` keeps who acknowledged which incident, and how, across snapshots."""
    snap = Snapshot(scenario=stack.simulator.scenario.name, events=events[-8:],
                    acks={} if acks is None else acks)
    try:
        for row in catalog.ROWS.values():
            body = await _json(session, f"{stack.urls.prometheus}/api/v1/query",
                               params={"query": row.record})
            snap.metrics[row.key] = {s["metric"].get("provider", "?"): float(s["value"][1])
                                     for s in body["data"]["result"]}
    except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
        snap.errors.append(f"prometheus: {type(exc).__name__}")
    try:
        snap.alerts = await _json(session, f"{stack.urls.alertmanager}/api/v2/alerts")
    except (aiohttp.ClientError, TimeoutError) as exc:
        snap.errors.append(f"alertmanager: {type(exc).__name__}")
    try:
        body = await _json(session, f"{stack.urls.callwatch}/incidents",
                           headers={"Authorization": f"Bearer {stack.token}"})
        snap.incidents = body.get("incidents", []) if isinstance(body, dict) else body
        await _acknowledgers(stack, session, snap)
    except (aiohttp.ClientError, TimeoutError) as exc:
        snap.errors.append(f"callwatch: {type(exc).__name__}")
    pages = stack.simulator.notifications()
    snap.pages = {"pagerduty": len(pages["pagerduty"]), "slack": len(pages["slack"]),
                  "phone": len(pages["calls"]), "email": len(pages["smtp"])}
    return snap


async def _acknowledgers(stack, session: aiohttp.ClientSession, snap: Snapshot) -> None:
    """Who acknowledged each shown incident and where (the timeline's ``via``), once each."""
    for incident in snap.incidents[:8]:
        ident, by = str(incident.get("id")), incident.get("acked_by")
        if not by or ident in snap.acks:
            continue
        timeline = (await incident_detail(stack, session, ident)).get("timeline", [])
        event = next((e for e in timeline if e.get("kind") == "acknowledged"), {})
        via = event.get("detail", {}).get("via")
        snap.acks[ident] = f"{by} ({via})" if via else str(by)


def _status(row: catalog.Row, value: float | None, policy: Policy) -> str:
    if value is None or value != value:  # NaN: no traffic to judge
        return "no_data"
    threshold = policy.thresholds[row.key]
    if row.breaches(value, threshold.critical):
        return "critical"
    return "warning" if row.breaches(value, threshold.warning) else "ok"


def _format(row: catalog.Row, value: float | None) -> str:
    if value is None or value != value:
        return "-"
    if row.unit == "percentunit":
        return f"{value:.1%}"
    return f"{value:.2f}s" if row.unit == "s" else f"{value:.2f}"


def metrics_table(snap: Snapshot, policy: Policy) -> Table:
    table = Table(title="The six runbook metrics (Prometheus recording rules)", expand=True)
    table.add_column("metric")
    for provider in policy.providers:
        table.add_column(provider, justify="right")
    table.add_column("warning / critical", justify="right", style="dim")
    for row in catalog.ROWS.values():
        cells = []
        for provider in policy.providers:
            value = snap.metrics.get(row.key, {}).get(provider)
            cells.append(Text(_format(row, value),
                              style=_STATUS_STYLE[_status(row, value, policy)]))
        threshold = policy.thresholds[row.key]
        table.add_row(row.title, *cells, f"{_format(row, threshold.warning)} / "
                                         f"{_format(row, threshold.critical)}")
    return table


def alerts_table(snap: Snapshot) -> Table:
    table = Table(title="Alertmanager", expand=True)
    for column in ("alert", "provider", "severity", "priority", "state"):
        table.add_column(column)
    for alert in sorted(snap.alerts, key=lambda a: a["labels"].get("priority", "P9")):
        labels = alert["labels"]
        table.add_row(labels.get("alertname", "?"), labels.get("provider", ""),
                      labels.get("severity", ""), labels.get("priority", ""),
                      alert.get("status", {}).get("state", ""))
    return table


def incidents_table(snap: Snapshot) -> Table:
    table = Table(title="callwatch incidents", expand=True)
    for column in ("id", "priority", "state", "summary", "opened", "acknowledged by"):
        table.add_column(column)
    for incident in snap.incidents[:8]:
        style = "bold red" if incident.get("state") == "triggered" else ""
        ident = str(incident.get("id"))
        table.add_row(ident, incident.get("priority", ""),
                      Text(incident.get("state", ""), style=style), incident.get("summary", ""),
                      str(incident.get("opened_at", ""))[11:19],
                      snap.acks.get(ident) or incident.get("acked_by") or "")
    return table


def render(snap: Snapshot, policy: Policy, header: str) -> Group:
    pages = "   ".join(f"{channel}: {count}" for channel, count in snap.pages.items())
    footer = "\n".join(snap.events) or "waiting for the first event"
    if snap.errors:
        footer += "\n" + Text(", ".join(snap.errors), style="dim").plain
    return Group(
        Panel(Text(f"{header}\nscenario: {snap.scenario}   "
                   f"{time.strftime('%H:%M:%S')}", style="bold")),
        metrics_table(snap, policy), alerts_table(snap), incidents_table(snap),
        Panel(pages, title="pages received by the simulated PagerDuty, Slack, phone, email"),
        Panel(footer, title="lifecycle"),
    )
