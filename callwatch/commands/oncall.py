"""``callwatch oncall [--at ISO] [--schedule S] [--json] [--policy PATH]``: who is on call.

By default asks the running receiver's ``GET /oncall`` (``--url``, else ``$CALLWATCH_URL``,
else http://127.0.0.1:9120) with the bearer token from ``CALLWATCH_RECEIVER_TOKEN[_FILE]``,
as ``callwatch incidents`` does: the answer is the policy the receiver actually runs.
``--policy PATH`` answers from a policy file instead, with no receiver: a schedule edit can
be checked before it is deployed. Either way the same body
(``receiver.domain.oncall_views``): a table ``SCHEDULE CONTACT NAME LAYER SINCE UNTIL``, or
the JSON with ``--json``.

``--schedule S --feed CONTACT`` prints the URL a calendar app subscribes to for CONTACT's
shifts: ``<url>/oncall/S.ics?contact=CONTACT&key=KEY``, the key derived from the token
(``callwatch.credentials.feed_key``), after fetching it once, without the token, to prove
that it opens.

An unreachable receiver, an error answer (a bad ``--at``, an unknown schedule) or an unknown
schedule in the file: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from callwatch.commands.incidents import DEFAULT_URL, Client, CliError
from callwatch.credentials import feed_key
from callwatch.secrets import SecretError, read_secret


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", metavar="ISO",
                        help="when (ISO 8601 with an offset: 2027-01-15T09:00:00Z; default now)")
    parser.add_argument("--schedule", metavar="NAME", help="one schedule (default: all)")
    parser.add_argument("--json", action="store_true", help="print the JSON, not a table")
    parser.add_argument("--feed", metavar="CONTACT",
                        help="print the calendar feed URL of CONTACT's shifts in --schedule")
    parser.add_argument("--policy", metavar="PATH",
                        help="answer from this policy file, without a receiver")
    parser.add_argument("--url", help=f"callwatch base URL (default $CALLWATCH_URL, "
                                      f"else {DEFAULT_URL})")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds (10)")


def main(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        if args.feed:
            print(feed_url(args, environ))
            return 0
        body = from_policy(args) if args.policy else from_receiver(args, environ)
    except (CliError, SecretError) as exc:
        print(f"callwatch oncall: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(body, indent=2) if args.json else table(body))
    return 0


def feed_url(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """The calendar subscription URL of ``--feed``'s shifts in ``--schedule``, once the
    receiver has answered it (key alone, no token) with a calendar."""
    if not args.schedule or args.policy:
        raise CliError("--feed needs --schedule, and asks the receiver (not --policy)")
    token = read_secret(environ, "CALLWATCH_RECEIVER_TOKEN")
    if not token:
        raise CliError("--feed needs CALLWATCH_RECEIVER_TOKEN[_FILE]: the key is derived from it")
    client = Client(args.url or environ.get("CALLWATCH_URL") or DEFAULT_URL, token, args.timeout)
    query = urllib.parse.urlencode(
        {"contact": args.feed, "key": feed_key(token, args.schedule, args.feed)})
    path = f"/oncall/{urllib.parse.quote(args.schedule, safe='')}.ics?{query}"
    if not client.read("GET", path, auth=False).startswith(b"BEGIN:VCALENDAR"):
        raise CliError(f"{client.base_url} did not answer a calendar")
    return client.base_url + path


def from_receiver(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    client = Client(args.url or environ.get("CALLWATCH_URL") or DEFAULT_URL,
                    read_secret(environ, "CALLWATCH_RECEIVER_TOKEN"), args.timeout)
    query = {k: v for k, v in (("at", args.at), ("schedule", args.schedule)) if v}
    return client.request("GET", "/oncall" + ("?" + urllib.parse.urlencode(query)
                                              if query else ""))


def from_policy(args: argparse.Namespace) -> dict[str, Any]:
    """The body ``GET /oncall`` would answer, from the policy file (PolicyError: exit 2)."""
    from policy import load_policy  # the receiver's modules only when this mode runs
    from receiver.domain import oncall_views as views

    policy = load_policy(args.policy)
    try:
        at = views.parse_instant(args.at, "--at") if args.at else datetime.now(UTC)
        return views.oncall_body(policy, at, args.schedule)
    except (views.BadQuery, views.Unknown) as exc:
        raise CliError(str(exc)) from None


def table(body: Mapping[str, Any]) -> str:
    schedules = body.get("schedules") or {}
    if not schedules:
        return "no schedules"
    header = ("SCHEDULE", "CONTACT", "NAME", "LAYER", "SINCE", "UNTIL")
    rows = [(name, *(str(now.get(k) or "-") for k in ("contact", "name", "layer", "since",
                                                        "until")))
            for name, now in schedules.items()]
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     .rstrip() for row in [header, *rows])
