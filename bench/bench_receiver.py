"""Receiver benchmark: POST /alerts throughput against a baseline, and an alert storm.

Prints figures; asserts nothing about speed. Run: ``.venv/bin/python bench/bench_receiver.py``
(about 30 s). Three processes at a time at most: one server, one load generator, this script.

1. Throughput: the receiver (SQLite store, in-process no-op notifiers, dispatcher running)
   against a baseline aiohttp handler that parses the same JSON and inserts one SQLite row
   (WAL, synchronous=NORMAL), each in its own process, each driven for ``--seconds`` by the
   same Python load generator (``--concurrency`` connections, a distinct group per request).
   Reports requests/s, p50/p99 latency and the ratio.
2. Where one delivery's time goes, in this process, with no HTTP and no threads: decoding,
   validation, ``decide`` (classification and message composition) and the store transaction
   (the same SQL on SQLite), each as microseconds per delivery, beside the baseline's one insert.
3. Storm: 10,000 alerts in 100 groups (100 payloads of 100 alerts) posted at once; time until
   every post is answered 2xx (= committed), then checks the SQLite file: exactly 100
   incidents, at most one page per incident per channel; and the time until all pages are sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from callwatch.stack import free_port

TOKEN = "bench-token-0123456789"


def payload(group: str, alerts: int = 2, severity: str = "critical") -> dict:
    items = [{"status": "firing",
              "labels": {"alertname": group, "severity": severity, "provider": "twilio",
                         "instance": f"i{n}"},
              "annotations": {"summary": f"{group} on twilio",
                              "description": "6.2% of answered calls dropped",
                              "runbook_url": "https://runbooks.example/high-call-drop-rate.md",
                              "dashboard_url": "http://grafana.example/d/x"},
              "startsAt": "2026-11-27T03:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
              "generatorURL": "http://prometheus.example/graph?g0.expr=x",
              "fingerprint": f"{abs(hash((group, n))):016x}"[:16]} for n in range(alerts)]
    return {"receiver": "callwatch", "status": "firing", "alerts": items,
            "groupLabels": {"alertname": group}, "commonLabels": {"alertname": group},
            "commonAnnotations": {}, "externalURL": "http://alertmanager.example:9093",
            "version": "4", "groupKey": f'{{}}:{{alertname="{group}"}}', "truncatedAlerts": 0}


# --- servers (run in a child process) ---------------------------------------------------------

class NullNotifier:
    channel_type = "null"

    def __init__(self) -> None:
        self.count = 0

    async def send(self, notification):
        from receiver.notify.base import Delivery

        self.count += 1
        return Delivery(ref=str(self.count))

    async def close(self) -> None:
        pass


def serve(kind: str, port: int, db: str) -> None:
    from callwatch.commands.serve import SWITCH_INTERVAL

    sys.setswitchinterval(SWITCH_INTERVAL)  # as `callwatch run|receiver` does, for both servers
    from aiohttp import web

    if kind == "baseline":
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS d (k TEXT, body TEXT)")

        async def handle(request):
            data = json.loads(await request.read())
            conn.execute("INSERT INTO d VALUES (?, ?)", (data["groupKey"], data["status"]))
            return web.json_response({"status": "ok"})

        app = web.Application()
        app.router.add_post("/alerts", handle)
        app.router.add_get("/readyz", lambda r: web.json_response({}))
    else:
        from prometheus_client import CollectorRegistry

        from callwatch.web import create_app
        from policy import load_policy
        from receiver.app import setup_receiver

        policy = load_policy(REPO / "deploy" / "policy.yaml")
        app = create_app(policy, CollectorRegistry())
        setup_receiver(app, {"CALLWATCH_STORE_URL": f"sqlite://{db}",
                             "CALLWATCH_RECEIVER_TOKEN": TOKEN},
                       notifiers={name: NullNotifier() for name in policy.channels})
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- load generator (run in a child process) ---------------------------------------------------

async def load(url: str, seconds: float, concurrency: int) -> dict:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker(session):
        nonlocal errors
        while time.perf_counter() < deadline:
            body = json.dumps(payload(f"Bench{os.getpid()}-{next(counter)}"))
            start = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "errors": errors,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)]}


async def storm(url: str, groups: int, per_group: int) -> dict:
    import aiohttp

    bodies = [json.dumps(payload(f"Storm{g}", per_group)) for g in range(groups)]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=groups)) as session:
        async def post(body):
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                return response.status

        began = time.perf_counter()
        statuses = await asyncio.gather(*(post(b) for b in bodies))
        elapsed = time.perf_counter() - began
    return {"seconds": elapsed, "statuses": sorted(set(statuses)),
            "alerts": groups * per_group, "payload_kb": len(bodies[0]) / 1024}


# --- cost breakdown (in this process) ----------------------------------------------------------

def breakdown(tmp: str, count: int = 2000) -> dict[str, float]:
    """Microseconds per delivery of each stage of POST /alerts, run serially in this process."""
    import orjson

    from policy import load_policy
    from receiver.domain.alertmanager import delivery_key, parse_payload
    from receiver.domain.ids import new_id
    from receiver.domain.incidents import Context, decide
    from receiver.domain.model import GroupSnapshot
    from receiver.store.migrate import pending
    from receiver.store.ops import transactions
    from receiver.store.sqlite import _in_savepoint

    policy = load_policy(REPO / "deploy" / "policy.yaml")
    bodies = [json.dumps(payload(f"Cost{n}")).encode() for n in range(count)]
    conn = sqlite3.connect(f"{tmp}/cost.db", isolation_level=None)
    conn.row_factory = sqlite3.Row
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    for migration in pending("sqlite", set()):
        conn.executescript(migration.sql)
    conn.execute("CREATE TABLE d (k TEXT, body TEXT)")
    figures: dict[str, float] = {}

    def timed(name, fn, items):
        began = time.perf_counter()
        out = [fn(item) for item in items]
        figures[name] = 1e6 * (time.perf_counter() - began) / len(items)
        return out

    datas = timed("decode JSON (orjson)", orjson.loads, bodies)
    groups = timed("validate payload", parse_payload, datas)
    now = time.time()

    def changes(group):
        ctx = Context(policy=policy, now=now, new_id=new_id, batch=delivery_key(group))
        return decide(group, GroupSnapshot(group.incident_key, None, frozenset()), ctx)

    timed("decide (classify, compose 2 messages)", changes, groups)

    def transaction(batch):
        conn.execute("BEGIN IMMEDIATE")
        for group in batch:  # decide runs again inside: subtract its figure
            _in_savepoint(conn, transactions.apply_group(
                False, delivery_key(group), group.incident_key, now,
                lambda _snapshot, g=group: changes(g)))
        conn.execute("COMMIT")

    batches = [groups[n:n + 32] for n in range(0, count, 32)]
    timed("store transaction (6 rows, groups of 32)", transaction, batches)
    figures["store transaction (6 rows, groups of 32)"] = (
        figures["store transaction (6 rows, groups of 32)"] / 32
        - figures["decide (classify, compose 2 messages)"])

    def baseline_insert(batch):
        for data in batch:
            conn.execute("INSERT INTO d VALUES (?, ?)", (data["groupKey"], data["status"]))

    timed("baseline: one insert (autocommit)", baseline_insert, [[d] for d in datas])
    conn.close()
    return figures


# --- orchestration -----------------------------------------------------------------------------

def start_server(kind: str, db: str) -> tuple[subprocess.Popen, str]:
    import urllib.request

    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port),
                                "--db", db], cwd=REPO, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
            return process, f"http://127.0.0.1:{port}/alerts"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{kind} server did not start")


def child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def throughput(tmp: str, seconds: float, concurrency: int, rounds: int) -> dict[str, dict]:
    """Alternate baseline and callwatch ``rounds`` times (the machine is shared: interleaving
    spreads other load over both); per server the round with the median rate is reported."""
    runs: dict[str, list[dict]] = {"baseline": [], "callwatch": []}
    servers = {kind: start_server(kind, f"{tmp}/{kind}.db") for kind in runs}
    try:
        for _ in range(rounds):
            for kind, (_, url) in servers.items():
                runs[kind].append(child(["--load", url, "--seconds", str(seconds),
                                         "--concurrency", str(concurrency)]))
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait()
    return {kind: sorted(found, key=lambda r: r["rps"])[len(found) // 2]
            for kind, found in runs.items()}


def wait_dispatched(db: str, timeout: float = 30.0) -> float:
    began = time.perf_counter()
    conn = sqlite3.connect(db)
    while time.perf_counter() - began < timeout:
        (pending,) = conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()
        if pending == 0:
            break
        time.sleep(0.02)
    conn.close()
    return time.perf_counter() - began


def storm_check(db: str) -> dict:
    conn = sqlite3.connect(db)
    incidents = conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0]
    doubled = conn.execute("SELECT COUNT(*) FROM (SELECT incident_id, channel FROM outbox "
                           "WHERE kind = 'trigger' GROUP BY incident_id, channel "
                           "HAVING COUNT(*) > 1)").fetchone()[0]
    pages = conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'sent'").fetchone()[0]
    conn.close()
    return {"incidents": incidents, "doubled": doubled, "pages_sent": pages}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve")
    parser.add_argument("--port", type=int)
    parser.add_argument("--db")
    parser.add_argument("--load")
    parser.add_argument("--storm")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.db)
        return 0
    if args.load:
        print(json.dumps(asyncio.run(load(args.load, args.seconds, args.concurrency))))
        return 0
    if args.storm:
        print(json.dumps(asyncio.run(storm(args.storm, 100, 100))))
        return 0
    with tempfile.TemporaryDirectory(prefix="callwatch-bench-") as tmp:
        results = throughput(tmp, args.seconds, args.concurrency, args.rounds)
        base, ours = results["baseline"], results["callwatch"]
        print(f"POST /alerts, {args.concurrency} connections, {args.rounds} alternating rounds "
              f"of {args.seconds:.0f} s (median shown), 2-alert payloads, a new group per request")
        for name, r in results.items():
            print(f"  {name:9s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  "
                  f"p99 {r['p99_ms']:6.1f} ms  ({r['requests']} requests, {r['errors']} errors)")
        print(f"  ratio callwatch/baseline: {ours['rps'] / base['rps']:.2f}")
        print("One delivery's stages, serially in this process (no HTTP, no threads), µs:")
        for name, micros in breakdown(tmp).items():
            print(f"  {name:42s} {micros:7.1f}")
        db = f"{tmp}/storm.db"
        process, url = start_server("callwatch", db)
        try:
            posted = child(["--storm", url])
            dispatched = wait_dispatched(db)
            check = storm_check(db)
        finally:
            process.terminate()
            process.wait()
        print(f"Storm: {posted['alerts']} alerts in 100 groups ({posted['payload_kb']:.0f} KB "
              f"per payload) posted at once")
        print(f"  all committed (every post answered {posted['statuses']}) in "
              f"{posted['seconds']:.2f} s (target < 3 s)")
        print(f"  incidents: {check['incidents']} (expected 100); incident/channel pairs paged "
              f"twice: {check['doubled']} (expected 0)")
        print(f"  pages sent: {check['pages_sent']}, all sent {dispatched:.2f} s after the last "
              "commit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
