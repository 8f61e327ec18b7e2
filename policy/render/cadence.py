"""A promtool test generated from the policy: every threshold row fires at the shipped cadence.

For each row, series produced the way the policy says they will be (callwatch's own polls at
``exporter.poll_intervals`` for the API and health rows, application traffic at just above
``minimum_traffic`` for the call and webhook rows), breaching the critical line, must raise
the row's critical alert. For the two API rows, the same polls with one bad request in the
window must not (``minimum_traffic.api_bad_requests``: one bad poll is not an incident).
Changing an interval, a guard or a threshold in the policy changes these series, so the test
stays honest: ``callwatch render`` rewrites it, and ``promtool test rules`` runs it.
"""

from __future__ import annotations

import math

from policy import catalog
from policy.model import Policy
from policy.render.rules import MARK_LABEL, MARK_VALUE
from policy.render.yamltext import dump_yaml

PATH = "deploy/prometheus/tests/shipped_cadence.test.yml"
PROVIDER = "twilio"
MARGIN = 1.25   # application traffic this much above the guard: enough, not a lucky boundary


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def _steady(per_minute: float, minutes: int) -> str:
    return f"0+{per_minute:g}x{minutes}"


def _series(name: str, labels: dict[str, str], values: str) -> dict:
    inner = ",".join(f'{key}="{value}"' for key, value in {"provider": PROVIDER, **labels}.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _firing(policy: Policy, key: str, majority: bool) -> dict:
    """The ALERTS series of the row's critical, firing."""
    threshold = policy.thresholds[key]
    priority = (threshold.priority_critical_majority if majority else None) \
        or threshold.priority_critical
    labels = (f'{{__name__="ALERTS",alertname="{catalog.ROWS[key].alert}",alertstate="firing",'
              f'severity="critical",priority="{priority}",provider="{PROVIDER}",'
              f'{MARK_LABEL}="{MARK_VALUE}"}}')
    return {"labels": labels, "value": 1}


def _case(policy: Policy, key: str, series: list[dict], eval_minutes: int, fires: bool,
          majority: bool = False) -> dict:
    expr = f'ALERTS{{alertname="{catalog.ROWS[key].alert}",severity="critical"}}'
    return {"interval": "1m", "input_series": series, "promql_expr_test": [
        {"expr": expr, "eval_time": f"{eval_minutes}m",
         "exp_samples": [_firing(policy, key, majority)] if fires else []}]}


def _api_requests(policy: Policy, minutes: int, bad_per_window: float) -> tuple[list, float]:
    """callwatch's guaranteed polls of the provider a minute (one request each), with
    ``bad_per_window`` of them failed per rate window."""
    window = policy.evaluation.rate_window_seconds / 60
    per_minute = sum(60 / policy.exporter.poll_intervals[source]
                     for source in catalog.GUARANTEED_API_POLLS[PROVIDER])
    bad = bad_per_window / window
    return [_series(catalog.API_REQUESTS, {"operation": "calls", "outcome": "success"},
                    _steady(per_minute - bad, minutes)),
            _series(catalog.API_REQUESTS, {"operation": "calls", "outcome": "error"},
                    _steady(bad, minutes))], per_minute


def _api_latency(policy: Policy, minutes: int, slow_per_window: float) -> list[dict]:
    """The same polls (and their request counter, which the traffic guard reads),
    ``slow_per_window`` of them just over the critical line."""
    window = policy.evaluation.rate_window_seconds / 60
    requests, per_minute = _api_requests(policy, minutes, 0)
    critical = policy.thresholds["api_response_time"].critical
    slow_bucket = next(bound for bound in catalog.API_BUCKETS if bound > critical)
    slow = slow_per_window / window
    series = []
    for bound in (*catalog.API_BUCKETS, "+Inf"):
        # the fast requests all under the first bound, the slow ones in the bucket above the line
        below = per_minute if bound == "+Inf" or bound >= slow_bucket else per_minute - slow
        spelled = bound if bound == "+Inf" else repr(float(bound))
        series.append(_series(f"{catalog.API_DURATION}_bucket",
                              {"operation": "calls", "le": spelled}, _steady(below, minutes)))
    return series + requests


def _calls(policy: Policy, minutes: int, bad_share: float, outcome: str) -> list[dict]:
    """Answered calls at just above the guard, ``bad_share`` of them ending ``outcome``."""
    window = policy.evaluation.rate_window_seconds / 60
    per_minute = policy.minimum_traffic.answered_calls * MARGIN / window
    labels = {"direction": "inbound"}
    return [_series(catalog.CALLS_ENDED, {**labels, "outcome": "completed"},
                    _steady(per_minute * (1 - bad_share), minutes)),
            _series(catalog.CALLS_ENDED, {**labels, "outcome": outcome},
                    _steady(per_minute * bad_share, minutes))]


def _over(policy: Policy, key: str) -> float:
    """A value just past the row's critical line, on its alerting side."""
    critical = policy.thresholds[key].critical
    return critical * 1.2 if catalog.ROWS[key].direction == "above" else critical * 0.8


def _tests(policy: Policy, minutes: int, at: int) -> list[tuple[str, dict]]:
    bad = policy.minimum_traffic.api_bad_requests
    window = policy.evaluation.rate_window_seconds / 60
    deliveries = policy.minimum_traffic.webhook_deliveries * MARGIN / window
    failed = _over(policy, "webhook_failure_rate")
    mos_count = policy.minimum_traffic.answered_calls * MARGIN / window
    cases = [
        ("error_rate", "callwatch's own polls, each window holding the guard's bad requests",
         _case(policy, "error_rate", _api_requests(policy, minutes, bad + 0.5)[0], at, True)),
        ("error_rate", "the same polls with one failed request in the window: no alert",
         _case(policy, "error_rate", _api_requests(policy, minutes, 1)[0], at, False)),
        ("api_response_time", "callwatch's own polls, the guard's bad requests over the line",
         _case(policy, "api_response_time", _api_latency(policy, minutes, bad + 0.5), at, True)),
        ("api_response_time", "the same polls with one slow request in the window: no alert",
         _case(policy, "api_response_time", _api_latency(policy, minutes, 1), at, False)),
        ("provider_health", "callwatch's polls of the provider's API failing",
         _case(policy, "provider_health", [_series(catalog.PROVIDER_UP, {}, f"0x{minutes}")],
               at, True)),
        ("call_drop_rate", "answered calls just above the guard, dropping past the line",
         _case(policy, "call_drop_rate", _calls(policy, minutes, _over(policy, "call_drop_rate"),
                                                 "dropped"), at, True, majority=True)),
        ("webhook_failure_rate", "webhook deliveries just above the guard, failing past the line",
         _case(policy, "webhook_failure_rate", [
             _series(catalog.WEBHOOK_DELIVERIES, {"source": "provider", "outcome": "success"},
                     _steady(deliveries * (1 - failed), minutes)),
             _series(catalog.WEBHOOK_DELIVERIES, {"source": "provider", "outcome": "failure"},
                     _steady(deliveries * failed, minutes)),
             *_calls(policy, minutes, 0, "dropped")], at, True, majority=True)),
        ("call_quality", "answered calls just above the guard, scored under the line",
         _case(policy, "call_quality", [
             _series(f"{catalog.CALL_MOS}_sum", {},
                     _steady(mos_count * _over(policy, "call_quality"), minutes)),
             _series(f"{catalog.CALL_MOS}_count", {}, _steady(mos_count, minutes)),
             *_calls(policy, minutes, 0, "dropped")], at, True, majority=True)),
    ]
    return [(f"{catalog.ROWS[key].title}: {sentence}.", body) for key, sentence, body in cases]


def render_cadence_test(policy: Policy) -> str:
    """The test file (see the module docstring); run from its directory."""
    longest_for = max(threshold.for_seconds for threshold in policy.thresholds.values())
    at = _minutes(policy.evaluation.rate_window_seconds + longest_for) + 2
    minutes = at + 5
    cases = _tests(policy, minutes, at)
    text = dump_yaml({"rule_files": ["../rules/telephony.rules.yml"],
                      "evaluation_interval": "1m",
                      "group_eval_order": ["callwatch-telephony", "callwatch-self"]})
    text += "tests:\n"
    for title, body in cases:   # each case under its sentence, as a comment
        case = dump_yaml([body], header=False)
        text += f"  # {title}\n" + "".join(f"  {line}\n" for line in case.splitlines())
    return text
