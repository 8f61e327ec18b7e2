"""The ``callwatch-self`` rule group: callwatch's own failures, and the heartbeat.

Every alert here is named ``Callwatch*``, carries ``component: callwatch`` (so that
Alertmanager can send them around callwatch too, to ``alertmanager.fallback_receiver``) and
the policy's ``self_monitoring.priority``, except the certificate and schedule-gap warnings
(``self_monitoring.certificate_priority``, ``schedule_gap_priority``) and the heartbeat
``watchdog.alertname``, which always fires and goes to the receiver alone: the receiver opens
an incident when it stops arriving (its dead man's switch).
"""

from __future__ import annotations

from policy import catalog
from policy.model import Policy
from policy.render import RenderOptions

SELF_RULE_GROUP = "callwatch-self"
CALLWATCH_JOB = "callwatch"        # the scrape job of the generated prometheus.yml
COMPONENT_VALUE = "callwatch"
COMPONENT = {"component": COMPONENT_VALUE}
DOCS = "callwatch-self-monitoring.md"


def _alert(policy: Policy, name: str, expr: str, for_: str, summary: str, description: str,
           priority: str | None = None, severity: str = "critical") -> dict:
    rule: dict = {"alert": name, "expr": expr}
    if for_ != "0s":
        rule["for"] = for_
    rule["labels"] = {"severity": severity,
                      "priority": priority or policy.self_monitoring.priority, **COMPONENT}
    rule["annotations"] = {"summary": summary, "description": description,
                           "runbook_url": policy.runbook_url(DOCS)}
    return rule


def _or_zero(expr: str) -> str:
    return f"(\n  {expr}\n  or vector(0)\n)"


def _pipeline_alerts(policy: Policy, options: RenderOptions) -> list[dict]:
    """The scrape target, the pages, the outbox and escalation."""
    watch = policy.self_monitoring
    window = options.duration(policy.evaluation.rate_window_seconds)
    fallback_after = options.scaled(policy.notifications.fallback_after_seconds)
    lag = options.scaled(watch.escalation_lag_seconds)
    return [
        _alert(policy, "CallwatchTargetDown",
               f'up{{job="{CALLWATCH_JOB}"}} == 0\nor\nabsent(up{{job="{CALLWATCH_JOB}"}})',
               options.duration(watch.target_down_seconds),
               "callwatch is down or not scraped: {{ $labels.instance }}",
               "Prometheus cannot scrape callwatch (or has no callwatch target at all): no "
               "telephony series, no alert about the providers can fire, and the receiver "
               "may not be taking Alertmanager's webhooks."),
        _alert(policy, "CallwatchNotificationsFailing",
               f"sum by (channel) (increase({catalog.NOTIFICATION_FAILURES}[{window}])) > 0",
               options.duration(watch.notification_failures_seconds),
               "Pages on {{ $labels.channel }} keep failing",
               "callwatch's sends on the {{ $labels.channel }} channel have failed throughout "
               "the last " + options.duration(watch.notification_failures_seconds) + " (see "
               "callwatch_notification_failures_total by reason); pages fall back to other "
               "channels, but this one is not reaching people."),
        _alert(policy, "CallwatchOutboxBacklog",
               f"max({catalog.OUTBOX_OLDEST_PENDING}) > {fallback_after:g}", "0s",
               "callwatch's oldest unsent page is {{ $value | humanizeDuration }} old",
               "A page has waited longer than notifications.fallback_after: the dispatcher is "
               "stuck, the store is failing, or every channel of that page is down."),
        _alert(policy, "CallwatchEscalationLagging",
               f"max({catalog.ESCALATION_OVERDUE}) > {lag:g}", "0s",
               "Escalation is {{ $value | humanizeDuration }} late",
               "An escalation step is overdue: the escalation worker is stuck or the store is "
               "failing, so the next level is not being paged on time."),
    ]


def _input_alerts(policy: Policy, options: RenderOptions) -> list[dict]:
    """Signatures, probes, egress and certificates: what callwatch can or cannot see."""
    watch = policy.self_monitoring
    window = options.duration(watch.signature_window_seconds)
    failures = " + ".join(_or_zero(f"sum(increase({metric}[{window}]))") for metric in
                          (catalog.SIGNATURE_FAILURES, catalog.CALLBACK_SIGNATURE_FAILURES))
    days = watch.certificate_expiry_days
    return [
        _alert(policy, "CallwatchWebhookSignaturesFailing",
               f"{failures}\n>= {watch.signature_failures}", "0s",
               f"{{{{ $value }}}} callbacks with a bad signature in {window}",
               "Provider webhooks or callbacks (Twilio, Telnyx, Slack, PagerDuty) keep failing "
               "signature checks: a secret was rotated on one side only, or someone is "
               "forging requests. Nothing they asked for was done."),
        _alert(policy, "CallwatchProbeFailing", f"{catalog.PROBE_SUCCESS} == 0",
               options.duration(watch.probe_failing_seconds),
               "Synthetic probe {{ $labels.target }} keeps failing",
               "callwatch's probe of {{ $labels.target }} has failed for "
               + options.duration(watch.probe_failing_seconds) + ": the endpoint the providers "
               "call is not answering as it should."),
        _alert(policy, "CallwatchEgressDown", f"max({catalog.EGRESS_SUCCESS}) == 0",
               options.duration(watch.egress_down_seconds),
               "callwatch cannot reach anything outside",
               "Neither provider's API host resolves and no control URL answers: callwatch's "
               "own DNS, network or egress is broken, so what it says about the providers "
               "cannot be trusted. TelephonyServiceDown is held back while this fires."),
        _alert(policy, "CallwatchCertificateExpiring",
               f"{catalog.PROBE_CERT_EXPIRY} - time() < {days * 86400:.0f}", "0s",
               "The certificate of {{ $labels.target }} expires in "
               "{{ $value | humanizeDuration }}",
               f"The https endpoint probed as {{{{ $labels.target }}}} presents a certificate "
               f"that expires within {days:g} days; once it does, the providers' webhooks to "
               "it fail.", priority=watch.certificate_priority, severity="warning"),
        _alert(policy, "CallwatchScheduleGap",
               f"max by (schedule) ({catalog.SCHEDULE_GAP}) > 0", "0s",
               "On-call schedule {{ $labels.schedule }} names nobody for "
               "{{ $value | humanizeDuration }} in the next 14 days",
               "Some time in the next 14 days the schedule {{ $labels.schedule }} has nobody on "
               "call: a page to it then goes to the chain's next level instead. callwatch "
               "render --check prints the first gap; cover it in the policy, or accept it.",
               priority=watch.schedule_gap_priority, severity="warning"),
    ]


def _watchdog(policy: Policy) -> dict:
    return {"alert": policy.watchdog.alertname, "expr": "vector(1)",
            "labels": {"severity": "none", **COMPONENT},
            "annotations": {
                "summary": "The alerting pipeline's heartbeat: always firing",
                "description": "Prometheus evaluates this, Alertmanager re-sends it to the "
                               "callwatch receiver, which pages when it stops arriving."}}


def self_rule_group(policy: Policy, options: RenderOptions) -> dict:
    """The ``callwatch-self`` group."""
    return {"name": SELF_RULE_GROUP,
            "rules": [*_pipeline_alerts(policy, options), *_input_alerts(policy, options),
                      _watchdog(policy)]}
