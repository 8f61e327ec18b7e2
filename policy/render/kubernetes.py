"""Kubernetes manifests (deploy/kubernetes/), one file per kind, for a cluster that runs the
prometheus-operator (kube-prometheus-stack, say).

- ``deployment.yaml``: the one callwatch process (exporter and receiver, ``callwatch run``),
  as the Dockerfile runs it, non-root on a read-only root filesystem; the SQLite store on an
  emptyDir; secrets from the Secret ``kubernetes.secret`` the user creates (never here);
- ``service.yaml``: port 9120, named ``callwatch``: Prometheus's ``job`` label for a
  ServiceMonitor target is the Service's name, which CallwatchTargetDown's ``up{job=...}``
  expects;
- ``servicemonitor.yaml``: scrapes ``/metrics`` at the policy's scrape interval;
- ``prometheusrule.yaml``: the rule groups of the rules file, every alert labelled with the
  namespace (see policy/render/kubernetes_alertmanager.py for why);
- ``alertmanagerconfig.yaml``: the Alertmanager routes and receivers;
- ``configmap.yaml``: the policy file, and the Grafana dashboard for Grafana's sidecar;
- ``ingress.yaml`` (with ``kubernetes.ingress``): the paths outsiders call (``PUBLIC_PATHS``)
  on the public host, and nothing else: ``/alerts``, the API and ``/metrics`` stay inside the
  cluster. ``CALLWATCH_PUBLIC_URL`` defaults to that host.

``kubernetes.labels`` go on the three operator objects, for the Prometheus and Alertmanager
selectors. Pure, like every renderer: the policy's text comes with the model.
"""

from __future__ import annotations

import copy
import hashlib

from policy.model import Ingress, Policy
from policy.render import HEADER, RenderOptions
from policy.render.grafana import render_dashboard
from policy.render.kubernetes_alertmanager import NOTE as ALERTMANAGER_NOTE
from policy.render.kubernetes_alertmanager import alertmanager_config
from policy.render.yamltext import dump_yaml
from policy.spec_kubernetes import NAME_LABEL

DIRECTORY = "deploy/kubernetes"
NAME = "callwatch"
PORT = 9120
USER_ID = 10001                 # the Dockerfile's callwatch user
POLICY_DIR = "/etc/callwatch"
DATA_DIR = "/var/lib/callwatch"
TOKEN_KEY = "CALLWATCH_RECEIVER_TOKEN"
SELECTOR = {NAME_LABEL: NAME}
# What the Ingress exposes: the routes that prove their caller themselves (callwatch.access's
# signed, feed and console routes; tests/test_kubernetes.py holds the two lists together).
# Prefix matching is per path element; /oncall also reaches the on-call API, which still asks
# for the API's credentials.
PUBLIC_PATHS = (
    ("/telephony/webhooks", "Prefix"),   # the providers' call status webhooks (signed)
    ("/webhooks/pagerduty", "Exact"),    # PagerDuty v3 webhooks (signed)
    ("/voice", "Prefix"),                # a page call's keys and outcome (signed)
    ("/sms", "Prefix"),                  # text replies (signed)
    ("/slack/interactions", "Exact"),    # Slack buttons (signed)
    ("/oncall", "Prefix"),               # calendar feeds (their key)
    ("/ui", "Prefix"),                   # the incident console (its sign-in)
)
# Measured (`callwatch run`, the shipped policy, Python 3.11): 122 MiB resident idle, 129 MiB
# after 300 alert deliveries opened 300 incidents; the limit leaves room for a storm.
RESOURCES = {"requests": {"cpu": "100m", "memory": "192Mi"},
             "limits": {"cpu": "1", "memory": "512Mi"}}

DEPLOYMENT_NOTE = (
    "Secrets come from the Secret named by the policy's kubernetes.secret, created by hand:\n"
    f"  kubectl -n NAMESPACE create secret generic SECRET --from-literal={TOKEN_KEY}="
    "$(openssl rand -hex 32)\n"
    "Every key of it becomes an environment variable (docs/deploy.md lists those callwatch\n"
    f"reads); {TOKEN_KEY} is required. The store is SQLite on an emptyDir: it survives\n"
    "container restarts, not the pod's deletion.")


def render_manifests(policy: Policy, options: RenderOptions,
                     groups: list[dict]) -> dict[str, str]:
    """``{path under deploy/: text}`` for every manifest; ``groups`` are the rules file's."""
    namespace = policy.kubernetes.namespace
    files = {
        "deployment.yaml": _file([_deployment(policy, options)],
                                 DEPLOYMENT_NOTE.replace("NAMESPACE", namespace)
                                 .replace("SECRET", policy.kubernetes.secret)),
        "service.yaml": _file([_service(policy)]),
        "servicemonitor.yaml": _file([_service_monitor(policy, options)]),
        "prometheusrule.yaml": _file([_prometheus_rule(policy, groups)]),
        "alertmanagerconfig.yaml": _file(
            [alertmanager_config(policy, options, _metadata(policy, NAME, operator=True),
                                 f"http://{NAME}.{namespace}.svc:{PORT}/alerts", TOKEN_KEY)],
            ALERTMANAGER_NOTE.replace("NAMESPACE", namespace)),
        "configmap.yaml": _file([_policy_config_map(policy), _dashboard_config_map(policy)]),
    }
    if policy.kubernetes.ingress is not None:
        files["ingress.yaml"] = _file([_ingress(policy, policy.kubernetes.ingress)],
                                      INGRESS_NOTE)
    return {f"{DIRECTORY}/{name}": text for name, text in files.items()}


INGRESS_NOTE = (
    "Only the paths outsiders call: signed callbacks, calendar feeds, the console. /alerts,\n"
    "the API and /metrics stay inside the cluster (Alertmanager and Prometheus reach the\n"
    "Service). The TLS Secret, if named, is yours to create (cert-manager, or by hand).")


def _file(manifests: list[dict], note: str = "") -> str:
    """The manifests as one YAML stream under the do-not-edit header and ``note``."""
    comments = "".join(f"# {line}".rstrip() + "\n" for line in [HEADER, *note.splitlines()])
    return comments + "---\n".join(dump_yaml(manifest, header=False) for manifest in manifests)


def _metadata(policy: Policy, name: str, operator: bool = False,
              labels: dict[str, str] | None = None) -> dict:
    """An object's metadata; ``operator`` objects carry ``kubernetes.labels`` too."""
    extra = dict(policy.kubernetes.labels) if operator else {}
    return {"name": name, "namespace": policy.kubernetes.namespace,
            "labels": {**SELECTOR, **(labels or {}), **extra}}


def _env(policy: Policy, options: RenderOptions) -> list[dict]:
    """Fixed settings, then the policy's ``kubernetes.env`` (which wins), then the token."""
    plain = {"CALLWATCH_STORE_URL": f"sqlite:///{DATA_DIR}/callwatch.db",
             "PYTHONDONTWRITEBYTECODE": "1"}   # the root filesystem is read-only
    if options.time_scale != 1:
        plain["CALLWATCH_TIME_SCALE"] = f"{options.time_scale:g}"
    ingress = policy.kubernetes.ingress
    if ingress is not None:   # the providers call back the address callwatch gives them
        scheme = "https" if ingress.tls_secret else "http"
        plain["CALLWATCH_PUBLIC_URL"] = f"{scheme}://{ingress.host}"
    plain.update(policy.kubernetes.env)
    token = {"name": TOKEN_KEY, "valueFrom": {"secretKeyRef": {
        "name": policy.kubernetes.secret, "key": TOKEN_KEY}}}
    return [{"name": name, "value": value} for name, value in plain.items()] + [token]


def _container(policy: Policy, options: RenderOptions) -> dict:
    probe = {"periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3}
    return {
        "name": NAME,
        "image": policy.kubernetes.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["callwatch", "run", "--listen", f"0.0.0.0:{PORT}",
                    "--policy", f"{POLICY_DIR}/policy.yaml"],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": _env(policy, options),
        "envFrom": [{"secretRef": {"name": policy.kubernetes.secret}}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                          "initialDelaySeconds": 10, **probe},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, **probe},
        "resources": RESOURCES,
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID,
            "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "policy", "mountPath": POLICY_DIR, "readOnly": True},
            {"name": "data", "mountPath": DATA_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def _deployment(policy: Policy, options: RenderOptions) -> dict:
    # The receiver reads the policy once at start: its hash in the pod template rolls the pod
    # when the policy ConfigMap changes.
    digest = hashlib.sha256(policy.text.encode("utf-8")).hexdigest()
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(policy, NAME),
        "spec": {
            # one process on one SQLite store: never two side by side, even during a rollout
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": SELECTOR},
            "template": {
                "metadata": {"labels": SELECTOR,
                             "annotations": {"checksum/policy": digest}},
                "spec": {
                    "automountServiceAccountToken": False,   # callwatch never calls the API
                    "securityContext": {"runAsNonRoot": True, "runAsUser": USER_ID,
                                        "runAsGroup": USER_ID, "fsGroup": USER_ID,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [_container(policy, options)],
                    "volumes": [
                        {"name": "policy", "configMap": {"name": f"{NAME}-policy"}},
                        {"name": "data", "emptyDir": {}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    ],
                },
            },
        },
    }


def _service(policy: Policy) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(policy, NAME),
        "spec": {"selector": SELECTOR, "ports": [
            {"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}]},
    }


def _service_monitor(policy: Policy, options: RenderOptions) -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _metadata(policy, NAME, operator=True),
        "spec": {
            "selector": {"matchLabels": SELECTOR},
            "endpoints": [{"port": "http", "path": "/metrics", "scheme": "http",
                           "interval": options.duration(policy.evaluation.scrape_seconds, 1.0)}],
        },
    }


def _prometheus_rule(policy: Policy, groups: list[dict]) -> dict:
    """The rules file's groups, every alert labelled ``namespace``: the AlertmanagerConfig's
    routes see only alerts with their own namespace, and the recording rules' ``sum by``
    drops the label the scrape gave the series."""
    groups = copy.deepcopy(groups)
    for group in groups:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["labels"] = {**rule.get("labels", {}),
                                  "namespace": policy.kubernetes.namespace}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _metadata(policy, NAME, operator=True),
        "spec": {"groups": groups},
    }


def _policy_config_map(policy: Policy) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(policy, f"{NAME}-policy"),
        "data": {"policy.yaml": policy.text},
    }


def _dashboard_config_map(policy: Policy) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        # Grafana's dashboard sidecar loads every ConfigMap labelled grafana_dashboard: "1"
        "metadata": _metadata(policy, f"{NAME}-dashboard", labels={"grafana_dashboard": "1"}),
        "data": {"callwatch-telephony.json": render_dashboard(policy)},
    }


def _ingress(policy: Policy, ingress: Ingress) -> dict:
    backend = {"service": {"name": NAME, "port": {"name": "http"}}}
    spec: dict = {}
    if ingress.class_name:
        spec["ingressClassName"] = ingress.class_name
    if ingress.tls_secret:
        spec["tls"] = [{"hosts": [ingress.host], "secretName": ingress.tls_secret}]
    spec["rules"] = [{"host": ingress.host, "http": {"paths": [
        {"path": path, "pathType": kind, "backend": backend} for path, kind in PUBLIC_PATHS]}}]
    metadata = _metadata(policy, NAME)
    if ingress.annotations:
        metadata["annotations"] = dict(ingress.annotations)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata,
            "spec": spec}
