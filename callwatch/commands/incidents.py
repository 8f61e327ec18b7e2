"""``callwatch incidents list|show|ack|resolve|declare|publish``: the incident API from a
terminal.

Talks HTTP to a running callwatch: ``--url`` (default ``$CALLWATCH_URL``, else
http://127.0.0.1:9120), bearer token from ``CALLWATCH_RECEIVER_TOKEN`` (or ``..._FILE``).
``list`` prints a table (``--json`` for the JSON), newest first, one page of ``--limit``
filtered by ``--state``, ``--priority``, ``--provider``, ``--alertname``, ``--since`` and
``--until`` (RFC 3339 with an offset); the last line names the ``--before`` that shows the next
page. ``--all`` follows the pages to the end (``--limit`` per request, 1000 by default).
``show`` / ``ack`` / ``resolve`` / ``declare`` print the incident's JSON. A 4xx/5xx answer
prints one line with the server's JSON error (``HTTP 409 conflict: incident ... was already
acknowledged by ...``) and exits 1; an unreachable server also exits 1. ``publish ID``
publishes the incident's customer notice on the status page (``--body-file F``: the text
customers read instead of the rendered notice; ``-`` reads standard input) and prints the
queued row's JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from callwatch.secrets import SecretError, read_secret
from policy.model import PRIORITIES

DEFAULT_URL = "http://127.0.0.1:9120"
PAGE = 50                # incidents `list` shows by default
ALL_PAGE = 1000          # incidents per request with --all (the API's largest page)
FILTERS = ("state", "priority", "provider", "alertname", "since", "until")


class CliError(Exception):
    """One line for stderr; the command exits 1."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"callwatch base URL (default $CALLWATCH_URL, "
                                      f"else {DEFAULT_URL})")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds (10)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="incidents, newest first")
    listing.add_argument("--state", choices=("triggered", "acknowledged", "resolved"))
    listing.add_argument("--priority", choices=PRIORITIES)
    listing.add_argument("--provider")
    listing.add_argument("--alertname")
    listing.add_argument("--since", help="opened at or after (2027-01-15T09:00:00Z)")
    listing.add_argument("--until", help="opened before (2027-01-15T09:00:00Z)")
    listing.add_argument("--limit", type=int,
                         help=f"incidents per page ({PAGE}; {ALL_PAGE} per request with --all)")
    pages = listing.add_mutually_exclusive_group()
    pages.add_argument("--before", metavar="CURSOR",
                       help="the page after this one (a page's `next`)")
    pages.add_argument("--all", action="store_true", help="every page, to the oldest")
    listing.add_argument("--json", action="store_true", help="print the JSON, not a table")
    show = sub.add_parser("show", help="one incident with its timeline and notifications")
    show.add_argument("id")
    for name, verb in (("ack", "acknowledge"), ("resolve", "resolve")):
        action = sub.add_parser(name, help=f"{verb} an incident")
        action.add_argument("id")
        action.add_argument("--by", required=True, help="who (recorded on the timeline)")
    publish = sub.add_parser("publish", help="publish the customer notice on the status page")
    publish.add_argument("id")
    publish.add_argument("--body-file", help="the text customers read (- for stdin)")
    publish.add_argument("--by", help="who (recorded with the notice)")
    declare = sub.add_parser("declare", help="declare an incident by hand (security: P0)")
    declare.add_argument("--summary", required=True)
    declare.add_argument("--priority", required=True, choices=PRIORITIES)
    declare.add_argument("--description", required=True)
    declare.add_argument("--provider")
    declare.add_argument("--by")


def main(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        client = Client(args.url or environ.get("CALLWATCH_URL") or DEFAULT_URL,
                        read_secret(environ, "CALLWATCH_RECEIVER_TOKEN"), args.timeout)
        print(run(client, args))
    except (CliError, SecretError) as exc:
        print(f"callwatch incidents {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0


def run(client: Client, args: argparse.Namespace) -> str:
    """The text to print for one action."""
    quoted = urllib.parse.quote(getattr(args, "id", "") or "", safe="")
    if args.action == "list":
        body = list_incidents(client, args)
        if args.json:
            return json.dumps(body, indent=2)
        listed = table(body.get("incidents", []))
        return listed + (f"\nnext page: --before {body['next']}" if body.get("next") else "")
    if args.action == "show":
        return json.dumps(client.request("GET", f"/incidents/{quoted}"), indent=2)
    if args.action == "publish":
        fields = {"body": _read_body_file(args.body_file), "by": args.by}
        return json.dumps(client.request("POST", f"/incidents/{quoted}/status-page",
                                         {k: v for k, v in fields.items() if v}), indent=2)
    if args.action in ("ack", "resolve"):
        return json.dumps(client.request("POST", f"/incidents/{quoted}/{args.action}",
                                         {"by": args.by}), indent=2)
    fields = {"summary": args.summary, "priority": args.priority,
              "description": args.description, "provider": args.provider, "by": args.by}
    return json.dumps(client.request("POST", "/incidents",
                                     {k: v for k, v in fields.items() if v is not None}), indent=2)


def _read_body_file(path: str | None) -> str | None:
    """The text of ``--body-file`` (``-``: standard input); CliError when unreadable."""
    if path is None:
        return None
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read --body-file {path}: {exc}") from None


def list_incidents(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    """``GET /incidents`` for ``args``: one page, or with ``--all`` every page joined (its
    ``next`` then null)."""
    query = {name: getattr(args, name) for name in FILTERS if getattr(args, name)}
    query["limit"] = str(args.limit or (ALL_PAGE if args.all else PAGE))
    if args.before:
        query["before"] = args.before
    body = client.request("GET", "/incidents?" + urllib.parse.urlencode(query))
    found = list(body.get("incidents", []))
    while args.all and body.get("next"):
        query["before"] = body["next"]
        body = client.request("GET", "/incidents?" + urllib.parse.urlencode(query))
        found += body.get("incidents", [])
    return {"incidents": found, "next": body.get("next")}


def table(incidents: list[Mapping[str, Any]]) -> str:
    if not incidents:
        return "no incidents"
    header = ("ID", "PRI", "STATE", "OPENED", "ACKED BY", "SUMMARY")
    rows = [(str(i.get("id", "")), str(i.get("priority", "")), str(i.get("state", "")),
             str(i.get("opened_at") or ""), str(i.get("acked_by") or "-"),
             str(i.get("summary", ""))[:60]) for i in incidents]
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header) - 1)]
    # widths covers every column but the last (row is one longer): strict=False
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
             + "  " + row[-1] for row in [header, *rows]]
    return "\n".join(line.rstrip() for line in lines)


class Client:
    """A tiny JSON-over-HTTP client (stdlib only: the CLI starts fast)."""

    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise CliError(f"--url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """The JSON answer, sent with the token; CliError for an error answer or no JSON."""
        raw = self.read(method, path, body)
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            raise CliError(f"{self.base_url}{path} did not answer JSON") from None

    def read(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> bytes:
        """The raw answer (``auth=False``: without the token); CliError for an error answer
        or an unreachable server."""
        headers = {"Accept": "application/json"}
        if self.token and auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers,
                                         method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            raise CliError(http_error(exc.code, exc.read())) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach {self.base_url}: {reason}") from None


def http_error(status: int, raw: bytes) -> str:
    """``HTTP 409 conflict: <detail>`` from the server's JSON error (or its raw text)."""
    try:
        body = json.loads(raw)
        return f"HTTP {status} {body.get('error', 'error')}: {body.get('detail', '')}".rstrip(": ")
    except (ValueError, AttributeError):
        text = raw.decode("utf-8", "replace").strip().splitlines()
        return f"HTTP {status}: {text[0][:200] if text else 'no body'}"
