"""HA benchmark: alert-storm throughput with 1, 2 and 3 receivers on one PostgreSQL database,
and the time from a receiver's death to its claimed pages being sent by another.

Prints figures; asserts nothing about speed. Run: ``. scripts/tool-env.sh &&
.venv/bin/python bench/bench_ha.py`` (about a minute and a half). Everything on 127.0.0.1: a
throwaway PostgreSQL cluster (Debian's binaries), ``python -m callwatch receiver`` subprocesses
whose notifiers POST to an in-process recording endpoint (tests/ha/harness.py), or in 3 page
the in-process simulator.

1. Storm: 1,000 alerts in 200 groups, each group posted twice as Alertmanager re-sends a
   growing group (3 then 5 alerts): 400 payloads spread round-robin over the receivers by
   16 concurrent senders (a load balancer's view). payloads/s = 400 / time until every post
   was answered 2xx (committed); pages/s = pages / time until every outbox row was sent.
   The ratio column compares with one receiver in the same run.
2. Takeover: two receivers, ``CALLWATCH_OUTBOX_LEASE_SECONDS=2``; pages park at the endpoint
   while receiver A holds claims; A is killed (SIGKILL); time until B has sent every row A held.
3. Killed mid-storm (``bench_ha.py kill`` runs only this): two receivers with the default
   leases and their real notifiers paging the simulator (Slack answering in 0.1 s, the SMTP
   sink), 300 P2 groups posted twice (3 then 5 alerts) by 16 senders round-robin, a dead
   receiver's share going to the other as Alertmanager's fallback would. Receiver A is killed
   (SIGKILL) once half the payloads are committed. Reported: the time from the kill to the
   last page sent, groups accepted but never paged, and the duplicates left per channel
   (groups with a second Slack message, a second mail).
The machine has 2 shared cores: PostgreSQL, the receivers and the load generator compete, so
more receivers here show contention rather than the scaling separate machines would give.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp
import psycopg

from callwatch.stack import free_port
from simulator import Simulator
from tests.ha.harness import (
    Recorder,
    paging_env,
    post_alerts,
    query,
    start_receiver,
    start_recorder,
    until,
)
from tests.receiver.standins import alert, payload

GROUPS, CONCURRENCY, KILL_GROUPS = 200, 16, 300


@contextmanager
def pg_cluster():
    """A throwaway PostgreSQL cluster; yields its base URL (as tests/conftest.py does)."""
    bin_dir = (os.environ.get("PG_BIN_DIR")
               or sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)[0])
    base = tempfile.mkdtemp(prefix="callwatch-bench-pg-")
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port, data = free_port(), os.path.join(base, "data")
    subprocess.run([*prefix, f"{bin_dir}/initdb", "-D", data, "-A", "trust", "-U", "postgres",
                    "--no-sync"], check=True, capture_output=True)
    subprocess.run([*prefix, f"{bin_dir}/pg_ctl", "-D", data, "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1 "
                    "-c max_connections=200", "-l", os.path.join(base, "log"), "-w",
                    "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "-w",
                        "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def database(server: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def storm_bodies() -> list[dict]:
    bodies = []
    for size in (3, 5):
        for g in range(GROUPS):
            group = f"Storm{g:03d}"
            bodies.append(payload(*[alert(group, fingerprint=f"{group}-{i}", priority="P2",
                                          instance=f"i{i}") for i in range(size)], group=group))
    return bodies


async def storm(server: str, replicas: int, workdir: Path) -> dict:
    store = database(server)
    recorder = Recorder()
    runner, notify_url = await start_recorder(recorder)
    receivers = [await start_receiver(workdir, store, notify_url, f"bench{replicas}-{i}")
                 for i in range(replicas)]
    bodies = storm_bodies()
    queue: asyncio.Queue = asyncio.Queue()
    for n, body in enumerate(bodies):
        queue.put_nowait((receivers[n % replicas].url, body))
    failed = 0
    try:
        async with aiohttp.ClientSession() as session:
            async def sender():
                nonlocal failed
                while not queue.empty():
                    url, body = queue.get_nowait()
                    if not 200 <= await post_alerts(session, url, body) < 300:
                        failed += 1

            start = time.monotonic()
            await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
            committed = time.monotonic() - start
            await until(lambda: not query(store, "SELECT 1 FROM outbox WHERE state <> 'sent'"),
                        120, "every page sent", interval=0.1)
            sent = time.monotonic() - start
    finally:
        for receiver in receivers:
            await receiver.stop()
        await runner.cleanup()
    pages = sum(recorder.ids().values())
    doubled = sum(1 for n in recorder.ids().values() if n > 1)
    return {"replicas": replicas, "payloads_s": len(bodies) / committed, "pages": pages,
            "pages_s": pages / sent, "failed": failed, "doubled": doubled}


async def takeover(server: str, workdir: Path) -> dict:
    store = database(server)
    recorder = Recorder()
    runner, notify_url = await start_recorder(recorder)
    first = await start_receiver(workdir, store, notify_url, "takeover-a")
    second = await start_receiver(workdir, store, notify_url, "takeover-b")
    try:
        recorder.gate.clear()
        async with aiohttp.ClientSession() as session:
            for g in range(50):
                body = payload(alert(f"Take{g}", fingerprint=f"t{g}", priority="P2"),
                               group=f"Take{g}")
                await post_alerts(session, first.url, body)
        held_sql = "SELECT id FROM outbox WHERE state = 'pending' AND claimed_by = %s"
        await until(lambda: bool(query(store, held_sql, first.worker)), 30, "claims held")
        await first.kill()
        died = time.monotonic()
        held = [r[0] for r in query(store, held_sql, first.worker)]
        recorder.gate.set()
        placeholders = ",".join(["%s"] * len(held))
        await until(lambda: not query(store, f"SELECT 1 FROM outbox WHERE state <> 'sent' "
                                             f"AND id IN ({placeholders})", *held),
                    60, "the dead receiver's rows sent", interval=0.02)
        finished = time.monotonic() - died
    finally:
        await first.kill()
        await second.stop()
        await runner.cleanup()
    doubled = sum(1 for n in recorder.ids().values() if n > 1)
    return {"held": len(held), "seconds": finished, "lease": 2.0, "doubled": doubled,
            "unconfirmed": recorder.unconfirmed}


async def killed_mid_storm(server: str, workdir: Path) -> dict:
    store = database(server)
    async with Simulator(traffic=False) as sim:
        sim.faults.set_latency("slack", 0.1)
        env = paging_env(sim, workdir)
        receivers = [await start_receiver(workdir, store, "", f"kill-{n}", **env) for n in "ab"]
        bodies = [(g, payload(*[alert(f"Kill{g:03d}", fingerprint=f"k{g}-{i}", priority="P2",
                                      instance=f"i{i}") for i in range(size)],
                              group=f"Kill{g:03d}"))
                  for size in (3, 5) for g in range(KILL_GROUPS)]
        queue: asyncio.Queue = asyncio.Queue()
        for n, item in enumerate(bodies):
            queue.put_nowait((n % 2, *item))
        accepted: set[int] = set()
        killed: list[float] = []    # when, then how many unsent rows the dead one held
        held_sql = "SELECT count(*) FROM outbox WHERE state <> 'sent' AND claimed_by = %s"
        try:
            async with aiohttp.ClientSession() as session:
                async def sender():
                    while not queue.empty():
                        first, g, body = queue.get_nowait()
                        for r in (receivers[first], receivers[1 - first]):  # the LB's fallback
                            if 200 <= await post_alerts(session, r.url, body) < 300:
                                accepted.add(g)
                                break
                        if not killed and queue.qsize() <= len(bodies) // 2:
                            killed.append(time.time())
                            await receivers[0].kill()
                            killed.append(query(store, held_sql, receivers[0].worker)[0][0])

                began = time.time()
                await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
                await until(lambda: not query(store, "SELECT 1 FROM outbox WHERE state <> 'sent'"),
                            180, "every page sent", interval=0.1)
                last = query(store, "SELECT max(at) FROM attempts WHERE outcome = 'sent'")[0][0]
                found = query(store, "SELECT count(*) FROM attempts WHERE detail = %s",
                              "an earlier send was found there")[0][0]
        finally:
            for receiver in receivers:
                await receiver.kill()
        slack = Counter(g for m in sim.slack.messages if not m["thread_ts"]
                        for g in range(KILL_GROUPS) if f"Kill{g:03d} " in m["text"])
        mail = Counter(g for m in sim.messages() for g in range(KILL_GROUPS)
                       if f"Kill{g:03d} " in m.subject)
    return {"accepted": len(accepted), "unpaged": len(accepted - set(slack)),
            "kill_to_last": last - killed[0], "start_to_last": last - began,
            "held": killed[1], "found": found,
            "slack_doubled": sum(n > 1 for n in slack.values()),
            "mail_doubled": sum(n > 1 for n in mail.values())}


def print_killed(k: dict) -> None:
    print(f"killed mid-storm ({KILL_GROUPS} P2 groups, default leases, real notifiers): "
          f"{k['accepted']} groups accepted, {k['unpaged']} never paged; last page "
          f"{k['kill_to_last']:.1f}s after the kill ({k['start_to_last']:.1f}s after the storm "
          f"began); the dead receiver held {k['held']} unsent rows; duplicates: Slack "
          f"{k['slack_doubled']} groups, email {k['mail_doubled']} groups; "
          f"{k['found']} Slack pages found already posted")


async def main() -> int:
    with pg_cluster() as server, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if sys.argv[1:] == ["kill"]:
            print_killed(await killed_mid_storm(server, workdir))
            return 0
        results = [await storm(server, n, workdir) for n in (1, 2, 3)]
        base = results[0]
        print(f"alert storm: 1,000 alerts in {GROUPS} groups, {2 * GROUPS} payloads, "
              f"{CONCURRENCY} senders, PostgreSQL, 2 shared cores")
        print(f"{'receivers':>9} {'payloads/s':>11} {'ratio':>6} {'pages':>6} {'pages/s':>8} "
              f"{'non-2xx':>8} {'doubled':>8}")
        for r in results:
            print(f"{r['replicas']:>9} {r['payloads_s']:>11.0f} "
                  f"{r['payloads_s'] / base['payloads_s']:>6.2f} {r['pages']:>6} "
                  f"{r['pages_s']:>8.0f} {r['failed']:>8} {r['doubled']:>8}")
        t = await takeover(server, workdir)
        print(f"takeover: receiver killed holding {t['held']} claimed pages; all sent by the "
              f"other {t['seconds']:.2f}s after its death (outbox lease {t['lease']:g}s); "
              f"doubled {t['doubled']}, unconfirmed at death {t['unconfirmed']}")
        print_killed(await killed_mid_storm(server, workdir))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
