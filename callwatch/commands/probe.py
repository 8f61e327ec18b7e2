"""``callwatch probe webhooks|all``: one probe round from the command line (runbook 3's check).

Probes the policy's ``exporter.probe_targets`` (``webhooks``: the webhook kinds only). With
``--base-url URL`` it probes ``URL/telephony/webhooks/twilio`` and ``.../telnyx`` instead.
Signing secrets come from the environment (``TWILIO_AUTH_TOKEN``,
``CALLWATCH_PROBE_TELNYX_PRIVATE_KEY``). Prints a table (target, success, duration, status,
detail); exits 0 when every probe succeeded, 1 when one failed, 2 when there is nothing to probe
(one line on stderr naming ``exporter.probe_targets`` and the policy file).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import aiohttp

from callwatch.commands.common import add_policy_option
from exporter.config import load_config
from exporter.probes import ProbeResult
from exporter.probes.runner import ProbeRunner, probe_context
from policy import load_policy, policy_path
from policy.spec_exporter import ProbeTarget


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=("webhooks", "all"),
                        help="webhooks: signed test webhooks only; all: every probe target")
    add_policy_option(parser)
    parser.add_argument("--base-url", metavar="URL",
                        help="probe URL/telephony/webhooks/{twilio,telnyx} instead of the policy")
    parser.add_argument("--target", action="append", metavar="NAME",
                        help="only this policy target (repeatable)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per probe")


def select_targets(args: argparse.Namespace, configured: tuple[ProbeTarget, ...]):
    if args.base_url:
        base = args.base_url.rstrip("/")
        return tuple(ProbeTarget(f"{p}-webhook", f"{p}_webhook",
                                 f"{base}/telephony/webhooks/{p}", p) for p in ("twilio", "telnyx"))
    targets = [t for t in configured if args.what == "all" or t.kind.endswith("_webhook")]
    if args.target:
        targets = [t for t in targets if t.name in set(args.target)]
    return tuple(targets)


def render_table(results: list[ProbeResult]) -> str:
    rows = [("TARGET", "KIND", "SUCCESS", "DURATION", "STATUS", "DETAIL")]
    rows += [(r.target, r.kind, "yes" if r.success else "NO", f"{r.duration * 1000:.0f} ms",
              str(r.status) if r.status is not None else "-", r.detail[:70]) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True))
                     + "  " + row[5] for row in rows)


async def run_round(targets, environ, timeout: float) -> list[ProbeResult]:
    config = load_config(environ)
    async with aiohttp.ClientSession() as session:
        ctx = probe_context(config, session, timeout, time.time)
        return await ProbeRunner(targets, None).run_round(ctx)


def nothing_to_probe(args: argparse.Namespace, configured: tuple[ProbeTarget, ...],
                     source: str) -> str:
    """The one line saying why no target was selected, naming the policy key to fill in."""
    if args.target and configured:
        kind = "webhook probe target" if args.what == "webhooks" else "probe target"
        return (f"callwatch probe: no {kind} named {', '.join(args.target)} in "
                f"exporter.probe_targets of {source}")
    what = ("webhook probe targets (kind twilio_webhook or telnyx_webhook)"
            if args.what == "webhooks" else "probe targets")
    return (f"callwatch probe: no {what} in exporter.probe_targets of {source}: add one there, "
            "or pass --base-url URL")


def main(args: argparse.Namespace) -> int:
    source = policy_path(args.policy, os.environ)
    settings = load_policy(source).exporter
    targets = select_targets(args, settings.probe_targets)
    if not targets:
        print(nothing_to_probe(args, settings.probe_targets, str(source)), file=sys.stderr)
        return 2
    timeout = args.timeout or settings.probe_timeout_seconds
    results = asyncio.run(run_round(targets, os.environ, timeout))
    print(render_table(results))
    return 0 if all(r.success for r in results) else 1
