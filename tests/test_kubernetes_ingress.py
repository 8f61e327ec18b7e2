"""The optional Ingress (``kubernetes.ingress``): it exposes what outsiders call and nothing
else, checked against the routes ``callwatch run`` mounts and ``callwatch.access.EXEMPT``.
Kubernetes' own validation of it runs with the other core kinds (tests/test_kubernetes.py)."""

from __future__ import annotations

import re

import pytest

from callwatch.access import EXEMPT, Exempt
from policy.render.kubernetes import PUBLIC_PATHS
from tests.test_access import mounted, run_app
from tests.test_kubernetes import GOLDEN_POLICY, _manifests

OUTSIDERS = (Exempt.SIGNED, Exempt.FEED, Exempt.CONSOLE)
# Under /oncall, beside the calendar feeds: the on-call API, which still asks for the token.
REACHABLE_WITH_THE_TOKEN = {("GET", "/oncall"), ("GET", "/oncall/{schedule}/shifts")}
INGRESS_LINE = re.compile(r"\n  ingress: \{[^\n]*\}")


def exposed(route: str) -> bool:
    """Whether a request for ``route`` (its templates filled in) matches a public path, as
    Kubernetes matches them: Exact whole, Prefix element by element."""
    asked = re.sub(r"\{[^}]+\}", "x", route).rstrip("/").split("/")
    for path, kind in PUBLIC_PATHS:
        wanted = path.rstrip("/").split("/")
        if (asked == wanted if kind == "Exact" else asked[:len(wanted)] == wanted):
            return True
    return False


def test_every_route_outsiders_call_is_exposed(policy, tmp_path) -> None:
    routes = mounted(run_app(policy, tmp_path))
    outsiders = {key for key, (kind, _why) in EXEMPT.items() if kind in OUTSIDERS}
    assert outsiders <= routes
    assert [key for key in sorted(outsiders) if not exposed(key[1])] == []


def test_nothing_else_is_exposed(policy, tmp_path) -> None:
    routes = mounted(run_app(policy, tmp_path))
    inside = {key for key in routes
              if key not in EXEMPT or EXEMPT[key][0] not in OUTSIDERS}
    assert {key for key in inside if exposed(key[1])} == REACHABLE_WITH_THE_TOKEN
    for kept_in in ("/alerts", "/metrics", "/incidents", "/openapi.json", "/healthz"):
        assert not exposed(kept_in), kept_in


def test_the_ingress_sends_the_public_paths_to_the_service_on_the_public_host() -> None:
    manifests = _manifests()
    ingress, service = manifests["Ingress"], manifests["Service"]
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["callwatch.example.com"], "secretName": "callwatch-tls"}]
    (rule,) = spec["rules"]
    assert rule["host"] == "callwatch.example.com"
    assert [(p["path"], p["pathType"]) for p in rule["http"]["paths"]] == list(PUBLIC_PATHS)
    port = service["spec"]["ports"][0]["name"]
    assert {(p["backend"]["service"]["name"], p["backend"]["service"]["port"]["name"])
            for p in rule["http"]["paths"]} == {(service["metadata"]["name"], port)}
    assert ingress["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt"}
    assert ingress["metadata"]["namespace"] == service["metadata"]["namespace"]


@pytest.mark.parametrize("ingress, public_url", [
    pytest.param("{host: calls.example.org, tls_secret: calls-tls}", "https://calls.example.org",
                 id="with a TLS secret: https on the host"),
    pytest.param("{host: calls.example.org}", "http://calls.example.org",
                 id="without one: TLS ends elsewhere or nowhere, http on the host"),
])
def test_the_public_url_defaults_to_the_ingress_host(ingress, public_url) -> None:
    text = GOLDEN_POLICY.replace("    CALLWATCH_PUBLIC_URL: https://callwatch.example.com\n", "")
    text = INGRESS_LINE.sub(f"\n  ingress: {ingress}", text)
    container = _manifests(text)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CALLWATCH_PUBLIC_URL"] == public_url
    spec = _manifests(text)["Ingress"]["spec"]
    assert "ingressClassName" not in spec and ("tls" in spec) == public_url.startswith("https")


def test_without_an_ingress_there_is_none() -> None:
    text = INGRESS_LINE.sub("", GOLDEN_POLICY)
    assert "Ingress" not in _manifests(text)
