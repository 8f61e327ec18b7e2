"""The ``AlertmanagerConfig`` (monitoring.coreos.com/v1alpha1): alertmanager.yml's routes,
receivers and inhibit rules in the operator's form.

It is translated from what policy/render/alertmanager.py renders, so the two never disagree:
keys become camelCase, matchers become ``{name, value, matchType}``, the callwatch webhook
points at the Service inside the cluster, and every ``*_file`` secret becomes a reference to
a key of the Secret the user creates (Alertmanager's pod has no such file). A ``*_file`` key
this module does not know is an error, not a path left dangling.

The operator scopes the config to its namespace: it adds the matcher
``namespace="<the AlertmanagerConfig's namespace>"`` to the top route and to each inhibit
rule (its default ``alertmanagerConfigMatcherStrategy``, OnNamespace), and sets
``continue: true`` on the top route. So callwatch's alerts must carry that label: the
PrometheusRule beside it adds it to every alert.
"""

from __future__ import annotations

import yaml

from policy.matchers import parse_matcher
from policy.model import Policy
from policy.render import RenderOptions
from policy.render.alertmanager import render_alertmanager_config

NOTE = """\
The operator adds the matcher namespace="NAMESPACE" to this route and to each inhibit rule
(alertmanagerConfigMatcherStrategy OnNamespace, its default) and sets continue: true on the
route: only alerts labelled namespace="NAMESPACE" reach callwatch. prometheusrule.yaml
labels every callwatch alert so."""

# the Secret's key for alertmanager.fallback_receiver's PagerDuty routing key
FALLBACK_ROUTING_KEY = "PAGERDUTY_FALLBACK_ROUTING_KEY"
_MATCHER_LISTS = {"matchers": "matchers", "source_matchers": "sourceMatch",
                  "target_matchers": "targetMatch"}


def alertmanager_config(policy: Policy, options: RenderOptions, metadata: dict,
                        receiver_url: str, token_key: str) -> dict:
    """The manifest; ``receiver_url`` is callwatch's Service, ``token_key`` the Secret's key
    holding the bearer token."""
    plain = yaml.safe_load(render_alertmanager_config(policy, options))
    callwatch_url = options.receiver_url or policy.alertmanager.receiver_url
    secrets = {"credentials_file": ("credentials", token_key),
               "routing_key_file": ("routingKey", FALLBACK_ROUTING_KEY)}
    convert = _Converter(policy.kubernetes.secret, secrets, {callwatch_url: receiver_url})
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": metadata,
        "spec": {
            "route": convert(plain["route"]),
            "receivers": convert(plain["receivers"]),
            "inhibitRules": convert(plain.get("inhibit_rules", [])),
        },
    }


class _Converter:
    """Alertmanager's config (snake_case) to the AlertmanagerConfig CRD's form."""

    def __init__(self, secret: str, secrets: dict[str, tuple[str, str]],
                 urls: dict[str, str]) -> None:
        self.secret = secret
        self.secrets = secrets      # "*_file" key -> (CRD key, the Secret's key)
        self.urls = urls            # a webhook URL -> its address inside the cluster

    def __call__(self, value: object) -> object:
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            return value
        result: dict[str, object] = {}
        for key, item in value.items():
            if key in _MATCHER_LISTS:
                result[_MATCHER_LISTS[key]] = [_matcher(text) for text in item]
            elif key.endswith("_file"):
                result.update(self._secret_ref(key))
            elif key == "url":
                result["url"] = self.urls.get(item, item)
            else:
                result[_camel(key)] = self(item)
        return result

    def _secret_ref(self, key: str) -> dict[str, object]:
        if key not in self.secrets:
            raise ValueError(f"alertmanager.yml's {key} has no Secret key in the "
                             f"AlertmanagerConfig: add it to kubernetes_alertmanager.py")
        name, secret_key = self.secrets[key]
        return {name: {"name": self.secret, "key": secret_key}}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _matcher(text: str) -> dict[str, str]:
    matcher = parse_matcher(text)
    return {"name": matcher.name, "value": matcher.value, "matchType": matcher.op}
