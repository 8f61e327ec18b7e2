"""Paging benchmark: the receiver's hop against Alertmanager's own PagerDuty integration.

Prints figures; asserts nothing about speed. Run: ``. scripts/tool-env.sh &&
.venv/bin/python bench/bench_paging.py [--rates 10,100] [--seconds 10]`` (about 65 s).

One real Alertmanager (``group_by: [alertname]``, ``group_wait: 0s``, ``group_interval: 5s``,
``repeat_interval: 24h``) with two routes, side by side in one run (bench/paging_stack.py):

- path A, what a user runs without callwatch: ``path="a"`` → Alertmanager's native
  ``pagerduty_configs`` → the simulated PagerDuty (Events API v2 over TLS);
- path B: ``path="b"`` → ``webhook_configs`` (bearer token) → ``python -m callwatch receiver``
  (SQLite) → its PagerDuty notifier → the same simulated PagerDuty. The alerts are
  ``priority: P0``. The receiver runs twice (``--receiver``), each time on a fresh stack:
  ``pagerduty-only``, the policy (``--policy``, deploy/policy.yaml) changed so that a P0 pages
  PagerDuty only and PagerDuty owns the escalation: the same work as path A, so B-A is the
  hop; then ``fan-out``, the policy as it is: each incident is 4 sends, PagerDuty, Slack and
  two one-way calls (the on-call by the route, the VP by escalation L4 at 0 s; no
  ``CALLWATCH_PUBLIC_URL``), all served by the simulator, and the PagerDuty page shares the
  receiver with the other three.

The simulator runs as its own process (``python -m simulator``, no call traffic); its clock is
``time.time``, the wall clock this script stamps posts with. For each rate, this script posts
one new alert (= one new group, a unique ``alertname``) per request to Alertmanager's
``/api/v2/alerts`` on a fixed schedule, alternating A and B: ``rate`` new groups per second
on EACH path (Alertmanager takes twice that) for ``--seconds``. Five warm-up alerts per path
go first and are not counted. Latency = the event's ``received_at`` at the simulated PagerDuty
- the time just before the alert was posted. Events are matched to alerts by alertname: path
A's from Alertmanager's ``payload.summary`` ("[FIRING:1] <alertname> (...)"), path B's from
callwatch's ``payload.custom_details.alertname`` (the "matched by" column); only the first
trigger per alert counts (callwatch may send more on an update or escalation). Lost = posted
but no event within ``--settle`` s of the last post. B-A at p50 and p99 is callwatch's hop;
the target: under 10 ms at p50 and under 50 ms at p99 at 100 groups/s, nothing lost on either
path. For path B the receiver's store splits each page: post → the receiver's handler
(``deliveries.received_at``: Alertmanager and its webhook) → the event at PagerDuty (commit,
dispatcher, PagerDuty client). Everything shares the machine's cores: the CPU line gives each
process's use while posting, in % of one core, and what the rest of the machine (other
processes, the kernel) used meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import aiohttp
import yaml
from paging_stack import (
    GROUP_INTERVAL,
    GROUP_WAIT,
    Stack,
    cpu_seconds,
    machine_busy,
    open_stack,
)

from callwatch.stack import MissingBinary

NAME = re.compile(r"Paging[AB]\d+n\d{5}")
LIKE_FOR_LIKE = "P0 pages PagerDuty only (the same work as path A)"
FAN_OUT = "the policy as it is (a P0: PagerDuty, Slack, a call to the on-call and to the VP)"
Sent = dict[str, tuple[str, float]]  # alertname -> (path, posted at)


def alert(name: str, path: str) -> dict:
    return {"labels": {"alertname": name, "path": path, "priority": "P0",
                       "severity": "critical", "provider": "telnyx"},
            "annotations": {"summary": f"{name}: telnyx calls failing (paging bench)",
                            "description": "bench alert"},
            "startsAt": datetime.now(UTC).isoformat()}


async def post_one(session: aiohttp.ClientSession, url: str, name: str, path: str,
                   sent: Sent) -> bool:
    body = [alert(name, path)]
    posted = time.time()
    try:
        async with session.post(url, json=body) as response:
            await response.read()
            ok = response.status == 200
    except aiohttp.ClientError:
        ok = False
    if ok:
        sent[name] = (path, posted)
    return ok


async def send_load(session: aiohttp.ClientSession, am_url: str, tag: str, rate: float,
                    seconds: float) -> tuple[Sent, int]:
    """``rate`` new groups/s per path, A and B alternating on one schedule; (sent, errors)."""
    url, sent, tasks = f"{am_url}/api/v2/alerts", {}, []
    count = round(rate * seconds)
    interval = 1 / (2 * rate)
    began = time.monotonic()
    for n in range(2 * count):
        path = "ab"[n % 2]
        delay = began + n * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        name = f"Paging{path.upper()}{tag}n{n // 2:05d}"
        tasks.append(asyncio.create_task(post_one(session, url, name, path, sent)))
    results = await asyncio.gather(*tasks)
    return sent, results.count(False)


async def pagerduty_events(session: aiohttp.ClientSession, stack: Stack) -> list[dict]:
    async with session.get(f"{stack.control_url}/notifications") as response:
        response.raise_for_status()
        return (await response.json())["pagerduty"]


def first_receipts(events: list[dict]) -> dict[str, tuple[float, str]]:
    """alertname -> (first trigger's received_at, the field that named it)."""
    found: dict[str, tuple[float, str]] = {}
    for event in events:
        if event.get("event_action") != "trigger":
            continue
        payload = event.get("payload") or {}
        name = (payload.get("custom_details") or {}).get("alertname")
        field = "custom_details.alertname"
        if not isinstance(name, str) or not NAME.fullmatch(name):
            match = NAME.search(str(payload.get("summary", "")))
            name, field = (match.group(0) if match else None), "summary"
        if name and (name not in found or event["received_at"] < found[name][0]):
            found[name] = (event["received_at"], field)
    return found


async def collect(session: aiohttp.ClientSession, stack: Stack, sent: Sent,
                  settle: float) -> dict[str, tuple[float, str]]:
    """Poll the simulator (every 2 s, it is busy) until every sent alert was paged, or
    ``settle`` seconds have passed."""
    deadline = time.monotonic() + settle
    while True:
        receipts = first_receipts(await pagerduty_events(session, stack))
        if all(name in receipts for name in sent) or time.monotonic() >= deadline:
            return {name: receipts[name] for name in sent if name in receipts}
        await asyncio.sleep(2)


async def drained(stack: Stack, timeout: float = 60.0) -> None:
    """Wait until the receiver has no pending outbox row (Slack, calls), so rates don't mix."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{stack.store_path}?mode=ro", uri=True) as conn:
            (pending,) = conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()
        if pending == 0:
            return
        await asyncio.sleep(0.5)


def receiver_times(store: Path, names: set[str]) -> dict[str, float]:
    """alertname -> when the receiver's handler took the webhook (deliveries.received_at)."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT json_extract(i.labels, '$.alertname'), MIN(d.received_at) "
                            "FROM incidents i JOIN deliveries d ON d.group_key = i.group_key "
                            "GROUP BY i.id").fetchall()
    return {name: at for name, at in rows if name in names}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def figures(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": math.nan, "p99": math.nan, "max": math.nan}
    return {"p50": quantile(values, 0.5), "p99": quantile(values, 0.99), "max": max(values)}


@dataclass
class Round:
    rate: float
    sent: Sent
    errors: int
    receipts: dict[str, tuple[float, str]]  # alertname -> (received_at, field matched)
    handled: dict[str, float]               # path B alertname -> the receiver's handler time
    cpu: dict[str, float]                   # process -> % of one core while posting

    def latencies(self, path: str) -> list[float]:
        return [1000 * (self.receipts[n][0] - at) for n, (p, at) in self.sent.items()
                if p == path and n in self.receipts]

    def lost(self, path: str) -> int:
        return sum(1 for n, (p, _) in self.sent.items() if p == path and n not in self.receipts)


def report(r: Round, seconds: float) -> dict[str, float]:
    """Print one rate's table; B-A at p50 and p99."""
    print(f"\n{r.rate:g} new groups/s per path ({2 * r.rate:g}/s into Alertmanager) for "
          f"{seconds:g} s" + (f", {r.errors} posts refused or failed" if r.errors else ""))
    print(f"  {'path':28} {'sent':>5} {'recv':>5} {'lost':>5} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}  matched by")
    stats = {}
    for path, label in (("a", "A  Alertmanager→PagerDuty"), ("b", "B  AM→callwatch→PagerDuty")):
        sent = sum(1 for p, _ in r.sent.values() if p == path)
        fields = sorted({field for n, (_, field) in r.receipts.items() if r.sent[n][0] == path})
        stats[path] = figures(r.latencies(path))
        print(f"  {label:28} {sent:5d} {sent - r.lost(path):5d} {r.lost(path):5d} "
              f"{stats[path]['p50']:8.1f} {stats[path]['p99']:8.1f} {stats[path]['max']:8.1f}"
              f"  {', '.join(fields) or '-'}")
    hop = {q: stats["b"][q] - stats["a"][q] for q in ("p50", "p99")}
    print(f"  B-A (callwatch's hop): p50 {hop['p50']:+.1f} ms, p99 {hop['p99']:+.1f} ms"
          f"   (target at 100 groups/s: < 10 ms, < 50 ms, nothing lost)")
    both = [n for n in r.handled if n in r.receipts]
    if both:
        am = figures([1000 * (r.handled[n] - r.sent[n][1]) for n in both])
        out = figures([1000 * (r.receipts[n][0] - r.handled[n]) for n in both])
        print(f"  B split: post→receiver's handler p50 {am['p50']:.1f} p99 {am['p99']:.1f} ms; "
              f"handler→PagerDuty p50 {out['p50']:.1f} p99 {out['p99']:.1f} "
              f"max {out['max']:.1f} ms")
    print("  CPU while posting, % of one core: "
          + ", ".join(f"{name} {pct:.0f}" for name, pct in r.cpu.items()))
    return hop


def cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of each process (this one: the load generator)."""
    times = os.times()
    return {"Alertmanager": cpu_seconds(stack.alertmanager.process.pid),
            "receiver": cpu_seconds(stack.receiver.process.pid),
            "simulator": cpu_seconds(stack.simulator.process.pid),
            "load generator": times.user + times.system, "machine": machine_busy()}


async def one_rate(session: aiohttp.ClientSession, stack: Stack, tag: str, rate: float,
                   seconds: float, settle: float) -> Round:
    before, began = cpu(stack), time.monotonic()
    sent, errors = await send_load(session, stack.alertmanager.url, tag, rate, seconds)
    after, elapsed = cpu(stack), time.monotonic() - began
    receipts = await collect(session, stack, sent, settle)
    await drained(stack)
    handled = receiver_times(stack.store_path, {n for n, (p, _) in sent.items() if p == "b"})
    usage = {name: 100 * (after[name] - before[name]) / elapsed for name in after}
    machine = usage.pop("machine")
    usage["other processes"] = max(0.0, machine - sum(usage.values()))
    return Round(rate, sent, errors, receipts, handled, usage)


def like_for_like(policy: Path, workdir: Path) -> Path:
    """``policy`` doing what path A does: a P0 pages PagerDuty only, and PagerDuty owns the
    escalation (no call to the VP at 0 s). Written to ``workdir``."""
    spec = yaml.safe_load(policy.read_text(encoding="utf-8"))
    spec["routing"]["P0"] = {"channels": ["pagerduty"], "fallback": []}
    spec["escalation"]["owner"] = "pagerduty"
    path = workdir / "policy-pagerduty-only.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


async def one_policy(session: aiohttp.ClientSession, policy: Path, label: str,
                     args: argparse.Namespace) -> str | None:
    """Every rate against a receiver on ``policy``; the verdict at 100 groups/s, if run."""
    async with open_stack(session, policy, args.log_level) as stack:
        print(f"\n=== path B's receiver: {label} ===\nAlertmanager {stack.version}: group_wait "
              f"{GROUP_WAIT}, group_interval {GROUP_INTERVAL}; the simulator in its own process "
              f"(no call traffic); the receiver on SQLite, log level {args.log_level}; "
              f"{os.cpu_count()} cores")
        warm = await one_rate(session, stack, "0", 2, 2.5, 15)
        print(f"warm-up: {len(warm.receipts)}/{len(warm.sent)} alerts paged (not counted)")
        verdict = None
        for number, rate in enumerate(args.rates, 1):
            result = await one_rate(session, stack, str(number), rate, args.seconds, args.settle)
            hop = report(result, args.seconds)
            if rate == 100:
                lost = result.lost("a") + result.lost("b")
                verdict = (f"B-A p50 {hop['p50']:+.1f} ms (< 10), p99 {hop['p99']:+.1f} ms "
                           f"(< 50), lost {lost} (0): "
                           + ("met" if hop["p50"] < 10 and hop["p99"] < 50 and not lost
                              else "MISSED"))
    return verdict


async def run(args: argparse.Namespace) -> int:
    connector = aiohttp.TCPConnector(limit=200)
    scratch = Path(tempfile.mkdtemp(prefix="callwatch-bench-policy-"))
    policies = {"pagerduty-only": (like_for_like(args.policy, scratch), LIKE_FOR_LIKE),
                "fan-out": (args.policy, FAN_OUT)}
    verdicts = []
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            for name in args.receiver:
                policy, label = policies[name]
                verdicts.append((label, await one_policy(session, policy, label, args)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for label, verdict in verdicts:
        if verdict:
            print(f"\nTarget at 100 groups/s, {label}: {verdict}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10,100", type=lambda text: [
        float(rate) for rate in text.split(",")], help="new groups/s per path, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="posting time per rate")
    parser.add_argument("--settle", type=float, default=30.0,
                        help="seconds after the last post before an unpaged alert counts lost")
    parser.add_argument("--policy", type=Path, default=REPO / "deploy" / "policy.yaml",
                        help="the receiver's policy (P0 must route to pagerduty)")
    parser.add_argument("--receiver", default="pagerduty-only,fan-out",
                        type=lambda text: text.split(","),
                        help="path B's receiver runs, in order: pagerduty-only (the policy with "
                             "P0 paging PagerDuty only: the same work as path A), fan-out (the "
                             "policy as it is)")
    parser.add_argument("--log-level", default="info", help="the receiver's --log-level")
    args = parser.parse_args()
    started = time.monotonic()
    try:
        code = asyncio.run(run(args))
    except MissingBinary as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; every process stopped", file=sys.stderr)
        return 130
    except (TimeoutError, RuntimeError, OSError, aiohttp.ClientError) as exc:
        print(f"failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(f"(benchmark took {time.monotonic() - started:.0f} s)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
