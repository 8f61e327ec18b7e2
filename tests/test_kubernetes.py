"""The Kubernetes manifests: valid for the API server and the operator, and wired together.

Core kinds (Deployment, Service, ConfigMap, Ingress) are checked by ``kubernetes-validate`` in
strict mode (an unknown field is an error) against Kubernetes 1.33 and the newest version it
ships.
The operator's kinds are checked with ``jsonschema`` against the OpenAPI v3 schemas of the
upstream CRDs in tests/testdata/crds/ (README there), made strict the same way.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from policy import parse_policy
from policy.render import ALERTMANAGER_PATH, DASHBOARD_PATH, RULES_PATH, RenderOptions, render_all
from policy.render.kubernetes import DIRECTORY
from policy.render.kubernetes_alertmanager import FALLBACK_ROUTING_KEY, _Converter
from policy.spec_kubernetes import SECRET_VARIABLES

REPO = Path(__file__).resolve().parent.parent
GOLDEN_POLICY = (REPO / "tests" / "testdata" / "policy-golden.yaml").read_text(encoding="utf-8")
CRDS = REPO / "tests" / "testdata" / "crds"
KUBERNETES_VERSIONS = ("1.33.0", latest_version())
CORE_KINDS = ("Deployment", "Service", "ConfigMap", "Ingress")
OPERATOR_KINDS = ("ServiceMonitor", "PrometheusRule", "AlertmanagerConfig")
DEFAULT = RenderOptions()
SCALED = RenderOptions(time_scale=60, receiver_url="http://127.0.0.1:9120/alerts",
                       token_file="/tmp/callwatch/receiver-token")


@functools.cache
def _render(text: str = GOLDEN_POLICY, options: RenderOptions = DEFAULT) -> dict:
    return render_all(parse_policy(text, "policy.yaml"), options)


def _manifests(text: str = GOLDEN_POLICY,
               options: RenderOptions | None = None) -> dict[str, dict]:
    """Every rendered Kubernetes object by kind (a ConfigMap by ``ConfigMap/<name>``), parsed
    afresh: a test may change them."""
    files = _render(text, options or DEFAULT)
    found: dict[str, dict] = {}
    for relative, body in files.items():
        if relative.startswith(f"{DIRECTORY}/"):
            for doc in yaml.safe_load_all(body):
                kind = doc["kind"]
                found[f"{kind}/{doc['metadata']['name']}" if kind == "ConfigMap" else kind] = doc
    return found


class _CrdLoader(yaml.CSafeLoader):
    """YAML 1.1 reads a bare ``=`` (a matchType enum value) as the ``value`` tag: a string."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node:
                           loader.construct_scalar(node))


def _strict(schema: object) -> object:
    """The schema with ``additionalProperties: false`` wherever the API server would prune an
    unknown field (what ``kubectl apply --validate=strict`` rejects)."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _strict(value) for key, value in schema.items()}
    if (result.get("type") == "object" and isinstance(result.get("properties"), dict)
            and "additionalProperties" not in result
            and not result.get("x-kubernetes-preserve-unknown-fields")):
        result["additionalProperties"] = False
    return result


@functools.cache
def _crd_schema(kind: str, version: str) -> dict:
    plural = {"ServiceMonitor": "servicemonitors", "PrometheusRule": "prometheusrules",
              "AlertmanagerConfig": "alertmanagerconfigs"}[kind]
    path = CRDS / f"monitoring.coreos.com_{plural}.yaml"
    crd = yaml.load(path.read_text(encoding="utf-8"), Loader=_CrdLoader)  # a SafeLoader
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    return _strict(served["schema"]["openAPIV3Schema"])


def _crd_errors(manifest: dict) -> list[str]:
    """Every way ``manifest`` breaks its CRD's schema; AlertmanagerConfig's child routes (kept
    as raw JSON by the CRD, read as routes by the operator) against the route schema."""
    schema = _crd_schema(manifest["kind"], manifest["apiVersion"].split("/")[1])
    checks = [(schema, manifest)]
    if manifest["kind"] == "AlertmanagerConfig":
        route_schema = schema["properties"]["spec"]["properties"]["route"]
        pending = list(manifest["spec"]["route"].get("routes", []))
        while pending:
            route = pending.pop()
            checks.append((route_schema, route))
            pending.extend(route.get("routes", []))
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
            for schema_, instance in checks
            for error in jsonschema.Draft7Validator(schema_).iter_errors(instance)]


@pytest.fixture(scope="module")
def golden() -> dict[str, dict]:
    return _manifests()


@pytest.mark.parametrize("options", [DEFAULT, SCALED], ids=["default", "scaled-60"])
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_kinds_validate_strictly_against_kubernetes(options, version) -> None:
    manifests = _manifests(options=options)
    kinds = {doc["kind"] for doc in manifests.values()}
    assert set(CORE_KINDS) <= kinds
    for doc in manifests.values():
        if doc["kind"] in CORE_KINDS:
            kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("options", [DEFAULT, SCALED], ids=["default", "scaled-60"])
def test_operator_kinds_validate_against_the_upstream_crds(options) -> None:
    manifests = _manifests(options=options)
    for kind in OPERATOR_KINDS:
        assert _crd_errors(manifests[kind]) == [], kind
        # the CRDs leave metadata open: check it as the API server checks any object's
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": manifests[kind]["metadata"]},
            KUBERNETES_VERSIONS[0], strict=True)


def test_the_validators_reject_what_the_cluster_would(golden) -> None:
    """The checks above can fail: a misspelt field, a bad matcher type, a bad interval."""
    deployment = json.loads(json.dumps(golden["Deployment"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)
    config = json.loads(json.dumps(golden["AlertmanagerConfig"]))
    config["spec"]["receivers"][0]["webhookConfigs"][0]["httpConfig"]["authorisation"] = {}
    config["spec"]["route"]["routes"][1]["matchers"][0]["matchType"] = "=="
    monitor = json.loads(json.dumps(golden["ServiceMonitor"]))
    monitor["spec"]["endpoints"][0]["interval"] = "1.5m"
    config_errors, monitor_errors = _crd_errors(config), _crd_errors(monitor)
    assert any("authorisation" in error for error in config_errors)
    assert any(error.startswith("matchers.0.matchType") for error in config_errors)
    assert any("interval" in error for error in monitor_errors)


def _back_to_alertmanager(value: object, key: str = "") -> object:
    """An AlertmanagerConfig's spec as Alertmanager's own config, as the operator writes it."""
    names = {"sourceMatch": "source_matchers", "targetMatch": "target_matchers"}
    if isinstance(value, list):
        if key in ("matchers", "sourceMatch", "targetMatch"):
            return [f'{m["name"]}{m["matchType"]}"{m["value"]}"' for m in value]
        return [_back_to_alertmanager(item) for item in value]
    if not isinstance(value, dict):
        return value
    snake = {k: names.get(k, "".join(f"_{c.lower()}" if c.isupper() else c for c in k))
             for k in value}
    return {snake[k]: _back_to_alertmanager(item, k) for k, item in value.items()}


@pytest.mark.parametrize("options", [DEFAULT, SCALED], ids=["default", "scaled-60"])
def test_the_alertmanager_config_is_alertmanager_yml_with_cluster_addresses(options) -> None:
    plain = yaml.safe_load(_render(GOLDEN_POLICY, options)[ALERTMANAGER_PATH])
    spec = _manifests(options=options)["AlertmanagerConfig"]["spec"]
    back = _back_to_alertmanager(spec)
    for receiver in plain["receivers"] + back["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            if "http_config" in webhook:    # callwatch's own webhook: address and token differ
                webhook["url"] = "<callwatch>"
                webhook["http_config"]["authorization"].pop("credentials_file", None)
                assert webhook["http_config"]["authorization"].pop(
                    "credentials", None) in (None, {"name": "callwatch",
                                                    "key": "CALLWATCH_RECEIVER_TOKEN"})
    assert back == {"route": plain["route"], "receivers": plain["receivers"],
                    "inhibit_rules": plain["inhibit_rules"]}
    urls = {w["url"] for r in spec["receivers"] for w in r.get("webhookConfigs", [])}
    assert urls == {"http://callwatch.callwatch.svc:9120/alerts",
                    "https://hooks.example.com/callwatch-is-down"}


def test_a_pagerduty_fallback_takes_its_routing_key_from_the_secret() -> None:
    text = GOLDEN_POLICY.replace(
        "fallback_receiver: {webhook_url: 'https://hooks.example.com/callwatch-is-down'}",
        "fallback_receiver: {pagerduty_routing_key_file: /run/secrets/pd}")
    config = _manifests(text)["AlertmanagerConfig"]
    assert _crd_errors(config) == []
    fallback = next(r for r in config["spec"]["receivers"] if r["name"] == "callwatch-fallback")
    assert fallback["pagerdutyConfigs"][0]["routingKey"] == {
        "name": "callwatch", "key": FALLBACK_ROUTING_KEY}
    assert "/run/secrets" not in json.dumps(config)


def test_a_secret_file_the_translation_does_not_know_is_an_error() -> None:
    convert = _Converter("callwatch", {}, {})
    with pytest.raises(ValueError, match="api_key_file has no Secret key"):
        convert({"receivers": [{"opsgenie_configs": [{"api_key_file": "/x"}]}]})


def test_every_alert_carries_the_namespace_the_operator_matches_on() -> None:
    text = GOLDEN_POLICY.replace("  namespace: callwatch\n", "  namespace: telephony-prod\n")
    files = _render(text)
    manifests = _manifests(text)
    groups = manifests["PrometheusRule"]["spec"]["groups"]
    alerts = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    assert len(alerts) > 20
    assert {rule["labels"]["namespace"] for rule in alerts} == {"telephony-prod"}
    for group in groups:                 # and nothing else differs from the rules file
        for rule in group["rules"]:
            rule.get("labels", {}).pop("namespace", None)
    assert groups == yaml.safe_load(files[RULES_PATH])["groups"]
    assert {doc["metadata"]["namespace"] for doc in manifests.values()} == {"telephony-prod"}
    assert "http://callwatch.telephony-prod.svc:9120/alerts" in json.dumps(
        manifests["AlertmanagerConfig"])


def test_the_policy_labels_reach_the_operator_objects_only(golden) -> None:
    for kind in OPERATOR_KINDS:
        assert golden[kind]["metadata"]["labels"]["release"] == "kube-prometheus-stack", kind
    for kind in ("Deployment", "Service", "ConfigMap/callwatch-policy"):
        assert "release" not in golden[kind]["metadata"]["labels"], kind


def test_the_objects_find_each_other(golden) -> None:
    """Service -> pods, ServiceMonitor -> Service and port, and the job label the rules use."""
    pod = golden["Deployment"]["spec"]["template"]
    service, monitor = golden["Service"], golden["ServiceMonitor"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert (golden["Deployment"]["spec"]["selector"]["matchLabels"].items()
            <= pod["metadata"]["labels"].items())
    assert monitor["spec"]["selector"]["matchLabels"].items() <= \
        service["metadata"]["labels"].items()
    container = pod["spec"]["containers"][0]
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    # a ServiceMonitor target's job label is the Service's name
    rules = json.dumps(golden["PrometheusRule"])
    assert f'up{{job=\\"{service["metadata"]["name"]}\\"}}' in rules
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["policy"]["configMap"]["name"] == "callwatch-policy"
    assert f"{container['volumeMounts'][0]['mountPath']}/policy.yaml" in container["command"]


def test_the_pod_runs_hardened_with_its_probes(golden) -> None:
    pod = golden["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    context = container["securityContext"]
    assert context["runAsNonRoot"] and context["runAsUser"] == 10001
    assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"requests", "limits"} <= set(container["resources"])
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    emptydirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert writable == {"/var/lib/callwatch", "/tmp"}
    assert {m["name"] for m in container["volumeMounts"] if not m.get("readOnly")} == emptydirs
    env = {e["name"]: e for e in container["env"]}
    assert env["CALLWATCH_STORE_URL"]["value"].startswith("sqlite:////var/lib/callwatch/")


def test_secrets_are_only_referenced(golden) -> None:
    container = golden["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["CALLWATCH_RECEIVER_TOKEN"] == {"name": "CALLWATCH_RECEIVER_TOKEN", "valueFrom": {
        "secretKeyRef": {"name": "callwatch", "key": "CALLWATCH_RECEIVER_TOKEN"}}}
    assert container["envFrom"] == [{"secretRef": {"name": "callwatch"}}]
    assert not [m for m in golden.values() if m["kind"] == "Secret"]
    plain = {name for name, e in env.items() if "value" in e}
    assert plain == {"CALLWATCH_STORE_URL", "PYTHONDONTWRITEBYTECODE", "CALLWATCH_PUBLIC_URL",
                     "CALLWATCH_PROMETHEUS_URL", "CALLWATCH_ALERTMANAGER_URL"}
    webhook = golden["AlertmanagerConfig"]["spec"]["receivers"][0]["webhookConfigs"][0]
    assert webhook["httpConfig"]["authorization"]["credentials"] == \
        env["CALLWATCH_RECEIVER_TOKEN"]["valueFrom"]["secretKeyRef"]


def test_the_config_maps_hold_the_policy_and_the_dashboard(golden) -> None:
    files = _render()
    assert golden["ConfigMap/callwatch-policy"]["data"]["policy.yaml"] == GOLDEN_POLICY
    dashboard = golden["ConfigMap/callwatch-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    (text,) = dashboard["data"].values()
    assert json.loads(text) == json.loads(files[DASHBOARD_PATH])


def test_a_policy_change_rolls_the_pod_and_time_scale_reaches_it(golden) -> None:
    edited = _manifests(GOLDEN_POLICY.replace("critical: 0.05\n", "critical: 0.06\n", 1))
    annotation = "checksum/policy"
    assert (edited["Deployment"]["spec"]["template"]["metadata"]["annotations"][annotation]
            != golden["Deployment"]["spec"]["template"]["metadata"]["annotations"][annotation])
    scaled = _manifests(options=SCALED)["Deployment"]
    env = {e["name"]: e.get("value") for e in
           scaled["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CALLWATCH_TIME_SCALE"] == "60"
    assert "CALLWATCH_TIME_SCALE" not in json.dumps(golden["Deployment"])


def test_without_the_section_the_defaults_apply() -> None:
    start = GOLDEN_POLICY.index("\n# Kubernetes (optional section")
    manifests = _manifests(GOLDEN_POLICY[:start] + "\n")
    assert manifests["Deployment"]["metadata"]["namespace"] == "callwatch"
    assert manifests["PrometheusRule"]["metadata"]["labels"] == {
        "app.kubernetes.io/name": "callwatch"}
    assert manifests["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "callwatch:local"


def test_render_kubernetes_writes_the_manifests_into_out_and_checks_them(tmp_path) -> None:
    def render(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "callwatch", "render", "--kubernetes",
                               "--out", str(tmp_path), *args],
                              capture_output=True, text=True, cwd=REPO, timeout=60)

    assert render().returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "alertmanagerconfig.yaml", "configmap.yaml", "deployment.yaml", "prometheusrule.yaml",
        "service.yaml", "servicemonitor.yaml"]
    assert render("--check").returncode == 0
    (tmp_path / "service.yaml").write_text("edited\n", encoding="utf-8")
    stale = render("--check")
    assert stale.returncode == 1
    assert "stale: service.yaml" in stale.stderr
    assert "deployment.yaml" not in stale.stderr


def test_the_secret_variables_are_every_one_callwatch_reads(monkeypatch) -> None:
    """``SECRET_VARIABLES`` (what kubernetes.env may not hold, what docs/deploy.md lists) is
    what the receiver, the exporter and the notifiers ask ``read_secret`` for."""
    import callwatch.credentials
    import exporter.config
    import receiver.config
    import receiver.notify.common
    from receiver.notify.registry import build_notifiers

    asked: set[str] = set()

    def record(value: str | None):
        def read_secret(environ, name: str) -> str | None:
            asked.add(name)
            return value
        return read_secret

    monkeypatch.setattr(callwatch.credentials, "read_secret", record(None))
    monkeypatch.setattr(receiver.config, "read_secret", record(None))
    monkeypatch.setattr(exporter.config, "read_secret", record(None))
    monkeypatch.setattr(receiver.notify.common, "read_secret", record("x" * 16))
    receiver.config.load_config({})
    callwatch.credentials.load_credentials({})
    callwatch.credentials.load_metrics_token({})
    exporter.config.load_config({})
    policy = parse_policy(GOLDEN_POLICY, "policy.yaml")
    build_notifiers(policy, {"TWILIO_ACCOUNT_SID": "AC1", "TELNYX_CONNECTION_ID": "c1",
                             "SMTP_USERNAME": "callwatch"})
    assert asked == set(SECRET_VARIABLES)
