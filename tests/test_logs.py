"""callwatch's logging: one JSON line per record, and the SDKs' per-request lines kept quiet."""

from __future__ import annotations

import json
import logging

import pytest

from callwatch.logs import setup_logging


class Logged:
    """Logging set up as the commands do it, and the JSON lines written since."""

    def __init__(self, capsys) -> None:
        self.capsys = capsys

    def start(self) -> None:
        # in the test itself, not in the fixture: capsys swaps stderr for each phase
        setup_logging("info")

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.capsys.readouterr().err.splitlines()]


@pytest.fixture
def logged(capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield Logged(capsys)
    root.handlers[:], level = saved
    root.setLevel(level)


@pytest.mark.parametrize("name", ["twilio.async_http_client", "twilio.http_client", "httpx",
                                  "httpx2", "httpcore2.connection", "aiohttp.access",
                                  "psycopg.pool"])
def test_a_per_request_info_line_of_an_http_client_or_sdk_is_not_logged(logged, name):
    logged.start()
    logging.getLogger(name).info("-- BEGIN Twilio API Request -- To=+15005550001")
    logging.getLogger(name).warning("the provider failed")
    assert [entry["msg"] for entry in logged.lines()] == ["the provider failed"]


def test_callwatch_info_lines_are_logged_as_json(logged):
    logged.start()
    logging.getLogger("callwatch.receiver").info("incident opened", extra={"incident": "i1"})
    [entry] = logged.lines()
    assert (entry["msg"], entry["incident"]) == ("incident opened", "i1")
