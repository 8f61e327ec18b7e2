"""``callwatch oncall``: against a live receiver (aiohttp test server, clock at
2027-01-15T08:00:00Z) and, with ``--policy``, from a policy file with no receiver at all.
The schedules are test_oncall_api's: primary has eng_b on call that week, secondary a gap."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml

from callwatch.cli import main
from callwatch.credentials import feed_key
from tests.conftest import POLICY_PATH
from tests.receiver.conftest import TOKEN
from tests.receiver.test_oncall_api import PRIMARY, SECONDARY, with_schedules
from tests.test_cli_imports import imported_modules

TABLE = [
    "SCHEDULE   CONTACT  NAME        LAYER   SINCE                     UNTIL",
    "primary    eng_b    Ben Okafor  weekly  2027-01-11T08:00:00.000Z  2027-01-18T08:00:00.000Z",
    "secondary  -        -           -       -                         2027-02-01T00:00:00.000Z",
]


@pytest.fixture
async def live(make_client, policy, monkeypatch):
    monkeypatch.setenv("CALLWATCH_RECEIVER_TOKEN", TOKEN)
    monkeypatch.delenv("CALLWATCH_RECEIVER_TOKEN_FILE", raising=False)
    monkeypatch.delenv("CALLWATCH_URL", raising=False)
    client = await make_client(policy=with_schedules(policy, PRIMARY, SECONDARY))
    return client, str(client.server.make_url("")).rstrip("/")


async def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, ["oncall", *argv])
    out, err = capsys.readouterr()
    return code, out, err


async def test_prints_a_table_of_who_is_on_call_now(live, capsys):
    _, url = live
    code, out, err = await cli(capsys, "--url", url)
    assert (code, err) == (0, "")
    assert out.splitlines() == TABLE


async def test_json_prints_the_receivers_body(live, capsys):
    client, url = live
    code, out, _ = await cli(capsys, "--url", url, "--json")
    assert code == 0
    assert json.loads(out) == await (await client.get("/oncall")).json()


async def test_at_and_schedule_reach_the_receiver_offset_and_all(live, capsys):
    _, url = live
    code, out, _ = await cli(capsys, "--url", url, "--at", "2027-01-18T09:00:00+01:00",
                             "--schedule", "primary", "--json")
    body = json.loads(out)
    assert code == 0 and body["at"] == "2027-01-18T08:00:00.000Z"
    assert list(body["schedules"]) == ["primary"]
    assert body["schedules"]["primary"]["contact"] == "eng_c"


async def test_the_url_comes_from_callwatch_url(live, capsys, monkeypatch):
    _, url = live
    monkeypatch.setenv("CALLWATCH_URL", url)
    code, out, _ = await cli(capsys)
    assert code == 0 and out.splitlines()[1] == TABLE[1]


async def test_an_unknown_schedule_is_the_servers_404_on_one_line_and_exit_2(live, capsys):
    _, url = live
    code, out, err = await cli(capsys, "--url", url, "--schedule", "tertiary")
    assert (code, out) == (2, "")
    assert err == "callwatch oncall: HTTP 404 not_found: no schedule named 'tertiary'\n"


async def test_a_time_without_offset_is_the_servers_400_and_exit_2(live, capsys):
    _, url = live
    code, _, err = await cli(capsys, "--url", url, "--at", "2027-01-18T09:00")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("callwatch oncall: HTTP 400 invalid_request: at: '2027-01-18T09:00' "
                          "has no UTC offset")


async def test_without_the_token_the_receivers_401_is_one_line_and_exit_2(live, capsys,
                                                                          monkeypatch):
    _, url = live
    monkeypatch.delenv("CALLWATCH_RECEIVER_TOKEN")
    code, out, err = await cli(capsys, "--url", url)
    assert (code, out) == (2, "")
    assert err == ("callwatch oncall: HTTP 401 unauthorized: missing credentials: send "
                   "Authorization: Bearer <CALLWATCH_RECEIVER_TOKEN>\n")


async def test_feed_prints_a_subscription_url_that_opens_without_the_token(live, capsys):
    client, url = live
    code, out, err = await cli(capsys, "--url", url, "--schedule", "primary", "--feed", "eng_a")
    key = feed_key(TOKEN, "primary", "eng_a")
    assert (code, err) == (0, "")
    assert out == f"{url}/oncall/primary.ics?contact=eng_a&key={key}\n"
    anonymous = await client.session.get(out.strip(), headers={"Authorization": ""})
    assert anonymous.status == 200 and (await anonymous.read()).startswith(b"BEGIN:VCALENDAR")


@pytest.mark.parametrize(("argv", "line"), [
    (["--schedule", "primary", "--feed", "eng_z"],
     "HTTP 404 not_found: no contact named 'eng_z'"),
    (["--schedule", "tertiary", "--feed", "eng_a"],
     "HTTP 404 not_found: no schedule named 'tertiary'"),
    (["--feed", "eng_a"], "--feed needs --schedule"),
])
async def test_a_feed_the_receiver_does_not_answer_is_one_line_and_exit_2(live, capsys, argv,
                                                                         line):
    _, url = live
    code, out, err = await cli(capsys, "--url", url, *argv)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith(f"callwatch oncall: {line}")


async def test_an_unreachable_receiver_is_one_line_and_exit_2(capsys, unused_tcp_port,
                                                              monkeypatch):
    monkeypatch.delenv("CALLWATCH_RECEIVER_TOKEN", raising=False)
    monkeypatch.delenv("CALLWATCH_RECEIVER_TOKEN_FILE", raising=False)
    code, out, err = await cli(capsys, "--url", f"http://127.0.0.1:{unused_tcp_port}")
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("callwatch oncall: cannot reach http://127.0.0.1")


# -- --policy: from the file, no receiver ---------------------------------------------------
@pytest.fixture
def policy_file(tmp_path):
    """deploy/policy.yaml with primary replaced by a known schedule and an override."""
    document = yaml.safe_load(POLICY_PATH.read_text(encoding="utf-8"))
    document["schedules"] = {"primary": {
        "timezone": "Europe/Berlin",
        "layers": [{"name": "weekly", "start": "2027-01-04T09:00", "rotate_every": "1w",
                    "participants": ["eng_a", "eng_b", "eng_c"]}],
        "overrides": [{"contact": "eng_a", "from": "2027-01-20T00:00",
                       "to": "2027-01-21T00:00"}]}}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["oncall", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_policy_mode_answers_from_the_file(policy_file, capsys, unused_tcp_port):
    # --url points nowhere: the answer cannot have come from a receiver
    code, out, err = run(capsys, "--policy", policy_file, "--at", "2027-01-15T08:00:00Z",
                         "--url", f"http://127.0.0.1:{unused_tcp_port}")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "SCHEDULE  CONTACT  NAME        LAYER   SINCE                     UNTIL",
        "primary   eng_b    Ben Okafor  weekly  2027-01-11T08:00:00.000Z  2027-01-18T08:00:00.000Z"]


def test_policy_mode_applies_overrides_and_prints_the_same_json(policy_file, capsys):
    code, out, _ = run(capsys, "--policy", policy_file, "--at", "2027-01-20T12:00:00+01:00",
                       "--json")
    assert code == 0
    assert json.loads(out) == {"at": "2027-01-20T11:00:00.000Z", "schedules": {"primary": {
        "contact": "eng_a", "name": "Ana Weber", "layer": "override",
        "since": "2027-01-19T23:00:00.000Z", "until": "2027-01-20T23:00:00.000Z"}}}


@pytest.mark.parametrize(("argv", "line"), [
    (["--at", "tomorrow"], "callwatch oncall: --at: not an ISO 8601 time: 'tomorrow'"),
    (["--at", "2027-01-20T12:00"], "callwatch oncall: --at: '2027-01-20T12:00' has no UTC "
                                   "offset"),
    (["--schedule", "tertiary"], "callwatch oncall: no schedule named 'tertiary'"),
])
def test_policy_mode_bad_input_is_one_line_and_exit_2(policy_file, capsys, argv, line):
    code, out, err = run(capsys, "--policy", policy_file, *argv)
    assert (code, out) == (2, "") and err.count("\n") == 1 and err.startswith(line)


def test_policy_mode_with_a_missing_file_is_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "--policy", str(tmp_path / "nope.yaml"))
    assert code == 2 and err.startswith("callwatch oncall: invalid policy: ")
    assert "cannot read policy file" in err


def test_policy_mode_loads_no_aiohttp():
    code, names = imported_modules("oncall", "--policy", str(POLICY_PATH))
    assert code == 0 and "receiver.domain.oncall_views" in names  # the measurement sees it
    assert {name for name in names if name.split(".")[0] == "aiohttp"} == set()
