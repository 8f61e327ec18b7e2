"""The optional ``exporter:`` policy section: defaults, values, strict errors with lines."""

from pathlib import Path

import pytest

from policy import PolicyError, parse_policy
from policy.spec_exporter import ExporterSettings

DEPLOY = (Path(__file__).resolve().parents[2] / "deploy" / "policy.yaml").read_text()
BASE = DEPLOY.split("\nexporter:")[0]          # the shipped policy without its exporter section


def with_exporter(section: str):
    return parse_policy(BASE + "\n" + section, "p.yaml")


def test_an_absent_section_gives_the_defaults():
    assert parse_policy(BASE, "p.yaml").exporter == ExporterSettings()


def test_the_shipped_section_spells_out_the_defaults(policy):
    assert policy.exporter == ExporterSettings()


def test_a_full_section_is_read():
    policy = with_exporter("""exporter:
  poll_intervals: {calls: 10s, statuspage: 2m}
  api_timeout: 5s
  probe_interval: 30s
  webhook_body_limit: 4096
  dedup_capacity: 500
  health_window: 10m
  control_targets: ['https://www.example.com/', 'http://connectivity.example.net:8080/ping']
  probe_targets:
    - {name: twilio-hook, kind: twilio_webhook, url: "http://127.0.0.1:9120/telephony/webhooks/twilio"}
    - {name: app-api, kind: http, url: "https://api.example.com/health", expect_status: 204}
""")
    settings = policy.exporter
    assert settings.poll_intervals["calls"] == 10 and settings.poll_intervals["statuspage"] == 120
    assert settings.poll_intervals["insights"] == 300
    assert settings.api_timeout_seconds == 5 and settings.health_window_seconds == 600
    assert settings.webhook_body_limit == 4096 and settings.dedup_capacity == 500
    hook, api = settings.probe_targets
    assert (hook.kind, hook.provider) == ("twilio_webhook", "twilio")
    assert (api.provider, api.expect_status) == (None, 204)
    assert settings.control_targets == ("https://www.example.com/",
                                        "http://connectivity.example.net:8080/ping")


ERRORS = [
    ("an unknown key is an error naming it", "exporter:\n  pol_intervals: {}\n",
     "exporter.pol_intervals: unknown key"),
    ("an unknown poll source is an error", "exporter:\n  poll_intervals: {foo: 1s}\n",
     "unknown key 'foo'"),
    ("a bad duration is an error", "exporter:\n  api_timeout: soon\n", "exporter.api_timeout"),
    ("a zero interval is an error", "exporter:\n  probe_interval: 0s\n", "longer than 0s"),
    ("an unknown probe kind is an error",
     "exporter:\n  probe_targets:\n    - {name: a, kind: icmp, url: 'http://x'}\n",
     "unknown probe kind 'icmp'"),
    ("a target name that cannot be a label is an error",
     "exporter:\n  probe_targets:\n    - {name: 'a b', kind: http, url: 'http://x'}\n",
     "target label"),
    ("a duplicate target name is an error",
     "exporter:\n  probe_targets:\n    - {name: a, kind: http, url: 'http://x'}\n"
     "    - {name: a, kind: http, url: 'http://y'}\n", "used twice"),
    ("a non-http url is an error",
     "exporter:\n  probe_targets:\n    - {name: a, kind: http, url: 'ftp://x'}\n", "http://"),
    ("a webhook probe for the other provider is an error",
     "exporter:\n  probe_targets:\n    - {name: a, kind: twilio_webhook, url: 'http://x', "
     "provider: telnyx}\n", "is for twilio"),
    ("a tiny body limit is an error", "exporter:\n  webhook_body_limit: 10\n", "at least 1024"),
    ("control targets must be a list", "exporter:\n  control_targets: https://x.example/\n",
     "exporter.control_targets: must be a list"),
    ("a control target that is not a URL is an error",
     "exporter:\n  control_targets: [www.example.com]\n", "URL with a host"),
    ("a control target without a host is an error",
     "exporter:\n  control_targets: ['https:///ping']\n", "URL with a host"),
    ("a control target with a bad port is an error",
     "exporter:\n  control_targets: ['http://x.example:99999/']\n", "URL with a host"),
    ("a control target with a query is an error (it becomes the label)",
     "exporter:\n  control_targets: ['https://x.example/?token=abc']\n",
     "must not carry a user, password, query or fragment"),
]


@pytest.mark.parametrize("name,section,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_section_errors_name_the_key_and_line(name, section, message):
    with pytest.raises(PolicyError) as info:
        with_exporter(section)
    text = str(info.value)
    assert message in text
    assert "abc" not in text        # a query, user or password is never echoed
    assert "p.yaml:" in text and text.split(":")[1].strip().isdigit()
