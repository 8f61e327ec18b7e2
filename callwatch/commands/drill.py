"""``callwatch drill``: fire a synthetic alert through the real Alertmanager and time the
response.

The alert carries the labels the policy's rule for ``--scenario`` at ``--priority`` gives a real
one (``alertname``, ``provider``, ``severity``, ``priority``, ``managed_by: callwatch``; read
from ``policy.render.rules``) plus ``drill="true"``, so Alertmanager routes it like the real
alert and the receiver pages like it, every page starting "DRILL: " (the incident's label
``drill="true"``; ``receiver.domain.render``). Alertmanager: ``--alertmanager``, else
``$CALLWATCH_ALERTMANAGER_URL``, else the policy's first ``prometheus.alertmanagers``.
The receiver (``--url``/``$CALLWATCH_URL``, ``CALLWATCH_RECEIVER_TOKEN``, as ``callwatch
incidents``) is polled until someone acknowledges; then the command prints alert -> first
page and page -> acknowledgement, resolves the drill (the alert again with ``endsAt`` now, and
``POST /incidents/{id}/resolve``) and records the figures on its timeline (``POST
/incidents/{id}/drill``: a ``drill`` event, which the monthly review lists). Exit 0; 1 when
nobody acknowledged within ``--timeout`` (the drill is resolved all the same) or a server
failed; 2 for an invalid policy or choice.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from callwatch.commands.common import add_policy_option, load_policy_from_args
from callwatch.commands.incidents import DEFAULT_URL, Client, CliError
from callwatch.secrets import SecretError, read_secret
from policy import Policy
from policy.model import PRIORITIES

# scenario -> (the alert a real one raises first, the provider it is about; None: the policy's
# first provider). The names are the simulator's scenarios (simulator/scenarios.py).
SCENARIOS: dict[str, tuple[str, str | None]] = {
    "twilio-outage": ("TelephonyProviderHealthLow", "twilio"),
    "telnyx-outage": ("TelephonyProviderHealthLow", "telnyx"),
    "total-outage": ("TelephonyServiceDown", "all"),
    "high-drop-rate": ("TelephonyCallDropRateHigh", None),
    "poor-quality": ("TelephonyCallQualityLow", None),
    "webhook-failures": ("TelephonyWebhookFailureRateHigh", None),
    "slow-api": ("TelephonyApiResponseTimeHigh", None),
}
ACTOR = "callwatch drill"
_TEMPLATE = re.compile(r"{{\s*\$(labels\.provider|value)[^}]*}}")


@dataclass(frozen=True)
class Figures:
    """A drill's response: seconds from the alert to the first page, and from it to the ack."""

    incident_id: str
    acked_by: str
    to_page: float
    to_ack: float

    def body(self) -> dict[str, Any]:
        """What ``POST /incidents/{id}/drill`` records."""
        return {"by": ACTOR, "alert_to_page_seconds": round(self.to_page, 3),
                "page_to_ack_seconds": round(self.to_ack, 3), "acked_by": self.acked_by}


def configure(parser: argparse.ArgumentParser) -> None:
    add_policy_option(parser)
    parser.add_argument("--scenario", default="twilio-outage", choices=list(SCENARIOS),
                        help="the outage to rehearse (twilio-outage)")
    parser.add_argument("--priority", choices=PRIORITIES,
                        help="the priority of the rule to fire (default: its highest)")
    parser.add_argument("--alertmanager", metavar="URL",
                        help="Alertmanager (default $CALLWATCH_ALERTMANAGER_URL, else the "
                             "policy's prometheus.alertmanagers)")
    parser.add_argument("--url", help=f"callwatch (default $CALLWATCH_URL, else {DEFAULT_URL})")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds to wait for an acknowledgement (900)")
    parser.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)


def main(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    policy = load_policy_from_args(args)
    try:
        alert = drill_alert(policy, args.scenario, args.priority, datetime.now(UTC))
        receiver = Client(args.url or environ.get("CALLWATCH_URL") or DEFAULT_URL,
                          read_secret(environ, "CALLWATCH_RECEIVER_TOKEN"), 10.0)
        alertmanager = Client(alertmanager_url(args, environ, policy), None, 10.0)
        return run(alert, alertmanager, receiver, args.timeout, args.poll, print)
    except ValueError as exc:
        print(f"callwatch drill: {exc}", file=sys.stderr)
        return 2
    except (CliError, SecretError) as exc:
        print(f"callwatch drill: {exc}", file=sys.stderr)
        return 1


def alertmanager_url(args: argparse.Namespace, environ: Mapping[str, str],
                     policy: Policy) -> str:
    url = (args.alertmanager or environ.get("CALLWATCH_ALERTMANAGER_URL")
           or next(iter(policy.prometheus.alertmanagers), ""))
    if not url:
        raise CliError("no Alertmanager: pass --alertmanager or set CALLWATCH_ALERTMANAGER_URL")
    return url if url.startswith(("http://", "https://")) else f"http://{url}"


def drill_alert(policy: Policy, scenario: str, priority: str | None,
                now: datetime) -> dict[str, Any]:
    """The Alertmanager alert (``POST /api/v2/alerts`` item) a real ``scenario`` alert of
    ``priority`` would be, marked ``drill="true"``; ValueError when the policy's rule for the
    scenario has no such priority."""
    from policy.render import RenderOptions
    from policy.render.rules import RULE_GROUP, rule_groups

    name, provider = SCENARIOS[scenario]
    provider = provider or next(iter(policy.providers))
    group = next(g for g in rule_groups(policy, RenderOptions()) if g["name"] == RULE_GROUP)
    rules = [r for r in group["rules"] if r.get("alert") == name]
    ranked = sorted(rules, key=lambda r: PRIORITIES.index(r["labels"]["priority"]))
    rule = next((r for r in ranked if priority in (None, r["labels"]["priority"])), None)
    if rule is None:
        found = ", ".join(sorted({r["labels"]["priority"] for r in rules}))
        raise ValueError(f"{name} ({scenario}) fires at {found}, not {priority}")
    values = {"labels.provider": provider, "value": "drill"}
    annotations = {key: _TEMPLATE.sub(lambda m: values[m.group(1)], text)
                   for key, text in rule["annotations"].items()}
    labels = {"alertname": name, **rule["labels"], "provider": provider, "drill": "true"}
    return {"labels": labels, "annotations": annotations, "startsAt": _iso(now),
            "generatorURL": "callwatch://drill"}


def run(alert: dict[str, Any], alertmanager: Client, receiver: Client, timeout: float,
        poll: float, say: Callable[[str], None]) -> int:
    """Fire ``alert``, wait for the acknowledgement, report, resolve. The exit code."""
    sent = time.time()
    alertmanager.read("POST", "/api/v2/alerts", [alert], auth=False)
    name = alert["labels"]["alertname"]
    say(f"drill: {name} ({alert['labels']['priority']}, {alert['labels']['provider']}) sent "
        f"to {alertmanager.base_url}; waiting up to {timeout:g}s for an acknowledgement")
    incident = None
    try:
        incident = _wait(receiver, name, sent, sent + timeout, poll)
        if incident is None or not incident.get("acked_at"):
            where = f"incident {incident['id']}" if incident else "the drill's incident"
            say(f"drill: nobody acknowledged {where} within {timeout:g}s")
            return 1
        figures = measure(receiver.request("GET", f"/incidents/{incident['id']}"), sent)
        say(f"alert -> first page: {figures.to_page:.1f}s")
        say(f"page -> acknowledgement: {figures.to_ack:.1f}s (by {figures.acked_by})")
        receiver.request("POST", f"/incidents/{incident['id']}/drill", figures.body())
        return 0
    finally:
        _resolve(alert, alertmanager, receiver, incident, say)


def _wait(receiver: Client, name: str, sent: float, deadline: float,
          poll: float) -> dict[str, Any] | None:
    """The drill's incident once acknowledged; at the deadline, whatever was found (None:
    no drill incident appeared)."""
    query = urllib.parse.urlencode({"alertname": name, "limit": "20"})
    found = None
    while True:
        listed = receiver.request("GET", f"/incidents?{query}").get("incidents", [])
        found = next((i for i in listed if i.get("labels", {}).get("drill") == "true"
                      and i.get("state") != "resolved"
                      and _epoch(i["opened_at"]) >= sent - 5), found)
        if (found is not None and found.get("acked_at")) or time.time() >= deadline:
            return found
        time.sleep(poll)


def measure(detail: Mapping[str, Any], sent: float) -> Figures:
    """The figures from an acknowledged incident's detail (its first ``notified`` event)."""
    pages = [_epoch(e["at"]) for e in detail.get("timeline", []) if e.get("kind") == "notified"]
    acked = _epoch(detail["acked_at"])
    first = min(pages) if pages else acked
    return Figures(detail["id"], str(detail.get("acked_by") or "?"),
                   max(0.0, first - sent), max(0.0, acked - first))


def _resolve(alert: dict[str, Any], alertmanager: Client, receiver: Client,
             incident: Mapping[str, Any] | None, say: Callable[[str], None]) -> None:
    """End the drill: the alert resolved at Alertmanager, the incident resolved by hand (an
    incident already resolved by the alert's end is fine)."""
    ended = {**alert, "endsAt": _iso(datetime.now(UTC))}
    alertmanager.read("POST", "/api/v2/alerts", [ended], auth=False)
    if incident is None:
        return
    try:
        receiver.request("POST", f"/incidents/{incident['id']}/resolve", {"by": ACTOR})
    except CliError as exc:
        if not str(exc).startswith("HTTP 409"):
            raise
    say(f"drill: incident {incident['id']} resolved")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
