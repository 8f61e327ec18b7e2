"""deploy/policy.schema.json, the JSON Schema editors check the policy file against.

It is kept by hand and held in step with the reader (policy/spec*.py) from both sides:
- every valid example policy (the shipped one, its frozen copy, the commented-out examples made
  real, the sections the readers' docstrings and docs/ show) loads and passes the schema;
- every invalid-*.yml fixture that is a shape error fails it at the fixture's key path, and the
  others are listed in NOT_EXPRESSIBLE with the reason;
- the reader is instrumented while it reads the examples (tests/policy_reads.py), and every key
  a mapping allows or requires, every choice's values and every scalar's kind are compared with
  the schema (tests/policy_schema_steps.py). A key added to a reader and not to the schema fails
  with one line naming the schema location and the JSON to put there; a reader line or key no
  example reaches fails too, so nothing escapes the comparison.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from policy import PolicyError, catalog, parse_policy
from policy.durations import parse_duration
from policy.matchers import parse_matcher
from policy.spec import VERSION
from policy.spec_kubernetes import SECRET_VARIABLES
from policy.spec_people import CHANNEL_KEYS
from tests.policy_reads import (
    Recording,
    dump,
    editor_yaml,
    open_sites,
    record_reads,
    segments,
    unexercised_keys,
    unreached_sites,
)
from tests.policy_schema_steps import SchemaMap, disagreements
from tests.test_policy_invalid import _invalid_text

REPO = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((REPO / "deploy" / "policy.schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA)
SHIPPED = REPO / "deploy" / "policy.yaml"
GOLDEN = REPO / "tests" / "testdata" / "policy-golden.yaml"
FIXTURES = sorted((REPO / "tests" / "testdata").glob("invalid-*.yml"))

# Fixtures whose error JSON Schema cannot express: the schema accepts them, callwatch does not.
NOT_EXPRESSIBLE = {
    "invalid-api-guard-above-polls": "arithmetic across sections (the exporter's poll "
                                     "intervals within the rate window)",
    "invalid-business-hours-end": "compares two values: end later than start",
    "invalid-deadline-unknown-level": "cross-reference: a level some engineering step has",
    "invalid-duplicate-key": "a YAML error: the document reaches a schema with one of the "
                             "two values (editors flag duplicate keys themselves)",
    "invalid-escalation-unknown-contact": "cross-reference: a key under contacts",
    "invalid-escalation-unknown-schedule": "cross-reference: a name under schedules",
    "invalid-kubernetes-ingress-public-url": "compares two values: the host of a URL in env "
                                             "with kubernetes.ingress.host",
    "invalid-failover-no-secret": "exactly one of two optional keys (secret_env, secret_file): "
                                  "the reader's required keys are per mapping",
    "invalid-route-unknown-channel": "cross-reference: a name under channels",
    "invalid-schedule-duplicate-layer": "one field unique across list items (uniqueItems "
                                        "compares whole items)",
    "invalid-schedule-override-backwards": "compares two values: to after from",
    "invalid-schedule-override-unknown-contact": "cross-reference: a key under contacts",
    "invalid-schedule-rotation-too-short": "a duration's length (at least 1h) is arithmetic",
    "invalid-schedule-start-not-a-date": "calendar validity (no 30 February) is not a pattern",
    "invalid-schedule-timezone": "which zones exist is the machine's time zone database",
    "invalid-schedule-unknown-participant": "cross-reference: a key under contacts",
    "invalid-status-page-channel-name": "cross-reference: no name under channels is "
                                        "status_page",
    "invalid-status-page-no-key": "exactly one of two optional keys (api_key_env, "
                                  "api_key_file): the reader's required keys are per mapping",
    "invalid-traffic-absent-seen-within": "compares two durations: seen_within longer than for",
    "invalid-unknown-timezone": "which zones exist is the machine's time zone database",
    "invalid-warning-above-critical": "compares two values, in the row's direction",
    "invalid-warning-below-critical-mos": "compares two values, in the row's direction",
    "invalid-watchdog-missing-after": "arithmetic across sections (watchdog.repeat_interval "
                                      "plus alertmanager.group_interval)",
}
# Reader calls no valid policy reaches, by (file, call text): error paths.
UNREACHABLE = {
    ("policy/spec_kubernetes.py", "node.mapping()"): "only for a value that is not a mapping",
}


# -- the valid examples ---------------------------------------------------------------------------
def _every_key(doc: dict) -> None:
    """The shipped policy with its commented-out examples made real and every optional key."""
    doc["alertmanager"]["fallback_receiver"] = {
        "webhook_url": "https://hooks.example.com/callwatch-is-down"}
    doc["channels"].update({
        "pagerduty_by_file": {"type": "pagerduty",
                              "routing_key_file": "/run/secrets/pagerduty_routing_key"},
        "slack_by_file": {"type": "slack", "channel": "#ops", "token_file": "/run/secrets/slack"},
        "sms": {"type": "sms", "from_number": "+15005550006", "providers": ["telnyx", "twilio"]},
        "email_by_file": {"type": "email", "smtp_host": "smtp.example.com", "smtp_port": 587,
                          "from_address": "callwatch@example.com", "to": ["ops@example.com"],
                          "starttls": True, "username": "callwatch",
                          "password_file": "/run/secrets/smtp_password"},
    })
    doc["escalation"]["owner"] = "callwatch"
    doc["traffic_absent"]["business_hours"] = "always"
    schedule = doc["schedules"]["primary"]
    schedule["layers"].append({
        "name": "weekend-cover", "start": "2026-01-10T00:00", "rotate_every": "1w",
        "participants": ["eng_c"],
        "restrictions": [{"days": ["sat", "sun"], "from": "00:00", "to": "24:00"},
                         {"days": ["fri"], "from": "22:00", "to": "06:00"}]})
    schedule["overrides"] = [{"contact": "eng_b", "from": "2026-12-24T18:00",
                              "to": "2026-12-27T09:00"}]
    doc["templates"] = {name: f"templates/{name}.txt.j2" for name in catalog.TEMPLATE_NAMES}
    exporter = doc.setdefault("exporter", {}) or {}
    exporter["probe_targets"] = [
        {"name": "twilio-webhook", "kind": "twilio_webhook",
         "url": "https://api.example.com/telephony/webhooks/twilio"},
        {"name": "telnyx-webhook", "kind": "telnyx_webhook",
         "url": "https://api.example.com/telephony/webhooks/telnyx"},
        {"name": "app-api", "kind": "http", "url": "https://api.example.com/health",
         "provider": "twilio", "expect_status": 204}]
    exporter["control_targets"] = ["https://www.example.com/", "http://[2001:db8::1]:8080/up"]
    doc["exporter"] = exporter
    kubernetes = doc.setdefault("kubernetes", {}) or {}
    kubernetes.setdefault("labels", {}).update({"team": "voice", "example.com/tier": ""})
    kubernetes.setdefault("env", {}).update({"CALLWATCH_LOG_LEVEL": ""})
    doc["kubernetes"] = kubernetes
    doc["remediation"] = {"failover": {
        "webhook": "https://calls.example.com/callwatch/failover",
        "secret_file": "/run/secrets/failover_secret", "requires_approval": False}}


def _nothing_optional(doc: dict) -> None:
    """Optional values given as nothing (business_hours: around the clock), the other fallback
    receiver."""
    doc["alertmanager"]["fallback_receiver"] = {
        "pagerduty_routing_key_file": "/run/secrets/pagerduty_fallback_routing_key"}
    doc["traffic_absent"]["business_hours"] = None
    doc["routing"]["P2"]["fallback"] = None
    doc["escalation"]["business"] = None
    doc["escalation"]["engineering"][-1]["priorities"] = None
    doc["schedules"]["primary"]["overrides"] = None
    for section in ("priority_overrides", "severity_default", "vendors", "templates", "exporter",
                    "self_monitoring", "watchdog", "kubernetes"):
        doc[section] = None


def _no_optional_section(doc: dict) -> None:
    """Every optional section left out but schedules (an escalation step names one)."""
    for section in ("priority_overrides", "severity_default", "vendors", "templates", "exporter",
                    "self_monitoring", "watchdog", "traffic_absent", "kubernetes"):
        doc.pop(section, None)


def _section_examples() -> dict[str, dict]:
    """The policy sections shown in the readers' docstrings and in docs/, by where they are."""
    found = {}
    blocks = [(path, match.group(1)) for path in sorted((REPO / "policy").glob("spec*.py"))
              for match in re.finditer(r"\.\. code-block:: yaml\n\n((?:    .*\n|\n)+)",
                                       path.read_text(encoding="utf-8"))]
    blocks += [(path, match.group(1)) for path in sorted((REPO / "docs").rglob("*.md"))
               for match in re.finditer(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"),
                                        re.DOTALL)]
    for path, block in blocks:
        section = yaml.safe_load("\n".join(line.removeprefix("    ")
                                           for line in block.splitlines()))
        if isinstance(section, dict) and set(section) <= set(SCHEMA["properties"]):
            found[f"{path.relative_to(REPO)}:{'+'.join(section)}"] = section
    return found


SECTIONS = _section_examples()
EXAMPLES: dict[str, Callable[[dict], None]] = {
    "every-key": _every_key,
    "nothing-optional": _nothing_optional,
    "no-optional-section": _no_optional_section,
    **{name: (lambda doc, section=section: doc.update(copy.deepcopy(section)))
       for name, section in SECTIONS.items()},
}


def _example_text(name: str) -> str:
    if name == "shipped":
        return SHIPPED.read_text(encoding="utf-8")
    if name == "golden":
        return GOLDEN.read_text(encoding="utf-8")
    doc = editor_yaml(SHIPPED.read_text(encoding="utf-8"))
    EXAMPLES[name](doc)
    return dump(doc)


NAMES = [*EXAMPLES, "shipped", "golden"]   # every-key first: the richest suggestions


@pytest.fixture(scope="module")
def recorded() -> dict[str, tuple[Any, Recording]]:
    """Each example's document (as an editor reads it) and what the reader asked of it."""
    return {name: (editor_yaml(text), record_reads(text))
            for name in NAMES for text in [_example_text(name)]}


def _errors(document: Any) -> list[str]:
    return [f"{'.'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}"
            for error in VALIDATOR.iter_errors(document)]


# -- the schema and the valid policies -----------------------------------------------------------
def test_the_schema_is_a_valid_draft_2020_12_schema_using_each_definition() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)
    text = json.dumps(SCHEMA)
    assert [name for name in SCHEMA["$defs"] if f'"#/$defs/{name}"' not in text] == []


def test_the_docs_and_docstrings_show_policy_sections() -> None:
    shown = {name.split(":")[0] for name in SECTIONS}
    assert {"policy/spec_exporter.py", "policy/spec_self.py", "docs/exporter.md"} <= shown


@pytest.mark.parametrize("name", NAMES)
def test_every_valid_policy_example_loads_and_passes_the_schema(name: str) -> None:
    text = _example_text(name)
    parse_policy(text, f"{name}.yaml")
    assert _errors(editor_yaml(text)) == []


def test_the_shipped_policy_and_its_frozen_copy_name_the_schema_on_their_first_line() -> None:
    assert SHIPPED.read_text(encoding="utf-8").splitlines()[0] == \
        "# yaml-language-server: $schema=./policy.schema.json"
    assert GOLDEN.read_text(encoding="utf-8").splitlines()[0] == \
        "# yaml-language-server: $schema=../../deploy/policy.schema.json"


# -- the invalid fixtures -------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda path: path.stem)
def test_the_schema_rejects_each_shape_error_where_the_reader_does(fixture: Path) -> None:
    text, case = _invalid_text(fixture)
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, "deploy/policy.yaml")
    document = editor_yaml(text)
    errors = list(VALIDATOR.iter_errors(document))
    if fixture.stem in NOT_EXPRESSIBLE:
        assert not errors, (f"{fixture.name} is in NOT_EXPRESSIBLE but the schema rejects it "
                            f"({errors[0].message}): take it off the list")
        return
    assert errors, (f"{fixture.name} ({case['description']}): the schema accepts what the reader "
                    f"rejects ({raised.value}); make the schema reject it, or add it to "
                    "NOT_EXPRESSIBLE in tests/test_policy_schema.py with the reason")
    where = segments(document, raised.value.path)
    assert any(list(error.absolute_path) == where[:len(error.absolute_path)]
               for error in errors), [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_not_expressible_names_only_fixtures_that_exist() -> None:
    assert set(NOT_EXPRESSIBLE) <= {fixture.stem for fixture in FIXTURES}


# -- in step with the reader ----------------------------------------------------------------------
def test_the_schema_says_what_the_reader_does(recorded) -> None:
    schemas = SchemaMap(SCHEMA)
    opened = open_sites(list(recorded.values()))
    problems = disagreements(schemas, list(recorded.values()), opened)
    assert not problems, ("deploy/policy.schema.json is out of step with the policy reader:\n"
                          + "\n".join(problems))


def test_the_examples_reach_every_reader_line_key_and_channel_type(recorded) -> None:
    recordings = [recording for _, recording in recorded.values()]
    missing = unreached_sites(recordings, UNREACHABLE)
    missing += unexercised_keys(list(recorded.values()))
    types = {channel["type"] for document, _ in recorded.values()
             for channel in document["channels"].values()}
    missing += [f"no example has a {kind} channel: add one to _every_key"
                for kind in CHANNEL_KEYS if kind not in types]
    assert not missing, "\n".join(missing)


def test_the_schema_holds_the_readers_fixed_values() -> None:
    """What the instrumented reader does not show: the version, the latency buckets and the
    variables that are secrets."""
    top = SCHEMA["properties"]
    assert top["version"]["const"] == VERSION
    row = top["thresholds"]["properties"]["api_response_time"]["properties"]
    assert row["warning"]["enum"] == row["critical"]["enum"] == list(catalog.API_BUCKETS)
    env = top["kubernetes"]["anyOf"][1]["properties"]["env"]["anyOf"][1]["propertyNames"]
    assert set(env["not"]["enum"]) == {name + suffix for name in SECRET_VARIABLES
                                       for suffix in ("", "_FILE")}


# -- patterns that must accept exactly what the reader's parsers do ------------------------------
def _definition_accepts(name: str, value: Any) -> bool:
    return VALIDATOR.evolve(schema={"$ref": f"#/$defs/{name}"}).is_valid(value)


def _parses(parse: Callable[[str], Any], text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


DURATIONS = ["", "0", "00", "0s", "-5m", " 5m", "5m ", "5", "5 m", "1.5h", "5mx", "1h1h",
             *("".join(parts) for parts in itertools.product(
                 ("", "0", "1", "07", "25"), ("y", "w", "d", "h", "m", "s", "ms", "x", ""),
                 ("", "3"), ("", "y", "h", "m", "s", "ms")))]   # below the 292-year limit


def test_the_duration_pattern_accepts_exactly_the_durations_the_reader_does() -> None:
    wrong = [text for text in DURATIONS
             if _definition_accepts("duration", text) != _parses(parse_duration, text)]
    assert not wrong
    zero = [text for text in DURATIONS if _parses(parse_duration, text)
            and _definition_accepts("positive_duration", text) != (parse_duration(text) > 0)]
    assert not zero


MATCHERS = [
    'severity="critical"', "severity=critical", ' severity = "critical" ', 'a!="b"', 'a=~"b.+"',
    'a!~"x|y"', 'a=""', "a=", 'a="b\\"c"', 'a="b"c"', 'a="b', 'a=b"', 'a="b\\"', 'a="b\\\\"',
    'a="x y"', "a=x y", "alertname TelephonyServiceDown", "=b", '1a="b"', 'a:b="c"',
    '_a="b"', 'a=="b"', 'a="\\n"', 'a="line\nbreak"', "a=\\", 'a="é"', "a\t=\tb",
]


def test_the_matcher_pattern_accepts_exactly_the_matchers_the_reader_does() -> None:
    items = SCHEMA["properties"]["priority_overrides"]["anyOf"][1]["items"]
    pattern = items["properties"]["matchers"]["items"]
    wrong = [text for text in MATCHERS
             if VALIDATOR.evolve(schema=pattern).is_valid(text) != _parses(parse_matcher, text)]
    assert not wrong


# One value changed in the every-key example: the reader and the schema accept or reject it alike.
VALUE_CASES = [
    ("providers", []), ("providers", ["twilio", "twilio"]), ("providers", ["telnyx"]),
    ("majority_traffic_share", 0), ("majority_traffic_share", 1),
    ("majority_traffic_share", 0.99),
    ("contacts.eng_a", {"name": "Ana", "pagerduty": False}),
    ("contacts.eng_a", {"name": "Ana", "pagerduty": True}),
    ("channels.email.smtp_port", 0), ("channels.email.smtp_port", 65536),
    ("channels.email.smtp_port", 65535), ("channels.digest.send_at", "9:00"),
    ("channels.digest.send_at", "24:00"), ("channels.digest.send_at", "23:59"),
    ("alertmanager.fallback_receiver", {}),
    ("escalation.engineering[0].level", "L0"), ("escalation.engineering[0].level", "L10"),
    ("escalation.engineering[0].level", "L9"),
    ("escalation.engineering[0].contacts[0]", "schedule:"),
    ("escalation.engineering[0].contacts[0]", "eng_a"),
    ("schedules.primary.layers[1].restrictions[0].to", "24:01"),
    ("schedules.primary.layers[1].restrictions[0].from", "23:59"),
    ("traffic_absent.business_hours", {"days": [], "start": "08:00", "end": "18:00"}),
    ("traffic_absent.business_hours", "never"),
    ("vendors.twilio.account", {"account_id": "AC123"}),
    ("vendors.twilio.tiers", {}),
    ("watchdog.alertname", "_Watchdog2"), ("watchdog.alertname", "2Watchdog"),
    ("exporter.probe_targets[0].name", "bad name"), ("exporter.probe_targets[0].name", "a" * 64),
    ("exporter.probe_targets[0].name", "a.b-c_d"),
    ("exporter.probe_targets[2].expect_status", 99),
    ("exporter.probe_targets[2].expect_status", 600),
    ("exporter.webhook_body_limit", 1023), ("exporter.dedup_capacity", 100),
    *(("exporter.control_targets[0]", url) for url in (
        "https://probe:secret@www.example.com/", "https://www.example.com/?q=1",
        "https://www.example.com/#top", "ftp://www.example.com/", "https:///path",
        "http://localhost:9090", "https://www.example.com:443/up", "http://[::1]:8080/",
        "http://www.example.com:0/", "http://www.example.com:65536/",
        "http://www.example.com:0080/", "http://www.example.com:8o/")),
    ("exporter.control_targets", ["https://a.example/", "https://a.example/"]),
    ("kubernetes.namespace", "a" * 64), ("kubernetes.namespace", "a-b"),
    ("kubernetes.secret", "callwatch.prod"), ("kubernetes.secret", "-callwatch"),
    ("kubernetes.image", "registry.example.com:5000/team/callwatch:1.0@sha256:" + "a" * 64),
    ("kubernetes.image", "Callwatch"), ("kubernetes.image", "callwatch:"),
    ("kubernetes.labels.team", "x" * 64), ("kubernetes.labels.team", "-a"),
    ("kubernetes.labels.team", "a-b"), ("kubernetes.env.CALLWATCH_LOG_LEVEL", 5),
]


@functools.cache
def _every_key_document() -> Any:
    return editor_yaml(_example_text("every-key"))


@pytest.mark.parametrize(("path", "value"), VALUE_CASES, ids=lambda v: str(v)[:40])
def test_the_schema_and_the_reader_agree_on_one_value(path: str, value: Any) -> None:
    document = copy.deepcopy(_every_key_document())
    *parents, last = segments(document, path)
    target = document
    for key in parents:
        target = target[key]
    target[last] = value
    reader = _parses(lambda text: parse_policy(text, "example.yaml"), dump(document))
    assert VALIDATOR.is_valid(document) == reader, _errors(document) or "the schema accepts it"
