"""Exporter benchmark (prints figures; not a test). Run: .venv/bin/python bench/bench_exporter.py

1. Verified webhook events/s through the real endpoints (Twilio form + HMAC-SHA1; Telnyx JSON +
   Ed25519), each against a no-op aiohttp POST handler measured the same way in the same run.
   The server runs in a subprocess pinned to one core; the client (pre-signed requests, 32 in
   flight) runs here, pinned to the other core when there is one.
2. /metrics scrape time (p50/p99 of generate_latest on the app registry, plus HTTP scrapes) after
   1,000,000 ingested events. The million is fed to the ingestion core directly (parser +
   CallTracker.ingest, the code the endpoints run after the signature check), not over HTTP.
3. Resident memory after 10,000 and after 1,000,000 events (same process as 2).
Twilio events follow real lifecycles (ringing, in-progress, ended: 3 callbacks a call); Telnyx
events are hang-ups with quality stats. Distinct call ids and numbers throughout.
Targets: >= 2,000 verified events/s on one core; scrape p99 < 10 ms; growth < 20 MB.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TOKEN = "bench-auth-token"
PUBLIC_URL = "http://127.0.0.1"
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
CONCURRENCY = 32


def pin(cpu: int) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        os.sched_setaffinity(0, {cpus[cpu % len(cpus)]})


# -- server side --------------------------------------------------------------------------
def serve(kind: str, port: int, public_key: str) -> None:
    from aiohttp import web
    pin(0)
    if kind == "baseline":
        app = web.Application()

        async def noop(request: web.Request) -> web.Response:
            await request.read()
            return web.json_response({"status": "accepted"})
        app.router.add_post("/telephony/webhooks/{provider}", noop)
    else:
        from callwatch.web import create_app
        from exporter.app import setup_exporter
        from policy import load_policy
        app = create_app(load_policy(REPO / "deploy/policy.yaml"))
        setup_exporter(app, {"TWILIO_AUTH_TOKEN": TOKEN, "TELNYX_PUBLIC_KEY": public_key,
                             "CALLWATCH_PUBLIC_URL": PUBLIC_URL, "CALLWATCH_STATUSPAGE": "off"})
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- client side --------------------------------------------------------------------------
def twilio_requests(n: int) -> list[tuple[bytes, dict]]:
    from callwatch.signatures import twilio_sign
    url = PUBLIC_URL + "/telephony/webhooks/twilio"
    out = []
    for i in range(n):
        # each call: ringing, in-progress, then an ended status (realistic lifecycles)
        status = ("ringing", "in-progress", ("completed", "busy", "failed")[(i // 3) % 3])[i % 3]
        form = {"CallSid": f"CA{i // 3:032x}", "AccountSid": "AC" + "0" * 32, "CallStatus":
                status, "From": f"+1555{i:07d}",
                "To": "+15550000000", "Direction": "outbound-api", "SequenceNumber": str(i % 3),
                "SipResponseCode": "200", "ApiVersion": "2010-04-01", "CallDuration": "42"}
        out.append((urlencode(form).encode(), {
            "X-Twilio-Signature": twilio_sign(TOKEN, url, form),
            "Content-Type": "application/x-www-form-urlencoded"}))
    return out


def telnyx_requests(n: int, key) -> list[tuple[bytes, dict]]:
    from callwatch.signatures import telnyx_sign
    now = int(time.time())
    out = []
    for i in range(n):
        body = json.dumps({"data": {"event_type": "call.hangup", "id": f"ev{i}", "record_type":
                                    "event", "payload": {
                                        "call_leg_id": f"leg-{i}", "call_control_id": f"v3:{i}",
                                        "hangup_cause": "normal_clearing", "from": f"+1555{i:07d}",
                                        "call_quality_stats": {"inbound": {"mos": "4.20"}}}}}
                          ).encode()
        out.append((body, {**telnyx_sign(key, body, now), "Content-Type": "application/json"}))
    return out


async def blast(port: int, provider: str, requests: list) -> tuple[float, int]:
    import aiohttp
    url = f"http://127.0.0.1:{port}/telephony/webhooks/{provider}"
    done = bad = 0
    stop = time.perf_counter() + SECONDS
    index = 0

    async def worker(session) -> None:
        nonlocal done, bad, index
        while time.perf_counter() < stop and index < len(requests):
            body, headers = requests[index]
            index += 1
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status == 200:
                    done += 1
                else:
                    bad += 1

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return done / elapsed, bad


def start_server(kind: str, public_key: str) -> tuple[subprocess.Popen, int]:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, str(port), public_key],
                            cwd=REPO)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{kind} server did not start")


def throughput() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from callwatch.signatures import telnyx_public_key_b64
    pin(1)
    key = Ed25519PrivateKey.generate()
    public = telnyx_public_key_b64(key)
    n = int(SECONDS * 12_000)
    loads = {"twilio": twilio_requests(n), "telnyx": telnyx_requests(n, key)}
    print(f"1. verified webhook events/s ({SECONDS:g} s each, {CONCURRENCY} in flight, "
          f"server on one core)")
    for provider, requests in loads.items():
        rates = {}
        for kind in ("baseline", "exporter"):
            proc, port = start_server(kind, public)
            try:
                rates[kind], bad = asyncio.run(blast(port, provider, requests))
            finally:
                proc.terminate()
                proc.wait()
            if bad:
                print(f"   {provider} {kind}: {bad} requests not accepted")
        print(f"   {provider:7s} exporter {rates['exporter']:8.0f}/s   no-op baseline "
              f"{rates['baseline']:8.0f}/s   ratio {rates['exporter'] / rates['baseline']:.2f}")


# -- ingestion core, scrape, memory -------------------------------------------------------
def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def core_and_scrape() -> None:
    from prometheus_client import generate_latest

    from callwatch.web import REGISTRY, create_app
    from exporter.app import setup_exporter
    from exporter.keys import TRACKER
    from exporter.parse import telnyx_event, twilio_event
    from policy import load_policy
    pin(1)
    app = create_app(load_policy(REPO / "deploy/policy.yaml"))
    setup_exporter(app, {"CALLWATCH_STATUSPAGE": "off"})
    tracker, registry = app[TRACKER], app[REGISTRY]
    statuses = ("ringing", "in-progress", "completed", "ringing", "in-progress", "no-answer")
    causes = ("normal_clearing", "user_busy", "unspecified", "no_answer")

    def feed(start: int, stop: int) -> None:
        for i in range(start, stop):
            if (i // 3) % 2:   # a Twilio call in 3 callbacks: ringing, in-progress, ended
                tracker.ingest(twilio_event({"CallSid": f"CA{i // 3:032x}", "CallStatus":
                                             statuses[i % 3 + 3 * ((i // 6) % 2)],
                                             "Direction": "inbound", "SipResponseCode": "200",
                                             "SequenceNumber": str(i % 3)}))
            else:
                body = (b'{"data":{"event_type":"call.hangup","payload":{"call_leg_id":"leg-%d",'
                        b'"hangup_cause":"%s","call_quality_stats":{"inbound":{"mos":"3.9"}}}}}'
                        % (i, causes[i % 4].encode()))
                tracker.ingest(telnyx_event(body))

    feed(0, 10_000)
    rss_10k = rss_mb()
    started = time.perf_counter()
    feed(10_000, 1_000_000)
    ingest_rate = 990_000 / (time.perf_counter() - started)
    rss_1m = rss_mb()
    times = []
    for _ in range(300):
        t0 = time.perf_counter()
        body = generate_latest(registry)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print("2. /metrics after 1,000,000 events fed to the ingestion core "
          f"(core ingests {ingest_rate:,.0f} events/s incl. parsing)")
    print(f"   scrape (generate_latest) p50 {statistics.median(times):.2f} ms   "
          f"p99 {times[int(len(times) * 0.99) - 1]:.2f} ms   body {len(body):,} bytes")
    print(f"3. RSS after 10,000 events {rss_10k:.1f} MB; after 1,000,000 {rss_1m:.1f} MB; "
          f"growth {rss_1m - rss_10k:.1f} MB (dedup {len(tracker.seen):,} entries, "
          f"live calls {len(tracker.live):,})")
    asyncio.run(http_scrapes(app))


async def http_scrapes(app) -> None:
    from aiohttp import ClientSession, web
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    times = []
    async with ClientSession() as session:
        for _ in range(200):
            t0 = time.perf_counter()
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                await response.read()
            times.append((time.perf_counter() - t0) * 1000)
    await runner.cleanup()
    times.sort()
    print(f"   HTTP GET /metrics p50 {statistics.median(times):.2f} ms   "
          f"p99 {times[int(len(times) * 0.99) - 1]:.2f} ms")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    started = time.perf_counter()
    throughput()
    # a fresh process, so RSS is not inflated by the pre-signed request lists
    subprocess.run([sys.executable, __file__, "--core"], cwd=REPO, check=True)
    print(f"(bench took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--core":
        core_and_scrape()
    else:
        main()
