"""``alertmanager.yml``, and callwatch's part of a shared Alertmanager (``callwatch-routes.yml``).

Grouping by ``alertname`` and ``provider`` makes one Alertmanager group, and so one callwatch
incident, per alert and provider: the warning and the critical of one alert share it, and an
escalation from warning to critical upgrades the incident instead of opening a second one.

Two routes come first. The watchdog's heartbeat goes to the receiver alone, re-sent every
``watchdog.repeat_interval`` (the receiver's dead man's switch counts on it). With
``alertmanager.fallback_receiver``, callwatch's own alerts (``component="callwatch"``) also go
there, straight from Alertmanager, and then on to callwatch: a dead receiver is still paged
about.

Both files are built from the one route tree (``_callwatch_route``), receivers and inhibit rules.
In ``alertmanager.yml`` that tree is the root route and takes every alert. In the snippet it is
one route matching ``managed_by="callwatch"`` (the label every rule callwatch generates carries,
policy/render/rules.py), to be pasted first under another config's ``route.routes``; its inhibit
rules match that label too, so they never mute another team's alerts (docs/deploy.md).
"""

from __future__ import annotations

from policy import catalog
from policy.model import PRIORITIES, Policy
from policy.render import HEADER, RenderOptions
from policy.render.rules import MARK_LABEL, MARK_VALUE
from policy.render.self_rules import COMPONENT_VALUE as COMPONENT
from policy.render.yamltext import dump_yaml

# `drill` keeps a drill (callwatch drill, label drill="true") out of a real incident's group
# when both fire at once; real alerts carry no such label, so their groups are unchanged.
GROUP_BY = ["alertname", "provider", "drill"]
DEFAULT_RECEIVER = "callwatch-default"
WATCHDOG_RECEIVER = "callwatch-watchdog"
FALLBACK_RECEIVER = "callwatch-fallback"
MARK_MATCHER = f'{MARK_LABEL}="{MARK_VALUE}"'

SNIPPET_NOTE = """\
# callwatch's part of an Alertmanager shared with other teams (docs/deploy.md, "An Alertmanager
# shared with other teams"). Paste, into that config:
#   - the one route under route.routes below as the FIRST item of its route.routes;
#   - every receiver below into its receivers;
#   - every inhibit rule below into its inhibit_rules.
# Only alerts labelled managed_by="callwatch" (every alert callwatch generates) reach callwatch.
"""


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


def _inhibit_rules(scope: tuple[str, ...] = ()) -> list[dict]:
    """The inhibit rules; ``scope`` matchers are added to both sides of each (a shared
    Alertmanager's rules apply to every team's alerts)."""
    return [
        {   # a critical alert silences its warning twin for the same provider
            "source_matchers": ['severity="critical"', *scope],
            "target_matchers": ['severity="warning"', *scope],
            "equal": ["alertname", "provider"],
        },
        {   # when the whole service is down, per-provider alerts are noise
            "source_matchers": [f'alertname="{catalog.SERVICE_DOWN_ALERT}"', *scope],
            "target_matchers": ['alertname=~"Telephony.+"',
                                f'alertname!="{catalog.SERVICE_DOWN_ALERT}"', *scope],
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


def _callwatch_route(policy: Policy, options: RenderOptions,
                     matchers: tuple[str, ...] = ()) -> dict:
    """callwatch's route tree: the default receiver, grouping and timings, the heartbeat's and
    fallback's routes, one route per priority. ``matchers`` narrow it (none: every alert)."""
    settings = policy.alertmanager
    routes = _first_routes(policy, options, _fallback(policy)) + [{
        "receiver": receiver_name(priority),
        "matchers": [f'priority="{priority}"'],
        "repeat_interval": options.duration(settings.repeat_interval_seconds[priority], 1.0),
    } for priority in PRIORITIES]
    return {
        # Alerts without a priority label still reach callwatch, which maps them itself.
        "receiver": DEFAULT_RECEIVER,
        **({"matchers": list(matchers)} if matchers else {}),
        "group_by": GROUP_BY,
        "group_wait": options.duration(settings.group_wait_seconds),
        "group_interval": options.duration(settings.group_interval_seconds, 1.0),
        "repeat_interval": options.duration(max(settings.repeat_interval_seconds.values()), 1.0),
        "routes": routes,
    }


def _receivers(policy: Policy, options: RenderOptions) -> list[dict]:
    """callwatch's webhook under every name its routes use, and the fallback receiver."""
    names = [DEFAULT_RECEIVER, WATCHDOG_RECEIVER] + [receiver_name(p) for p in PRIORITIES]
    fallback = _fallback(policy)
    return [{"name": name, "webhook_configs": [_webhook(policy, options)]}
            for name in names] + ([fallback] if fallback else [])


def render_alertmanager_config(policy: Policy, options: RenderOptions) -> str:
    """A whole Alertmanager config whose root route is callwatch's: every alert reaches it."""
    return dump_yaml({
        "route": _callwatch_route(policy, options),
        "receivers": _receivers(policy, options),
        "inhibit_rules": _inhibit_rules(),
    })


def render_alertmanager_snippet(policy: Policy, options: RenderOptions) -> str:
    """callwatch's route (only ``managed_by="callwatch"`` alerts), receivers and inhibit rules
    (scoped to that label), laid out as in alertmanager.yml so that each list's items can be
    pasted into the same list of a config shared with other teams."""
    body = dump_yaml({
        "route": {"routes": [_callwatch_route(policy, options, (MARK_MATCHER,))]},
        "receivers": _receivers(policy, options),
        "inhibit_rules": _inhibit_rules((MARK_MATCHER,)),
    }, header=False)
    return f"# {HEADER}\n{SNIPPET_NOTE}{body}"
