"""Prometheus recording and alerting rules: the six threshold rows, the service-down and
traffic-absent alerts (group ``callwatch-telephony``), and callwatch's own (``callwatch-self``,
policy/render/self_rules.py).

Recording rules aggregate by ``provider`` across every exporter instance, so replicated
exporters behind a load balancer add up. Alerting rules compare the recorded series with the
policy's thresholds, stay silent below the policy's minimum traffic, and carry ``severity``,
``priority`` and ``provider`` labels plus human annotations.

Every alert of both groups also carries ``managed_by: callwatch``: the one label that tells
callwatch's alerts from other teams' in a shared Alertmanager (its route in
deploy/alertmanager/callwatch-routes.yml matches it).
"""

from __future__ import annotations

from policy import catalog
from policy.model import BusinessHours, Policy, Threshold
from policy.render import RenderOptions
from policy.render.self_rules import self_rule_group
from policy.render.yamltext import dump_yaml

# One group: Prometheus evaluates a group's rules in order, so every alert reads recording
# rules computed in the same evaluation, never one interval old.
RULE_GROUP = "callwatch-telephony"
MARK_LABEL, MARK_VALUE = "managed_by", "callwatch"


def _sum_rate(metric: str, selector: str, window: str, by: str = "provider") -> str:
    return f"sum by ({by}) (rate({metric}{selector}[{window}]))"


def _outcome(outcome: str) -> str:
    return '{outcome="' + outcome + '"}'


def _answered(selector_outcomes: tuple[str, ...]) -> str:
    return '{outcome=~"' + "|".join(selector_outcomes) + '"}'


def _ratio(metric: str, part: str, whole: str, window: str, indent: str = "") -> str:
    """Rate of ``part`` over rate of ``whole`` per provider. A provider with no ``part`` series
    yet (no drop so far, say) gets 0, not a missing value: ``or 0 * whole`` fills it in."""
    numerator, denominator = _sum_rate(metric, part, window), _sum_rate(metric, whole, window)
    return (f"{indent}(\n{indent}  {numerator}\n{indent}  or\n{indent}  0 * {denominator}\n"
            f"{indent})\n{indent}/\n{indent}{denominator}")


def recording_exprs(policy: Policy, window: str) -> dict[str, str]:
    """Recording rule name -> PromQL, for every threshold row and the traffic share."""
    ended = catalog.CALLS_ENDED
    answered = _answered(catalog.ANSWERED_OUTCOMES)
    attempted = _answered(("completed", *catalog.PROVIDER_FAILURE_OUTCOMES))
    min_calls = policy.minimum_traffic.answered_calls
    dropped, completed, failure, error = (
        _outcome(name) for name in ("dropped", "completed", "failure", "error"))
    rows = catalog.ROWS
    return {
        rows["call_drop_rate"].record: _ratio(ended, dropped, answered, window),
        rows["call_quality"].record:
            f'{_sum_rate(catalog.CALL_MOS + "_sum", "", window)}\n'
            f'/\n{_sum_rate(catalog.CALL_MOS + "_count", "", window)}',
        rows["webhook_failure_rate"].record:
            _ratio(catalog.WEBHOOK_DELIVERIES, failure, "", window),
        rows["api_response_time"].record:
            "histogram_quantile(0.95,\n  "
            f'{_sum_rate(catalog.API_DURATION + "_bucket", "", window, "provider, le")}\n)',
        rows["error_rate"].record: _ratio(catalog.API_REQUESTS, error, "", window),
        # The share of provider-handled calls that ended well, only with enough calls to judge:
        # the call-failure evidence TelephonyServiceDown needs.
        catalog.CALL_SUCCESS_RECORD:
            f"{_ratio(ended, completed, attempted, window)}\n"
            f"and on (provider) sum by (provider) (increase({ended}{attempted}[{window}]))"
            f" >= {min_calls}",
        # Health is the worst of its inputs: that share, and whether the provider's API answers
        # our polls.
        rows["provider_health"].record:
            "min by (provider) (\n"
            f'  label_replace({catalog.CALL_SUCCESS_RECORD}, "input", "calls", "", "")\n'
            "  or\n"
            f'  label_replace(max by (provider) ({catalog.PROVIDER_UP}), "input", "api", "", "")\n'
            ")",
        catalog.TRAFFIC_SHARE_RECORD:
            f"{_sum_rate(ended, '', window)}\n"
            f"/ ignoring (provider) group_left ()\nsum (rate({ended}[{window}]))",
    }


def _traffic_guard(policy: Policy, row: catalog.Row, window: str) -> str:
    """``and on (provider) <volume> >= N`` keeping a rate alert quiet on too little traffic."""
    if row.traffic is None:
        return ""
    minimum = getattr(policy.minimum_traffic, row.traffic)
    if minimum <= 0:
        return ""
    volume = {
        "answered_calls": f"{catalog.CALLS_ENDED}{_answered(catalog.ANSWERED_OUTCOMES)}",
        "webhook_deliveries": catalog.WEBHOOK_DELIVERIES,
        "api_requests": catalog.API_REQUESTS,
    }[row.traffic]
    return f"\nand on (provider) sum by (provider) (increase({volume}[{window}])) >= {minimum}"


def _bad_requests_guard(policy: Policy, row: catalog.Row, value: float, window: str) -> str:
    """The API rows also need ``api_bad_requests`` failed (error rate) or slower-than-``value``
    (latency, counted from the histogram's buckets) requests: one bad poll is not an incident."""
    least = policy.minimum_traffic.api_bad_requests
    if row.key == "error_rate":
        bad = f"sum by (provider) (increase({catalog.API_REQUESTS}{_outcome('error')}[{window}]))"
    elif row.key == "api_response_time":
        total = f"sum by (provider) (increase({_bucket('+Inf')}[{window}]))"
        fast = f"sum by (provider) (increase({_bucket(value)}[{window}]))"
        bad = f"(\n  {total}\n  -\n  {fast}\n)"
    else:
        return ""
    return f"\nand on (provider) {bad} >= {least}"


def _bucket(bound: float | str) -> str:
    """The API histogram's bucket series at ``bound``, whether its exporter writes ``le`` as
    Go does ("1") or as Python's client does ("1.0")."""
    if isinstance(bound, str):
        return f'{catalog.API_DURATION}_bucket{{le="{bound}"}}'
    spellings = sorted({f"{bound:g}", repr(float(bound))}, key=len)
    pattern = "|".join(spelling.replace(".", "\\\\.") for spelling in spellings)
    return f'{catalog.API_DURATION}_bucket{{le=~"{pattern}"}}'


def _format_threshold(row: catalog.Row, value: float) -> str:
    if row.unit == "percentunit":
        return f"{value * 100:g}%"
    if row.unit == "s":
        return f"{value:g}s"
    return f"{value:g}"


def provider_dashboard_url(policy: Policy) -> str:
    """The policy's dashboard link filtered to the alert's own provider (the dashboard's
    ``provider`` variable), for alerts whose series carry one provider each. An alert about
    every provider (``provider="all"``) links the unfiltered dashboard instead. A query the
    link already has is kept, and a fragment stays last."""
    base, hash_, fragment = policy.links.dashboard_url.partition("#")
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}var-provider={{{{ $labels.provider }}}}{hash_}{fragment}"


def _annotations(policy: Policy, row: catalog.Row, level: str, value: float,
                 window: str, runbook: str) -> dict[str, str]:
    side = "above" if row.direction == "above" else "below"
    return {
        "summary": f"{row.title} {level} on {{{{ $labels.provider }}}}",
        "description": (
            f"{row.value_format} {row.description} on {{{{ $labels.provider }}}} over the last "
            f"{window} ({level} {side} {_format_threshold(row, value)})."),
        "runbook_url": policy.runbook_url(runbook),
        "dashboard_url": provider_dashboard_url(policy),
    }


def _alert(name: str, expr: str, for_: str, keep: str, labels: dict, annotations: dict) -> dict:
    rule = {"alert": name, "expr": expr, "for": for_}
    if keep != "0s":
        rule["keep_firing_for"] = keep
    rule["labels"] = labels
    rule["annotations"] = annotations
    return rule


def _row_alerts(policy: Policy, threshold: Threshold, options: RenderOptions) -> list[dict]:
    row = catalog.ROWS[threshold.key]
    window = options.duration(policy.evaluation.rate_window_seconds, _min_window(policy, options))
    guard = _traffic_guard(policy, row, window)
    op = ">" if row.direction == "above" else "<"
    for_ = options.duration(threshold.for_seconds)
    keep = options.duration(policy.evaluation.keep_firing_seconds)
    share = f"{catalog.TRAFFIC_SHARE_RECORD} > {policy.majority_traffic_share:g}"
    alerts = []
    for level, value, priority in (("warning", threshold.warning, threshold.priority_warning),
                                   ("critical", threshold.critical, threshold.priority_critical)):
        condition = (f"{row.record} {op} {value:g}{guard}"
                     f"{_bad_requests_guard(policy, row, value, window)}")
        notes = _annotations(policy, row, level, value, window, threshold.runbook)
        if level == "critical" and threshold.priority_critical_majority:
            # Split by the provider's share of calls: ">50% of users affected" is P1.
            # When the share crosses 50% mid-incident, the twin that stops keeps firing for at
            # least the row's `for` (and one evaluation), until the other twin has waited out its
            # own `for`: the critical never lapses while the condition holds.
            majority = threshold.priority_critical_majority
            split_keep = options.duration(max(
                policy.evaluation.keep_firing_seconds,
                threshold.for_seconds + policy.evaluation.evaluation_seconds))
            alerts.append(_alert(row.alert, f"(\n{condition}\n)\nand on (provider) {share}", for_,
                                 split_keep, _labels(level, majority), notes))
            alerts.append(_alert(row.alert, f"(\n{condition}\n)\nunless on (provider) {share}",
                                 for_, split_keep, _labels(level, priority), notes))
            continue
        alerts.append(_alert(row.alert, condition, for_, keep, _labels(level, priority), notes))
    return alerts


def _labels(severity: str, priority: str, provider: str | None = None) -> dict[str, str]:
    labels = {"severity": severity, "priority": priority}
    if provider:
        labels["provider"] = provider
    return labels


def _service_down_alert(policy: Policy, options: RenderOptions) -> dict:
    """Every provider's health critical, with calls failing on every provider (the evidence:
    API reachability alone could be our own egress), and callwatch itself reaching the
    outside (else CallwatchEgressDown speaks instead)."""
    health = catalog.ROWS["provider_health"]
    critical = policy.thresholds["provider_health"].critical
    expr = (f"count({health.record} < {critical:g})\n"
            f"== count({health.record})\n"
            f"and on ()\n"
            f"count({catalog.CALL_SUCCESS_RECORD} < {critical:g})\n"
            f"== count({health.record})\n"
            f"unless on ()\n"
            f"max({catalog.EGRESS_SUCCESS}) == 0")
    annotations = {
        "summary": "Telephony service down: every provider's health is critical",
        "description": (f"All {{{{ $value }}}} providers report health below "
                        f"{_format_threshold(health, critical)} and calls are failing on each "
                        "of them: calls are failing everywhere."),
        "runbook_url": policy.runbook_url(policy.service_down.runbook),
        "dashboard_url": policy.links.dashboard_url,
    }
    return _alert(catalog.SERVICE_DOWN_ALERT, expr,
                  options.duration(policy.service_down.for_seconds),
                  options.duration(policy.evaluation.keep_firing_seconds),
                  _labels("critical", policy.service_down.priority, "all"), annotations)


def _business_hours(hours: BusinessHours | None) -> str:
    """``\nand on () <it is business hours>`` (UTC), or nothing when always watched."""
    if hours is None:
        return ""
    days = hours.days
    if days == tuple(range(days[0], days[-1] + 1)):
        day = f"day_of_week() >= {days[0]} <= {days[-1]}"
    else:
        day = " or ".join(f"day_of_week() == {number}" for number in days)
    minute = f"hour() * 60 + minute() >= {hours.start_minute} < {hours.end_minute}"
    return f"\nand on ()\n(\n  ({day})\n  and\n  ({minute})\n)"


def _traffic_absent_alert(policy: Policy, options: RenderOptions) -> dict:
    """A provider that ended calls within ``seen_within`` and none for ``for``, while the
    exporter reports on it (its active-calls gauge is there), during business hours."""
    absent = policy.traffic_absent
    ended, active = catalog.CALLS_ENDED, catalog.CALLS_ACTIVE
    silent, seen = options.duration(absent.absent_seconds), options.duration(
        absent.seen_within_seconds)
    expr = (f"sum by (provider) (increase({ended}[{seen}])) > 0\n"
            f"unless on (provider)\n"
            f"sum by (provider) (increase({ended}[{silent}])) > 0\n"
            f"and on (provider)\n"
            f"count by (provider) ({active})"
            f"{_business_hours(absent.business_hours)}")
    annotations = {
        "summary": "No calls on {{ $labels.provider }} for " + silent,
        "description": ("{{ $labels.provider }} ended calls within the last " + seen + " and "
                        "none in the last " + silent + ": traffic stopped reaching it (routing, "
                        "numbers, the application) or its events stopped reaching callwatch."),
        "runbook_url": policy.runbook_url("complete-outage.md"),
        "dashboard_url": provider_dashboard_url(policy),
    }
    return _alert(catalog.TRAFFIC_ABSENT_ALERT, expr, "0s", "0s",
                  _labels("warning", absent.priority), annotations)


def _min_window(policy: Policy, options: RenderOptions) -> float:
    """rate() needs a few samples: never a window under four scrape intervals."""
    return 4 * options.scaled(policy.evaluation.scrape_seconds, 1.0)


def rule_groups(policy: Policy, options: RenderOptions) -> list[dict]:
    """The rule groups, shared by the Prometheus rules file and the PrometheusRule manifest
    (policy/render/kubernetes.py)."""
    window = options.duration(policy.evaluation.rate_window_seconds, _min_window(policy, options))
    recording = [{"record": name, "expr": expr}
                 for name, expr in recording_exprs(policy, window).items()]
    alerting = []
    for key in catalog.ROWS:
        alerting.extend(_row_alerts(policy, policy.thresholds[key], options))
    alerting.append(_service_down_alert(policy, options))
    alerting.append(_traffic_absent_alert(policy, options))
    return [_marked({"name": RULE_GROUP, "rules": recording + alerting}),
            _marked(self_rule_group(policy, options))]


def _marked(group: dict) -> dict:
    """``group`` with ``managed_by: callwatch`` added to every alerting rule's labels."""
    return {**group, "rules": [
        {**rule, "labels": {**rule["labels"], MARK_LABEL: MARK_VALUE}} if "alert" in rule
        else rule for rule in group["rules"]]}


def render_rules_file(groups: list[dict]) -> str:
    return dump_yaml({"groups": groups})

