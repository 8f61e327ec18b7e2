"""``python -m simulator``: run every stand-in until interrupted, printing JSON lines.

    python -m simulator --scenario normal --target-base-url http://127.0.0.1:9120 --rate 20

Prints ``{"event": "ready", "urls": {...}, "env": {...}}`` once listening, then a status line
every ``--report-every`` seconds; switch scenarios with ``PUT <url>/control/scenario``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys

from simulator.scenarios import SCENARIOS
from simulator.sim import Simulator


def configure(parser: argparse.ArgumentParser) -> None:
    """The options, shared with ``callwatch simulate``."""
    parser.add_argument("--scenario", default="normal", choices=list(SCENARIOS))
    parser.add_argument("--target-base-url", default=None,
                        help="callwatch base URL; webhooks go to /telephony/webhooks/{provider}")
    parser.add_argument("--rate", type=float, default=5.0, help="calls per second")
    parser.add_argument("--hold-seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report-every", type=float, default=10.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__.split("\n")[0])
    configure(parser)
    return parser.parse_args(argv)


def _line(**fields) -> None:
    print(json.dumps(fields, sort_keys=True), flush=True)


async def run(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with Simulator(scenario=args.scenario, target_base_url=args.target_base_url,
                         rate=args.rate, hold_seconds=args.hold_seconds, seed=args.seed) as sim:
        _line(event="ready", scenario=sim.scenario.name,
              urls={"simulator": sim.url, "pagerduty": sim.pagerduty_url,
                    "control": f"{sim.url}/control", "smtp": f"127.0.0.1:{sim.smtp_port}"},
              env=sim.env())
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.report_every):
                    await stop.wait()
            stats = sim.generator.stats
            _line(event="status", **sim.control.summary(), calls_started=stats.started,
                  webhooks_sent=stats.sent, webhook_errors=stats.send_errors)
    _line(event="stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
