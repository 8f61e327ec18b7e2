"""``policy/v1``: the optional ``kubernetes:`` section, for the manifests in deploy/kubernetes/.

.. code-block:: yaml

    kubernetes:
      namespace: callwatch            # every manifest's namespace (DNS-1123 label)
      labels: {release: kube-prometheus-stack}  # on PrometheusRule, ServiceMonitor and
                                      # AlertmanagerConfig, for the operator's selectors
      image: callwatch:local          # the Dockerfile's image, pushed where the cluster pulls
      secret: callwatch               # the Secret the user creates (receiver token, providers)
      env: {CALLWATCH_PUBLIC_URL: 'https://callwatch.example.com'}   # plain settings only
      ingress:                        # optional: an Ingress for what outsiders call
        host: callwatch.example.com   # CALLWATCH_PUBLIC_URL's host (set from it when absent)
        class_name: nginx             # the IngressClass; default: the cluster's default
        tls_secret: callwatch-tls     # the certificate's Secret; default: no TLS here
        annotations: {}               # for the controller (cert-manager, rate limits...)

Label keys and values, the namespace and the Secret's name follow Kubernetes' own syntax, so
a bad one is an error here and not a rejected ``kubectl apply``. ``env`` never holds a secret:
a variable callwatch reads as a secret (``SECRET_VARIABLES``, or a channel's ``*_env``) must
come from the Secret. With an ``ingress``, a ``CALLWATCH_PUBLIC_URL`` in ``env`` must be on
its ``host``: the providers call back the address callwatch gives them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from policy.model import Channel, Ingress, Kubernetes
from policy.reader import Node

# Every variable the receiver and the exporter read as a secret (receiver/config.py,
# exporter/config.py, and the notifiers' default variables in receiver/notify/registry.py);
# tests/test_kubernetes.py checks this list against the code that reads them.
SECRET_VARIABLES = (
    "CALLWATCH_RECEIVER_TOKEN", "CALLWATCH_RECEIVER_USERNAME", "CALLWATCH_RECEIVER_PASSWORD",
    "PAGERDUTY_ROUTING_KEY", "PAGERDUTY_WEBHOOK_SECRET", "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET", "SMTP_PASSWORD", "TWILIO_AUTH_TOKEN", "TWILIO_WEBHOOK_SHARED_KEY",
    "TELNYX_API_KEY", "TELNYX_PUBLIC_KEY", "CALLWATCH_PROBE_TELNYX_PRIVATE_KEY",
    "STATUSPAGE_API_KEY", "CALLWATCH_METRICS_TOKEN",
)
# callwatch's own label, which the Service and the ServiceMonitor select on
NAME_LABEL = "app.kubernetes.io/name"

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_NAMESPACE = re.compile(rf"^{_DNS_LABEL}$")
_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# [registry[:port]/]path[:tag][@sha256:digest], as the container runtimes parse it
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_PART = r"[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?"
_REGISTRY = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?/)?"
_IMAGE = re.compile(rf"^{_REGISTRY}{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?"
                    r"(?:@sha256:[0-9a-f]{64})?$")


def read_kubernetes(node: Node, channels: dict[str, Channel]) -> Kubernetes:
    """The ``kubernetes:`` section; defaults when absent. ``channels`` name more secrets."""
    if node.value is None:
        return Kubernetes()
    node.mapping((), ("namespace", "labels", "image", "secret", "env", "ingress"))
    defaults = Kubernetes()
    namespace = defaults.namespace
    if node.has("namespace"):
        namespace = _dns_name(node.child("namespace"), _NAMESPACE, 63,
                              "a DNS-1123 label (lower-case letters, digits, '-')")
    secret = defaults.secret
    if node.has("secret"):
        secret = _dns_name(node.child("secret"), _SUBDOMAIN, 253,
                           "a Secret name (DNS-1123 subdomain: lower-case letters, digits, "
                           "'-', '.')")
    image = defaults.image
    if node.has("image"):
        image = node.child("image").string()
        if not _IMAGE.match(image):
            raise node.child("image").error(
                f"must be a container image reference such as "
                f"registry.example.com/callwatch:1.0, got {image!r}")
    env = _read_env(node.child("env"), _secret_names(channels))
    ingress = _read_ingress(node.child("ingress")) if node.has("ingress") else None
    if ingress is not None and "CALLWATCH_PUBLIC_URL" in env:
        _check_public_url(node.child("env").child("CALLWATCH_PUBLIC_URL"), ingress.host)
    return Kubernetes(namespace=namespace, labels=_read_labels(node.child("labels")),
                      image=image, secret=secret, env=env, ingress=ingress)


def _read_ingress(node: Node) -> Ingress:
    node.mapping(("host",), ("class_name", "tls_secret", "annotations"))
    subdomain = "a DNS-1123 subdomain (lower-case letters, digits, '-', '.')"
    host = _dns_name(node.child("host"), _SUBDOMAIN, 253, f"a host name, {subdomain}")
    class_name = (_dns_name(node.child("class_name"), _SUBDOMAIN, 253,
                            f"an IngressClass name, {subdomain}")
                  if node.has("class_name") else None)
    tls = (_dns_name(node.child("tls_secret"), _SUBDOMAIN, 253, f"a Secret name, {subdomain}")
           if node.has("tls_secret") else None)
    return Ingress(host=host, class_name=class_name, tls_secret=tls,
                   annotations=_read_annotations(node.child("annotations")))


def _read_annotations(node: Node) -> dict[str, str]:
    """Annotation keys follow label-key syntax; values are any string."""
    return _read_keyed(node, "annotation", _quoted)


def _check_public_url(node: Node, host: str) -> None:
    found = urlsplit(node.string(allow_empty=True)).hostname
    if found != host:
        raise node.error(f"must be on kubernetes.ingress.host {host!r} (the address the "
                         f"providers call back), got host {found!r}")


def _dns_name(node: Node, pattern: re.Pattern[str], limit: int, what: str) -> str:
    text = node.string()
    if len(text) > limit or not pattern.match(text):
        raise node.error(f"must be {what}, at most {limit} characters, got {text!r}")
    return text


def _read_labels(node: Node) -> dict[str, str]:
    return _read_keyed(node, "label", _label_value)


def _read_keyed(node: Node, what: str, value_of: Callable[[Node], str]) -> dict[str, str]:
    """A mapping of Kubernetes ``what`` keys (label-key syntax) to ``value_of`` its values."""
    if node.value is None:
        return {}
    _any_keys(node)
    found = {}
    for key, child in node.items():
        _check_label_key(child, key, what)
        found[key] = value_of(child)
    return found


def _any_keys(node: Node) -> None:
    """A mapping whose keys the caller checks one by one."""
    if isinstance(node.value, dict):
        node.mapping((), tuple(node.value))
    else:
        node.mapping()  # the reader's own "must be a mapping" error


def _check_label_key(node: Node, key: str, what: str = "label") -> None:
    prefix, _, name = key.rpartition("/")
    valid = (len(name) <= 63 and _LABEL_NAME.match(name)
             and (not prefix or (len(prefix) <= 253 and _SUBDOMAIN.match(prefix))))
    if not valid:
        raise node.error(
            f"not a Kubernetes {what} key: an optional DNS subdomain prefix and '/', then at "
            "most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or "
            "digit")
    if what == "label" and key == NAME_LABEL:
        raise node.error(f"{NAME_LABEL} is callwatch's own label (the Service and the "
                         "ServiceMonitor select on it): choose another key")


def _quoted(node: Node) -> str:
    """A string, empty or not; a number or boolean YAML read is an error saying to quote it."""
    if not isinstance(node.value, str):
        raise node.error(f"must be a string: quote it ('{json.dumps(node.value)}')")
    return node.value


def _label_value(node: Node) -> str:
    value = _quoted(node)
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        raise node.error(
            f"not a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', "
            f"starting and ending with a letter or digit, got {value!r}")
    return value


def _secret_names(channels: dict[str, Channel]) -> set[str]:
    names = set(SECRET_VARIABLES)
    for channel in channels.values():
        names.update(str(value) for key, value in channel.settings.items()
                     if key.endswith("_env"))
    return names


def _read_env(node: Node, secrets: set[str]) -> dict[str, str]:
    """Plain variables for the Deployment; a secret's name is an error pointing at the Secret."""
    if node.value is None:
        return {}
    _any_keys(node)
    env = {}
    for name, child in node.items():
        if not _ENV_NAME.match(name):
            raise child.error("not an environment variable name (letters, digits, '_', not "
                              "starting with a digit)")
        if name in secrets or name.removesuffix("_FILE") in secrets:
            raise child.error(
                f"{name} is a secret: put it in the Secret (kubernetes.secret), never in the "
                f"policy")
        env[name] = child.string(allow_empty=True)
    return env
