"""Detection-latency benchmark (prints figures; not a test).

Run: . scripts/tool-env.sh && .venv/bin/python bench/bench_detection.py
     [--runs 5] [--scenarios total-outage,twilio-outage,high-drop-rate] [--strict]
Default (total-outage, twilio-outage, 5 runs each) takes about 3.5 minutes here.

For each scenario, one DemoStack (simulator at 40 calls/s, `callwatch run`, the real prometheus
and prometheus-alertmanager, policy time-scaled by 60) is started; then, ``--runs`` times:
switch the scenario on, wait for the first PagerDuty trigger at the simulated PagerDuty, switch
back to normal and wait (condition with deadline) until no P0/P1 incident is open and neither
Prometheus nor Alertmanager holds a P0/P1 alert (``--strict``: no alert at all; P3 warnings
flap at this scale), past the reopen window, with a random phase against the scrape ticks.

Latency = PagerDuty ``received_at`` - the simulator's ``since`` (both the same wall clock).
Floor = the paging rule's ``for`` + scrape interval + evaluation interval + Alertmanager
``group_wait``, read from the configs the stack rendered. Overhead = latency - floor; the
target is a median overhead under 2 s. The rate window (5m/60 = 5 s) also delays detection: the
"+window" column (floor incl. rate window) adds it so the reader sees both.

Breakdown per run (seconds, wall clock): switch>crossed (until the scraped samples first
satisfy the alert expression with its recording rules inlined, evaluated by Prometheus at
50 ms steps: the threshold crossing inside the rate window plus the scrape phase),
crossed>pending (to Prometheus ``activeAt``: the evaluation phase), pending>firing (the rule's
``for`` rounded up to an evaluation), firing>AM (first 100 ms poll that saw it in
Alertmanager), AM>opened (to the receiver's (re)opening event: group_wait, webhook, receiver),
opened>escal (P1 only: PagerDuty is the first escalation level, fired by the escalation worker),
last>PD (dispatcher, PagerDuty client, simulated PagerDuty).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import aiohttp
from detection_trace import (
    Floor,
    Tracer,
    expanded_expr,
    first_true,
    key_of,
    rendered_floor,
    rfc3339,
)

from callwatch.demo.stack import DemoStack

PAGE_DEADLINE = 40.0  # seconds from the switch to the first page before a run is given up
DEFAULT_SCENARIOS = ("total-outage", "twilio-outage")
BLOCKERS: list[str] = []  # what kept the last clean() from being clean
NOISE: list[str] = []     # non-paging alerts and incidents clean() let through
PAGING = ("P0", "P1")     # priorities whose incidents page PagerDuty (route or first level)
STAGES = ("switch>crossed", "crossed>pending", "pending>firing", "firing>AM", "AM>opened",
          "opened>escal", "last>PD")


@dataclass
class Run:
    scenario: str
    latency: float
    floor: Floor
    alert: str
    priority: str
    stages: dict[str, float | None]

    @property
    def overhead(self) -> float:
        return self.latency - self.floor.total


async def wait_until(predicate, deadline: float, what: str, period: float = 0.1):
    """Poll ``predicate`` (async) until truthy; TimeoutError naming ``what`` past ``deadline``."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = await predicate()
        if found:
            return found
        await asyncio.sleep(period)
    raise TimeoutError(f"gave up after {deadline:.0f}s waiting for {what}")


async def get_json(session: aiohttp.ClientSession, url: str, **kwargs):
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=3), **kwargs) as response:
        response.raise_for_status()
        return await response.json()


async def clean(stack: DemoStack, session: aiohttp.ClientSession, strict: bool) -> bool:
    """No open incident, nothing pending or firing in Prometheus, nothing active in AM.

    With ``strict`` False only paging alerts and incidents (P0, P1: the ones reaching PagerDuty)
    count: at time scale 60 the rate window is 5 s, and a P3 warning near the normal level (the
    3% drop-rate warning against ~1% normal drops over ~100 calls) flaps under normal traffic.
    What is left over is recorded in NOISE."""
    auth = {"Authorization": f"Bearer {stack.token}"}
    incidents = (await get_json(session, f"{stack.urls.callwatch}/incidents", headers=auth))
    prom = (await get_json(session, f"{stack.urls.prometheus}/api/v1/alerts"))["data"]["alerts"]
    held = await get_json(session, f"{stack.urls.alertmanager}/api/v2/alerts",
                          params={"active": "true"})
    found = ([(i["priority"], f"incident {i['summary']} ({i['priority']})")
              for i in incidents["incidents"] if i["state"] != "resolved"]
             + [(a["labels"].get("priority"), f"prometheus {_name(a['labels'])} {a['state']}")
                for a in prom]
             + [(a["labels"].get("priority"), f"alertmanager {_name(a['labels'])}") for a in held])
    BLOCKERS[:] = [text for priority, text in found if strict or priority in PAGING]
    NOISE[:] = [text for priority, text in found if text not in BLOCKERS]
    return not BLOCKERS


def _name(labels: dict) -> str:
    return (f"{labels.get('alertname')}/{labels.get('provider')}/{labels.get('severity')}"
            f"/{labels.get('priority')}")


async def settle(stack: DemoStack, session: aiohttp.ClientSession, rate_window: float) -> None:
    """Sleep until the rate window holds only normal traffic and the last incident is past its
    reopen window: an alert firing again within it REOPENS the incident, and a reopened P1 does
    not page PagerDuty again (its first escalation level counts as done), so each run must
    open a fresh incident."""
    reopen = stack.policy.notifications.reopen_window_seconds / stack.time_scale
    auth = {"Authorization": f"Bearer {stack.token}"}
    incidents = (await get_json(session, f"{stack.urls.callwatch}/incidents",
                                headers=auth))["incidents"]
    resolved = [rfc3339(i["resolved_at"]) for i in incidents if i.get("resolved_at")]
    normal_since = stack.simulator.control.since
    until = max([normal_since + rate_window] + [r + reopen + 0.5 for r in resolved])
    await asyncio.sleep(max(0.0, until - time.time()))


def first_trigger(stack: DemoStack, already: int) -> dict | None:
    events = stack.simulator.notifications()["pagerduty"][already:]
    return next((e for e in events if e.get("event_action") == "trigger"), None)


async def one_run(stack: DemoStack, session: aiohttp.ClientSession, scenario: str,
                  rate_window: float) -> Run:
    """Switch ``scenario`` on, time the first PagerDuty trigger, break it down, switch off."""
    already = len(stack.simulator.notifications()["pagerduty"])
    tracer = Tracer(session, stack.urls.prometheus, stack.urls.alertmanager, time.time())
    tracer.start()
    stack.simulator.set_scenario(scenario)
    since = stack.simulator.control.since
    tracer.since = since
    try:
        async def paged():
            return first_trigger(stack, already)
        event = await wait_until(paged, PAGE_DEADLINE, f"a PagerDuty trigger for {scenario}",
                                 0.02)
    finally:
        await tracer.stop()
        stack.simulator.set_scenario("normal")
    incident = await get_json(session, f"{stack.urls.callwatch}/incidents/{event['dedup_key']}",
                              headers={"Authorization": f"Bearer {stack.token}"})
    labels = incident["alerts"][0]["labels"] if incident["alerts"] else incident["labels"]
    alert, priority = labels.get("alertname", "?"), labels.get("priority", incident["priority"])
    floor = rendered_floor(stack.workdir, alert, priority, rate_window)
    stages = breakdown(since, event["received_at"], incident, tracer.seen.get(key_of(labels)),
                       floor)
    seen = tracer.seen.get(key_of(labels))
    crossed = None
    if seen and seen.active_at:
        crossed = await first_true(session, stack.urls.prometheus,
                                   expanded_expr(stack.workdir, alert, priority),
                                   since, seen.active_at)
    stages["switch>crossed"] = None if crossed is None else crossed - since
    stages["crossed>pending"] = None if crossed is None else seen.active_at - crossed
    return Run(scenario, event["received_at"] - since, floor, alert, priority, stages)


def breakdown(since: float, paged_at: float, incident: dict, seen, floor: Floor) -> dict:
    """Stage durations in seconds (None where the tracer missed the moment)."""
    # a run within the reopen window reopens the previous run's incident: take this run's
    # (re)opening, and the escalation that paged PagerDuty after it (P1: the first level)
    events = [(rfc3339(e["at"]), e) for e in incident["timeline"]]
    opened = max((at for at, e in events if e["kind"] in ("opened", "reopened")
                  and at <= paged_at), default=rfc3339(incident["opened_at"]))
    escalated = next((at for at, e in events if e["kind"] == "escalated" and opened <= at
                      and "pagerduty" in e["detail"].get("channels", [])), None)
    pending = seen.active_at if seen else None
    firing = None
    if pending is not None:  # evaluations are `evaluation` apart, starting at activeAt
        firing = pending + math.ceil(round(floor.rule_for / floor.evaluation, 6)) * floor.evaluation
    am = seen.am_seen if seen else None

    def span(a, b):
        return None if a is None or b is None else b - a

    return {"switch>crossed": None, "crossed>pending": None,
            "switch>pending": span(since, pending), "pending>firing": span(pending, firing),
            "firing>AM": span(firing, am), "AM>opened": span(am, opened),
            "opened>escal": span(opened, escalated),
            "last>PD": span(escalated or opened, paged_at)}


async def bench_scenario(scenario: str, runs: int, time_scale: float, rate: float,
                         strict: bool) -> list[Run]:
    jitter = random.Random(7)
    results: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="callwatch-bench-") as tmp:
        async with DemoStack(Path(tmp), str(REPO / "deploy/policy.yaml"), time_scale,
                             rate) as stack, aiohttp.ClientSession() as session:
            rate_window = _rate_window(stack, time_scale)
            for number in range(1, runs + 1):
                waited = time.monotonic()
                await wait_until(lambda: clean(stack, session, strict), 90, "a clean stack",
                                 0.25)
                await settle(stack, session, rate_window)
                noise = list(NOISE)
                # a random phase against the 1 s scrape/evaluation ticks: the settle times are
                # aligned to them (resolutions arrive on evaluation ticks)
                await asyncio.sleep(jitter.uniform(0.0, 1.0))
                waited = time.monotonic() - waited
                try:
                    run = await one_run(stack, session, scenario, rate_window)
                except TimeoutError as exc:
                    await clean(stack, session, True)  # fills BLOCKERS: what fired instead
                    print(f"  {scenario}: {exc}; firing or open instead: "
                          f"{', '.join(BLOCKERS) or 'nothing'}", flush=True)
                    break
                results.append(run)
                print(f"  {scenario} run {number}: {run.latency:5.2f} s to PagerDuty "
                      f"({run.alert} {run.priority}), overhead {run.overhead:+5.2f} s "
                      f"(clean after {waited:.0f} s)\n     "
                      + "  ".join(f"{k} {_fmt(v)}" for k, v in run.stages.items())
                      + (f"\n     not clean but not paging at the switch: {', '.join(noise)}"
                         if noise else ""), flush=True)
    return results


def _rate_window(stack: DemoStack, time_scale: float) -> float:
    return stack.policy.evaluation.rate_window_seconds / time_scale


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:5.2f}"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def report(results: dict[str, list[Run]]) -> None:
    print("\nDetection latency: scenario switched on -> first PagerDuty trigger (seconds)")
    print(f"{'scenario':16} {'n':>2} {'floor':>6} {'+window':>7} "
          f"{'median':>6} {'ovh med':>7} {'ovh p90':>7} {'ovh min':>7} {'ovh max':>7}")
    for scenario, runs in results.items():
        if not runs:
            continue
        over = [r.overhead for r in runs]
        alerts = sorted({f"{r.alert} ({r.priority})" for r in runs})
        floor = runs[0].floor
        print(f"{scenario:16} {len(runs):>2} {floor.total:6.2f} "
              f"{floor.with_window:7.2f} {statistics.median(r.latency for r in runs):6.2f} "
              f"{statistics.median(over):7.2f} {quantile(over, 0.9):7.2f} {min(over):7.2f} "
              f"{max(over):7.2f}")
        print(f"{'':16} paged by {', '.join(alerts)}")
        print(f"{'':16} floor = for {floor.rule_for:g} + scrape {floor.scrape:g} + eval "
              f"{floor.evaluation:g} + group_wait {floor.group_wait:g}; rate window "
              f"{floor.rate_window:g}; overhead above floor incl. window: median "
              f"{statistics.median(r.latency - floor.with_window for r in runs):+.2f}; "
              f"target median overhead < 2 s "
              f"{'met' if statistics.median(over) < 2 else 'MISSED'}")
    print("\nBreakdown, median per stage (seconds)")
    print(f"{'scenario':16} " + " ".join(f"{s:>14}" for s in STAGES))
    for scenario, runs in results.items():
        cells = []
        for stage in STAGES:
            values = [r.stages[stage] for r in runs if r.stages[stage] is not None]
            cells.append(f"{statistics.median(values):14.2f}" if values else f"{'-':>14}")
        print(f"{scenario:16} " + " ".join(cells))
    overall = [r.overhead for runs in results.values() for r in runs]
    if overall:
        verdict = "met" if statistics.median(overall) < 2 else "MISSED"
        print(f"\nTarget median overhead < 2 s: {verdict} (all runs: median "
              f"{statistics.median(overall):.2f} s over {len(overall)} runs)")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=40.0, help="simulated calls per second")
    parser.add_argument("--strict", action="store_true",
                        help="between runs wait for no alert at all (default: no P0/P1 alert)")
    args = parser.parse_args()
    results: dict[str, list[Run]] = {}
    started = time.monotonic()
    for scenario in args.scenarios.split(","):
        print(f"{scenario}: starting the stack", flush=True)
        try:
            results[scenario] = await bench_scenario(scenario, args.runs, args.time_scale,
                                                     args.rate, args.strict)
        except TimeoutError as exc:
            print(f"  {scenario}: {exc}; still there: {', '.join(BLOCKERS)}", flush=True)
    report(results)
    print(f"(benchmark took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
