"""On-call resolution benchmark (prints figures; not a test).

Run: .venv/bin/python bench/bench_oncall.py [--runs 200]

Resolves 90 days (2027-02-15 to 2027-05-16, over the 2027-03-28 DST change) of a Europe/Berlin
schedule with three layers - a weekly rotation, a 12-hour follow-the-sun rotation restricted to
weekday nights (20:00-08:00) and a weekend layer (sat, sun 00:00-24:00) - and four overrides,
``--runs`` times with ``policy.oncall.shifts``. Prints the median and p95 ms per call and the
same as ratios against two baselines measured in this run:
  1. ``shifts`` over the same window for a one-layer schedule (the weekly rotation alone);
  2. as many bare zoneinfo conversions (naive local -> UTC) as the three-layer call makes:
     the floor of any resolver that converts each boundary once.
Target: median under 5 ms per 90-day ``shifts`` call. Also prints ``on_call`` and
``handoffs`` (90 days) for scale.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from policy import oncall
from policy.model import Restriction, Schedule, ScheduleLayer, ScheduleOverride

TARGET_MS = 5.0
START = datetime(2027, 2, 15, tzinfo=UTC)
END = START + oncall.MAX_SEARCH

WEEKLY = ScheduleLayer("weekly", datetime(2027, 1, 4, 9), timedelta(weeks=1),
                       ("alice", "bob", "carol", "dave"))
FOLLOW_THE_SUN = ScheduleLayer(
    "follow-the-sun", datetime(2027, 1, 4, 8), timedelta(hours=12),
    ("emea-1", "amer-1", "emea-2", "amer-2", "apac-1"),
    (Restriction((0, 1, 2, 3, 4), 20 * 60, 8 * 60),))
WEEKEND = ScheduleLayer("weekend", datetime(2027, 1, 2), timedelta(weeks=1),
                        ("wendy", "walt", "wanda"), (Restriction((5, 6), 0, 1440),))
OVERRIDES = (
    ScheduleOverride("oscar", datetime(2027, 2, 20, 18), datetime(2027, 2, 22, 9)),
    ScheduleOverride("olga", datetime(2027, 3, 27, 20), datetime(2027, 3, 28, 10)),  # over DST
    ScheduleOverride("otto", datetime(2027, 4, 14, 12), datetime(2027, 4, 15, 12)),
    ScheduleOverride("oscar", datetime(2027, 5, 1, 0), datetime(2027, 5, 3, 0)),
)
THREE_LAYERS = Schedule("primary", "Europe/Berlin", (WEEKLY, FOLLOW_THE_SUN, WEEKEND), OVERRIDES)
ONE_LAYER = Schedule("primary", "Europe/Berlin", (WEEKLY,))


def timed(fns: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    """Milliseconds per call, one sample per run and function, after a warm-up. The functions
    take turns within each run, so a busy machine slows baselines and subjects alike."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter_ns()
            fn()
            samples[name].append((time.perf_counter_ns() - t0) / 1e6)
    return samples


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def conversions_per_call() -> int:
    """How many local -> UTC conversions one three-layer ``shifts`` call makes."""
    original, count = oncall._utc, 0

    def counting(local, tz):
        nonlocal count
        count += 1
        return original(local, tz)
    oncall._utc = counting
    try:
        oncall.shifts(THREE_LAYERS, START, END)
    finally:
        oncall._utc = original
    return count


def bare_conversions(n: int):
    tz = ZoneInfo("Europe/Berlin")
    locals_ = [datetime(2027, 2, 15) + timedelta(hours=6 * i) for i in range(n)]

    def run() -> None:
        for local in locals_:
            local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return run


def row(name: str, samples: list[float]) -> str:
    return (f"  {name:<46} median {statistics.median(samples):7.3f} ms"
            f"   p95 {p95(samples):7.3f} ms")


def ratio(name: str, samples: list[float], base: list[float]) -> str:
    return (f"  {name:<46} median x{statistics.median(samples) / statistics.median(base):6.1f}"
            f"      p95 x{p95(samples) / p95(base):6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs

    resolved = oncall.shifts(THREE_LAYERS, START, END)
    n_conv = conversions_per_call()
    print(f"90 days {START:%Y-%m-%d}..{END:%Y-%m-%d}, Europe/Berlin, {runs} runs each")
    print(f"three layers + {len(OVERRIDES)} overrides: {len(resolved)} shifts, "
          f"{n_conv} zoneinfo conversions per call")

    probe = itertools.cycle(START + timedelta(hours=7 * i + 0.5) for i in range(300))
    t = timed({
        "bare": bare_conversions(n_conv),
        "one": lambda: oncall.shifts(ONE_LAYER, START, END),
        "three": lambda: oncall.shifts(THREE_LAYERS, START, END),
        "on_call": lambda: oncall.on_call(THREE_LAYERS, next(probe)),
        "handoffs": lambda: oncall.handoffs(THREE_LAYERS, START, END),
    }, runs)
    bare, one, three = t["bare"], t["one"], t["three"]

    print(row(f"baseline: {n_conv} bare zoneinfo conversions", bare))
    print(row("baseline: shifts(), the weekly layer alone", one))
    print(row("shifts(), three layers + overrides", three))
    print(ratio("  against the bare conversions", three, bare))
    print(ratio("  against the one-layer schedule", three, one))
    print(row("on_call(), three layers, 7h-spaced instants", t["on_call"]))
    print(row("handoffs(), three layers, 90 days", t["handoffs"]))
    med = statistics.median(three)
    verdict = "under" if med < TARGET_MS else "OVER"
    print(f"target: median shifts() for 90 days < {TARGET_MS:.0f} ms: {med:.3f} ms, {verdict}")


if __name__ == "__main__":
    main()
