"""``callwatch report monthly --month 2026-11 [--format md|html|json] [--out FILE]``: the
monthly review from a running callwatch (``GET /reports/monthly``).

Talks HTTP like ``callwatch incidents``: ``--url`` (default ``$CALLWATCH_URL``, else
http://127.0.0.1:9120), bearer token from ``CALLWATCH_RECEIVER_TOKEN`` (or ``..._FILE``).
The format is ``--format``, else ``--out``'s extension (``.html``, ``.json``), else Markdown.
Without ``--out`` the review goes to standard output. A 4xx/5xx answer prints one line with
the server's JSON error and exits 1; so does an unreachable server or an unwritable file.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from callwatch.commands.incidents import DEFAULT_URL, Client, CliError
from callwatch.secrets import SecretError, read_secret

FORMATS = ("md", "html", "json")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"callwatch base URL (default $CALLWATCH_URL, "
                                      f"else {DEFAULT_URL})")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (30)")
    sub = parser.add_subparsers(dest="report", required=True, metavar="REPORT")
    review = sub.add_parser("monthly", help="the monthly review of one calendar month (UTC)")
    review.add_argument("--month", required=True, help="YYYY-MM, e.g. 2026-11")
    review.add_argument("--format", choices=FORMATS,
                        help="md, html or json (default: from --out's extension, else md)")
    review.add_argument("--out", help="write to FILE instead of standard output")


def chosen_format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    suffix = Path(args.out).suffix.lower() if args.out else ""
    return {".html": "html", ".htm": "html", ".json": "json"}.get(suffix, "md")


def main(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        client = Client(args.url or environ.get("CALLWATCH_URL") or DEFAULT_URL,
                        read_secret(environ, "CALLWATCH_RECEIVER_TOKEN"), args.timeout)
        query = urllib.parse.urlencode({"month": args.month, "format": chosen_format(args)})
        text = client.read("GET", f"/reports/monthly?{query}").decode("utf-8")
        if args.out:
            try:
                Path(args.out).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CliError(f"cannot write {args.out}: {exc}") from None
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
    except (CliError, SecretError) as exc:
        print(f"callwatch report {args.report}: {exc}", file=sys.stderr)
        return 1
    return 0
