"""Helpers for bench_detection.py: the floor the rendered configuration implies, and a tracer
that watches Prometheus and Alertmanager while a scenario runs (first pending, first firing,
first time Alertmanager holds the alert), so the latency can be broken down by stage.

Every timestamp here is wall-clock seconds (``time.time``), the clock the simulator stamps
``since`` and PagerDuty's ``received_at`` with, and the receiver stamps ``opened_at`` with.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
import yaml

from policy.durations import parse_duration

AlertKey = tuple[str, str, str]  # (alertname, priority, provider)


def rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time with up to nanoseconds (Prometheus, AM)."""
    text = text.replace("Z", "+00:00")
    head, _, tail = text.partition(".")
    if tail:  # fromisoformat takes at most 6 fractional digits in 3.11
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text).timestamp()


def key_of(labels: dict) -> AlertKey:
    return (labels.get("alertname", ""), labels.get("priority", ""), labels.get("provider", ""))


@dataclass(frozen=True)
class Floor:
    """The configuration's floor for one alert rule, in seconds."""

    rule_for: float
    scrape: float
    evaluation: float
    group_wait: float
    group_interval: float
    rate_window: float

    @property
    def total(self) -> float:
        return self.rule_for + self.scrape + self.evaluation + self.group_wait

    @property
    def with_window(self) -> float:
        return self.total + self.rate_window


def rendered_floor(workdir: Path, alertname: str, priority: str, rate_window: float) -> Floor:
    """Read the configs DemoStack rendered (scaled) and return the floor of one alert rule."""
    prom = yaml.safe_load((workdir / "prometheus/prometheus.yml").read_text())
    am = yaml.safe_load((workdir / "alertmanager/alertmanager.yml").read_text())
    rule_for = None
    for path in sorted((workdir / "prometheus/rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if (rule.get("alert") == alertname
                        and rule.get("labels", {}).get("priority") == priority):
                    rule_for = parse_duration(rule.get("for", "0s"))
    if rule_for is None:
        raise LookupError(f"no rule {alertname} with priority {priority} in the rendered rules")
    route = am["route"]
    return Floor(rule_for, parse_duration(prom["global"]["scrape_interval"]),
                 parse_duration(prom["global"]["evaluation_interval"]),
                 parse_duration(route["group_wait"]), parse_duration(route["group_interval"]),
                 rate_window)


@dataclass
class Seen:
    """What the tracer saw of one alert (None: not seen)."""

    active_at: float | None = None      # Prometheus activeAt (pending since; evaluation time)
    firing_seen: float | None = None    # first poll that saw it firing in Prometheus
    am_seen: float | None = None        # first poll that saw it in Alertmanager


@dataclass
class Tracer:
    """Polls Prometheus ``/api/v1/alerts`` and Alertmanager ``/api/v2/alerts`` every ``period``
    seconds until stopped; records first sightings per alert after ``since``."""

    session: aiohttp.ClientSession
    prometheus: str
    alertmanager: str
    since: float
    period: float = 0.1
    seen: dict[AlertKey, Seen] = field(default_factory=dict)
    _task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bench-tracer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=2)
        while True:
            try:
                await self._poll(timeout)
            except (aiohttp.ClientError, TimeoutError):
                pass  # a missed poll only widens the error bar of that sighting
            await asyncio.sleep(self.period)

    async def _poll(self, timeout: aiohttp.ClientTimeout) -> None:
        async with self.session.get(f"{self.prometheus}/api/v1/alerts",
                                    timeout=timeout) as response:
            alerts = (await response.json())["data"]["alerts"]
        now = time.time()
        for alert in alerts:
            active_at = rfc3339(alert["activeAt"])
            if active_at < self.since - 0.5:
                continue  # left over from before this run
            seen = self.seen.setdefault(key_of(alert["labels"]), Seen())
            seen.active_at = seen.active_at or active_at
            if alert["state"] == "firing" and seen.firing_seen is None:
                seen.firing_seen = now
        async with self.session.get(f"{self.alertmanager}/api/v2/alerts",
                                    params={"active": "true"}, timeout=timeout) as response:
            held = await response.json()
        now = time.time()
        for alert in held:
            if rfc3339(alert["startsAt"]) < self.since - 0.5:
                continue
            seen = self.seen.setdefault(key_of(alert["labels"]), Seen())
            if seen.am_seen is None:
                seen.am_seen = now


def expanded_expr(workdir: Path, alertname: str, priority: str) -> str:
    """The alert's expression with every recording rule inlined, so Prometheus can evaluate it
    at any instant from the scraped samples alone (recorded series only exist at evaluations)."""
    records: dict[str, str] = {}
    expr = None
    for path in sorted((workdir / "prometheus/rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    records[rule["record"]] = rule["expr"]
                elif (rule.get("alert") == alertname
                      and rule.get("labels", {}).get("priority") == priority):
                    expr = rule["expr"]
    if expr is None:
        raise LookupError(f"no rule {alertname} with priority {priority}")
    for _ in range(3):  # records may refer to records
        for name, body in records.items():
            expr = expr.replace(name, f"({body})")
    return expr


async def first_true(session: aiohttp.ClientSession, prometheus: str, expr: str, start: float,
                     end: float, step: float = 0.05) -> float | None:
    """First instant in [start, end] at which ``expr`` has a result, from scraped samples only:
    when the data Prometheus had scraped first crossed the threshold."""
    # end + step: the evaluation instants are start + k*step and must reach past end
    params = {"query": expr, "start": f"{start:.3f}", "end": f"{end + step:.3f}",
              "step": f"{step}"}
    async with session.get(f"{prometheus}/api/v1/query_range", params=params,
                           timeout=aiohttp.ClientTimeout(total=10)) as response:
        body = await response.json()
    if body.get("status") != "success":
        return None
    stamps = [float(t) for series in body["data"]["result"] for t, _ in series["values"]]
    return min(stamps) if stamps else None
