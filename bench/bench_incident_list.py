"""Incident list benchmark: ``GET /incidents`` pages at 20,000 and at 1,000,000 incidents.

Prints figures; asserts nothing. Run: ``. scripts/tool-env.sh && .venv/bin/python
bench/bench_incident_list.py [--sizes 20000,1000000] [--engines sqlite,postgresql]`` (about
six minutes for both engines on 2 shared cores; PostgreSQL runs on a throwaway cluster from
Debian's binaries, as bench/bench_ha.py starts it).

For each engine and size: a store at schema version 6 (before migration 0007's indexes) is
filled with synthetic incidents (SQLite: one executemany; PostgreSQL: COPY), opened two a
minute over the years with ties on opened_at, 1.5% open, P0 2% / P1 13% / P2 35% / P3 50%,
provider twilio 40% / telnyx 40% / none 20%, twelve alert names of unequal frequency. Then:

1. before: the old ``GET /incidents`` statement (``state`` filter, ``ORDER BY opened_at DESC,
   id``, newest 100), timed on the store's own connection: what every list cost before;
2. migration 0007 applied by opening the store (its index build, timed);
3. after: a receiver app (SQLite or PostgreSQL store, nothing else running) answering
   ``GET /incidents`` over HTTP on 127.0.0.1, ms per request (median, p95) for: the first
   page; the first page of the open incidents; a deep page (a cursor halfway back) with
   priority and provider filters; a deep page with the alertname filter and a time range;
   and the last page of the resolved ones.

The ratio column is the 1,000,000-incident figure over the 20,000 one: about 1 is the target
(a page costs what its rows cost, not what the table holds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from bench.bench_ha import database, pg_cluster
from callwatch.web import create_app
from policy import load_policy
from receiver.app import setup_receiver
from receiver.domain.incident_query import Cursor, encode_cursor
from receiver.domain.times import iso
from receiver.store import make_store
from receiver.store.migrate import CREATE_TABLE, migrations

TOKEN = "bench-token"
START = 1_700_000_000.0                 # the oldest incident; two open a minute after it
ALERTNAMES = ("TelephonyCallDropRateHigh", "TelephonyProviderHealthLow", "TelephonyMosLow",
              "TelephonyWebhookFailures", "TelephonyApiErrors", "TelephonyApiLatencyHigh",
              "TelephonyServiceDown", "CallwatchOutboxBacklog", "CallwatchEscalationLagging",
              "TelephonyStatusPageDegraded", "TelephonyPostDialDelay", "TelephonyAsrLow")
# the first name 12 times as often as the last: 12/78 of the incidents down to 1/78
_NAMES = [name for rank, name in enumerate(ALERTNAMES) for _ in range(len(ALERTNAMES) - rank)]
COLUMNS = ("id, group_key, priority, state, summary, provider, opened_at, acked_at, "
           "resolved_at, acked_by, truncated_alerts, labels, alerts, updated_at")
OLD_LIST = (f"SELECT {COLUMNS} FROM incidents {{where}} ORDER BY opened_at DESC, id "
            "LIMIT 100")
RUNS = 30


def opened(i: int) -> float:
    return START + (i // 2) * 60.0      # two incidents share each opened_at: the id decides


def rows(n: int) -> Iterator[tuple]:
    """Incident ``i`` of ``n``, oldest first; attributes spread by multiplicative hashes."""
    for i in range(n):
        spread = (i * 2654435761) % 1000
        state = ("triggered" if spread < 5 else "acknowledged" if spread < 15 else "resolved")
        bucket = (i * 40503) % 100
        priority = "P0" if bucket < 2 else "P1" if bucket < 15 else "P2" if bucket < 50 else "P3"
        provider = ("twilio", "twilio", "telnyx", "telnyx", None)[i % 5]
        name = _NAMES[(i * 7919) % len(_NAMES)]
        at = opened(i)
        labels = {"alertname": name, "severity": "critical", **({"provider": provider}
                                                                 if provider else {})}
        alerts = [{"status": "firing" if state != "resolved" else "resolved",
                   "labels": labels, "fingerprint": f"{i:016x}"}]
        yield (f"{int(at * 1000):012x}{i:012x}", f'{{}}:{{alertname="{name}",n="{i}"}}',
               priority, state, f"{name} on {provider or 'all'}", provider, at,
               at + 120 if state != "triggered" else None,
               at + 900 if state == "resolved" else None,
               "ada" if state != "triggered" else None, 0, json.dumps(labels),
               json.dumps(alerts), at + 900)


def fill(url: str, dialect: str, n: int) -> float:
    """The schema up to version 6 and ``n`` incidents; seconds spent."""
    began = time.perf_counter()
    older = [m for m in migrations(dialect) if m.version <= 6]
    marks = [(m.version, m.name) for m in older]
    if dialect == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite://"))
        conn.executescript(CREATE_TABLE + ";" + "".join(m.sql for m in older))
        conn.executemany("INSERT INTO schema_migrations VALUES (?, ?)", marks)
        conn.executemany(f"INSERT INTO incidents ({COLUMNS}) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows(n))
        conn.commit()            # no ANALYZE: a receiver's SQLite file never has one
        conn.close()
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(CREATE_TABLE)
            for migration in older:
                conn.execute(migration.sql)
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO schema_migrations VALUES (%s, %s)", marks)
                with cursor.copy(f"COPY incidents ({COLUMNS}) FROM STDIN") as copy:
                    for row in rows(n):
                        copy.write_row(row)
            conn.execute("VACUUM ANALYZE incidents")
    return time.perf_counter() - began


def old_list(url: str, dialect: str) -> dict[str, float]:
    """The statement GET /incidents ran before this change: ms (median) per page."""
    cases = {"old first page": "", "old first page, state=resolved": "WHERE state = 'resolved'"}
    found = {}
    connect = sqlite3.connect if dialect == "sqlite" else psycopg.connect
    conn = connect(url.removeprefix("sqlite://"))
    for label, where in cases.items():
        sql = OLD_LIST.format(where=where)
        samples = []
        for run in range(6):                       # the first is a warm-up
            began = time.perf_counter()
            conn.execute(sql).fetchall()
            if run:
                samples.append((time.perf_counter() - began) * 1000)
        found[label] = statistics.median(samples)
    conn.close()
    return found


async def migrate(url: str) -> float:
    """Migration 0007 as the receiver applies it at start; seconds."""
    began = time.perf_counter()
    store = make_store(url)
    await store.open()
    await store.close()
    return time.perf_counter() - began


def queries(n: int) -> dict[str, str]:
    half = n // 2
    deep = encode_cursor(Cursor(opened(half), f"{int(opened(half) * 1000):012x}{half:012x}"))
    tenth = n // 10
    oldest = encode_cursor(Cursor(opened(60), f"{int(opened(60) * 1000):012x}{60:012x}"))
    span = (iso(opened(tenth)), iso(opened(half + tenth)))
    return {
        "first page": "",
        "first page, state=triggered": "state=triggered",
        "deep page, priority=P2 provider=twilio": f"priority=P2&provider=twilio&before={deep}",
        "deep page, alertname + since/until": (
            f"alertname=TelephonyMosLow&since={span[0]}&until={span[1]}&before={deep}"),
        "last page, state=resolved": f"state=resolved&before={oldest}",
    }


async def new_list(url: str, n: int) -> dict[str, tuple[float, float, int]]:
    """ms per GET /incidents (median, p95) and the page's length, per query."""
    app = create_app(load_policy(REPO / "deploy/policy.yaml"), CollectorRegistry())
    setup_receiver(app, {"CALLWATCH_STORE_URL": url, "CALLWATCH_RECEIVER_TOKEN": TOKEN,
                         "CALLWATCH_WATCHDOG": "off", "CALLWATCH_HANDOFF_NOTICES": "off"},
                   notifiers={})
    found = {}
    async with TestClient(TestServer(app)) as client:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for label, query in queries(n).items():
            samples, length = [], 0
            for run in range(RUNS + 2):
                began = time.perf_counter()
                response = await client.get(f"/incidents?{query}", headers=headers)
                body = await response.json()
                took = (time.perf_counter() - began) * 1000
                assert response.status == 200, body
                length = len(body["incidents"])
                if run >= 2:                     # two warm-up requests
                    samples.append(took)
            samples.sort()
            found[label] = (statistics.median(samples), samples[int(len(samples) * 0.95) - 1],
                            length)
    return found


async def bench(engine: str, n: int, server: str | None, workdir: Path) -> dict:
    url = (f"sqlite://{workdir}/list-{n}.db" if engine == "sqlite" else database(server))
    dialect = "sqlite" if engine == "sqlite" else "postgresql"
    filled = fill(url, dialect, n)
    before = old_list(url, dialect)
    built = await migrate(url)
    after = await new_list(url, n)
    print(f"  {engine} {n:>9,}: filled in {filled:.1f} s, migration 0007 in {built:.1f} s",
          flush=True)
    return {"before": before, "after": after}


def report(engine: str, sizes: list[int], results: dict[int, dict]) -> None:
    small, large = sizes[0], sizes[-1]
    print(f"\n{engine}: ms per request (median / p95), rows on the page; ratio = "
          f"{large:,} over {small:,}")
    for label in results[small]["after"]:
        a, b = results[small]["after"][label], results[large]["after"][label]
        print(f"  {label:<42} {a[0]:7.2f} / {a[1]:7.2f} ({a[2]:>3})   "
              f"{b[0]:7.2f} / {b[1]:7.2f} ({b[2]:>3})   x{b[0] / a[0]:.2f}")
    print("  before (the old statement alone, no HTTP; median ms):")
    for label in results[small]["before"]:
        a, b = results[small]["before"][label], results[large]["before"][label]
        print(f"  {label:<42} {a:7.2f}   {b:9.2f}   x{b / a:.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,1000000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="callwatch-bench-list-") as tmp:
        for engine in args.engines.split(","):
            results = {}
            if engine == "postgresql":
                with pg_cluster() as server:
                    for n in sizes:
                        results[n] = await bench(engine, n, server, Path(tmp))
            else:
                for n in sizes:
                    results[n] = await bench(engine, n, None, Path(tmp))
            report(engine, sizes, results)


if __name__ == "__main__":
    asyncio.run(main())
