"""``callwatch demo [--scenario NAME] [--time-scale F]``: the whole loop, live, no accounts."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.live import Live

from callwatch.commands.common import add_policy_option
from callwatch.stack import MissingBinary
from policy import DEFAULT_POLICY_PATH


def configure(parser: argparse.ArgumentParser) -> None:
    from simulator.scenarios import SCENARIOS

    add_policy_option(parser)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS),
                        help="run one scenario (default: walk through the four runbooks)")
    parser.add_argument("--time-scale", type=float, default=60.0, metavar="F",
                        help="policy minutes per real second x60 (default 60)")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="simulated calls per second (default 100)")
    parser.add_argument("--hold", type=float, default=20.0, metavar="SECONDS",
                        help="how long each fault stays on once paged (default 20)")


def _banner(stack) -> str:
    urls = stack.urls
    return (f"callwatch    {urls.callwatch}  (incidents: {urls.callwatch}/incidents)\n"
            f"Prometheus   {urls.prometheus}\nAlertmanager {urls.alertmanager}\n"
            f"simulator    {urls.simulator}/control/scenario\n"
            f"try:  curl -s -H 'Authorization: Bearer {stack.token}' {urls.callwatch}/incidents")


async def _run(args: argparse.Namespace, workdir: Path, console: Console) -> int:
    from callwatch.demo.stack import DemoStack
    from callwatch.demo.view import render
    from callwatch.demo.walk import TOURS, Tour, Walker

    console.print("starting the simulator, callwatch, Prometheus and Alertmanager ...")
    async with DemoStack(workdir, args.policy or DEFAULT_POLICY_PATH, args.time_scale,
                         args.rate) as stack:
        banner = _banner(stack)
        console.print(banner)
        tours = [t for t in TOURS if t.scenario == args.scenario] if args.scenario else list(TOURS)
        if args.scenario and not tours:
            tours = [Tour(args.scenario, "Telephony", "README.md")]
        async with aiohttp.ClientSession() as session:
            with Live(console=console, auto_refresh=False,
                      redirect_stdout=False) as live:
                def redraw(snap) -> None:
                    if console.is_terminal:
                        live.update(render(snap, stack.policy, banner), refresh=True)

                walker = Walker(stack, session, redraw, hold_seconds=args.hold)
                for tour in tours:
                    await walker.run(tour)
                    if not console.is_terminal:
                        for line in walker.events:
                            console.print(line)
                        walker.events.clear()
        console.print("demo finished; stopping everything")
    return 0


def main(args: argparse.Namespace) -> int:
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="callwatch-demo-"))
    try:
        return asyncio.run(_run(args, workdir, console))
    except MissingBinary as exc:
        print(f"callwatch demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        console.print("interrupted; everything stopped")
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
