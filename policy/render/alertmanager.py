"""``alertmanager.yml``: one route per priority to the callwatch receiver, and inhibit rules.

Grouping by ``alertname`` and ``provider`` makes one Alertmanager group, and so one callwatch
incident, per alert and provider: the warning and the critical of one alert share it, and an
escalation from warning to critical upgrades the incident instead of opening a second one.

Two routes come first. The watchdog's heartbeat goes to the receiver alone, re-sent every
``watchdog.repeat_interval`` (the receiver's dead man's switch counts on it). With
``alertmanager.fallback_receiver``, callwatch's own alerts (``component="callwatch"``) also go
there, straight from Alertmanager, and then on to callwatch: a dead receiver is still paged
about.
"""

from __future__ import annotations

from policy import catalog
from policy.model import PRIORITIES, Policy
from policy.render import RenderOptions
from policy.render.self_rules import COMPONENT_VALUE as COMPONENT
from policy.render.yamltext import dump_yaml

GROUP_BY = ["alertname", "provider"]
DEFAULT_RECEIVER = "callwatch-default"
WATCHDOG_RECEIVER = "callwatch-watchdog"
FALLBACK_RECEIVER = "callwatch-fallback"


def receiver_name(priority: str) -> str:
    return f"callwatch-{priority}"


def _webhook(policy: Policy, options: RenderOptions) -> dict:
    return {
        "url": options.receiver_url or policy.alertmanager.receiver_url,
        "send_resolved": True,
        "max_alerts": 0,
        "http_config": {"authorization": {
            "type": "Bearer",
            "credentials_file": options.token_file or policy.alertmanager.token_file,
        }},
    }


def _inhibit_rules() -> list[dict]:
    return [
        {   # a critical alert silences its warning twin for the same provider
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["alertname", "provider"],
        },
        {   # when the whole service is down, per-provider alerts are noise
            "source_matchers": [f'alertname="{catalog.SERVICE_DOWN_ALERT}"'],
            "target_matchers": ['alertname=~"Telephony.+"',
                                f'alertname!="{catalog.SERVICE_DOWN_ALERT}"'],
        },
    ]


def _fallback(policy: Policy) -> dict | None:
    """The out-of-band receiver's config, or None without one."""
    fallback = policy.alertmanager.fallback_receiver
    if fallback is None:
        return None
    if fallback.webhook_url:
        return {"name": FALLBACK_RECEIVER, "webhook_configs": [
            {"url": fallback.webhook_url, "send_resolved": True}]}
    return {"name": FALLBACK_RECEIVER, "pagerduty_configs": [
        {"routing_key_file": fallback.pagerduty_routing_key_file, "send_resolved": True,
         "severity": '{{ if eq .CommonLabels.severity "warning" }}warning{{ else }}critical'
                     '{{ end }}'}]}


def _first_routes(policy: Policy, options: RenderOptions, fallback: dict | None) -> list[dict]:
    heartbeat = {
        "receiver": WATCHDOG_RECEIVER,
        "matchers": [f'alertname="{policy.watchdog.alertname}"'],
        "group_wait": "0s",
        "repeat_interval": options.duration(policy.watchdog.repeat_interval_seconds, 1.0),
    }
    if fallback is None:
        return [heartbeat]
    around = {"receiver": FALLBACK_RECEIVER, "matchers": [f'component="{COMPONENT}"'],
              "continue": True}
    return [heartbeat, around]


def render_alertmanager_config(policy: Policy, options: RenderOptions) -> str:
    settings = policy.alertmanager
    fallback = _fallback(policy)
    routes = _first_routes(policy, options, fallback) + [{
        "receiver": receiver_name(priority),
        "matchers": [f'priority="{priority}"'],
        "repeat_interval": options.duration(settings.repeat_interval_seconds[priority], 1.0),
    } for priority in PRIORITIES]
    names = [DEFAULT_RECEIVER, WATCHDOG_RECEIVER] + [receiver_name(p) for p in PRIORITIES]
    receivers = [{"name": name, "webhook_configs": [_webhook(policy, options)]}
                 for name in names] + ([fallback] if fallback else [])
    config = {
        "route": {
            # Alerts without a priority label still reach callwatch, which maps them itself.
            "receiver": DEFAULT_RECEIVER,
            "group_by": GROUP_BY,
            "group_wait": options.duration(settings.group_wait_seconds),
            "group_interval": options.duration(settings.group_interval_seconds, 1.0),
            "repeat_interval": options.duration(
                max(settings.repeat_interval_seconds.values()), 1.0),
            "routes": routes,
        },
        "receivers": receivers,
        "inhibit_rules": _inhibit_rules(),
    }
    return dump_yaml(config)
