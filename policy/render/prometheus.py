"""``prometheus.yml``: scrape callwatch, load the generated rules, send alerts to Alertmanager."""

from __future__ import annotations

from policy.model import Policy
from policy.render import RenderOptions
from policy.render.yamltext import dump_yaml


def render_prometheus_config(policy: Policy, options: RenderOptions) -> str:
    """Scrape and evaluation intervals follow the policy (scaled, never below 1s)."""
    targets = list(options.callwatch_targets or policy.prometheus.callwatch_targets)
    alertmanagers = list(options.alertmanagers or policy.prometheus.alertmanagers)
    config = {
        "global": {
            "scrape_interval": options.duration(policy.evaluation.scrape_seconds, 1.0),
            "evaluation_interval": options.duration(policy.evaluation.evaluation_seconds, 1.0),
            "external_labels": {"monitor": "callwatch"},
        },
        "rule_files": ["rules/*.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": alertmanagers}]}]},
        "scrape_configs": [{
            "job_name": "callwatch",
            "static_configs": [{"targets": targets}],
        }],
    }
    return dump_yaml(config)
