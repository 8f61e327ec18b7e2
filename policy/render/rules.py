"""Prometheus recording and alerting rules for the six threshold rows and the service-down alert.

Recording rules aggregate by ``provider`` across every exporter instance, so replicated
exporters behind a load balancer add up. Alerting rules compare the recorded series with the
policy's thresholds, stay silent below the policy's minimum traffic, and carry ``severity``,
``priority`` and ``provider`` labels plus human annotations.
"""

from __future__ import annotations

from policy import catalog
from policy.model import Policy, Threshold
from policy.render import RenderOptions
from policy.render.yamltext import dump_yaml

# One group: Prometheus evaluates a group's rules in order, so every alert reads recording
# rules computed in the same evaluation, never one interval old.
RULE_GROUP = "callwatch-telephony"


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
        # Health is the worst of its inputs: the share of provider-handled calls that ended well
        # (only with enough calls to judge), and whether the provider's API answers our polls.
        rows["provider_health"].record:
            "min by (provider) (\n"
            "  label_replace(\n"
            f"{_ratio(ended, completed, attempted, window, '    ')}\n"
            f"    and on (provider) sum by (provider) (increase({ended}{attempted}[{window}]))"
            f" >= {min_calls},\n"
            '    "input", "calls", "", "")\n'
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


def _format_threshold(row: catalog.Row, value: float) -> str:
    if row.unit == "percentunit":
        return f"{value * 100:g}%"
    if row.unit == "s":
        return f"{value:g}s"
    return f"{value:g}"


def _annotations(policy: Policy, row: catalog.Row, level: str, value: float,
                 window: str, runbook: str) -> dict[str, str]:
    side = "above" if row.direction == "above" else "below"
    return {
        "summary": f"{row.title} {level} on {{{{ $labels.provider }}}}",
        "description": (
            f"{row.value_format} {row.description} on {{{{ $labels.provider }}}} over the last "
            f"{window} ({level} {side} {_format_threshold(row, value)})."),
        "runbook_url": policy.runbook_url(runbook),
        "dashboard_url": policy.links.dashboard_url + "?var-provider={{ $labels.provider }}",
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
        condition = f"{row.record} {op} {value:g}{guard}"
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
    health = catalog.ROWS["provider_health"]
    critical = policy.thresholds["provider_health"].critical
    expr = (f"count({health.record} < {critical:g})\n"
            f"== count({health.record})")
    annotations = {
        "summary": "Telephony service down: every provider's health is critical",
        "description": (f"All {{{{ $value }}}} providers report health below "
                        f"{_format_threshold(health, critical)}: calls are failing everywhere."),
        "runbook_url": policy.runbook_url(policy.service_down.runbook),
        "dashboard_url": policy.links.dashboard_url,
    }
    return _alert(catalog.SERVICE_DOWN_ALERT, expr,
                  options.duration(policy.service_down.for_seconds),
                  options.duration(policy.evaluation.keep_firing_seconds),
                  _labels("critical", policy.service_down.priority, "all"), annotations)


def _min_window(policy: Policy, options: RenderOptions) -> float:
    """rate() needs a few samples: never a window under four scrape intervals."""
    return 4 * options.scaled(policy.evaluation.scrape_seconds, 1.0)


def rule_groups(policy: Policy, options: RenderOptions) -> list[dict]:
    """The rule groups, shared by the Prometheus rules file and the PrometheusRule manifest."""
    window = options.duration(policy.evaluation.rate_window_seconds, _min_window(policy, options))
    recording = [{"record": name, "expr": expr}
                 for name, expr in recording_exprs(policy, window).items()]
    alerting = []
    for key in catalog.ROWS:
        alerting.extend(_row_alerts(policy, policy.thresholds[key], options))
    alerting.append(_service_down_alert(policy, options))
    return [{"name": RULE_GROUP, "rules": recording + alerting}]


def render_rules_file(groups: list[dict]) -> str:
    return dump_yaml({"groups": groups})


def render_prometheus_rule(groups: list[dict]) -> str:
    """The same groups as a prometheus-operator ``PrometheusRule`` for Kubernetes users."""
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "callwatch-telephony",
                     "labels": {"app.kubernetes.io/name": "callwatch", "role": "alert-rules"}},
        "spec": {"groups": groups},
    }
    return dump_yaml(manifest)
