"""``callwatch run`` (exporter and receiver on one port), ``exporter`` and ``receiver`` alone.

Each component is a ``setup(app, environ)`` function that adds its routes, resources
(``cleanup_ctx``) and readiness checks to the shell from ``callwatch.web.create_app``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from aiohttp import web

from callwatch.commands.common import (
    add_listen_option,
    add_policy_option,
    load_policy_from_args,
    parse_listen,
)
from callwatch.logs import setup_logging
from callwatch.web import create_app
from policy import PolicyError
from policy.scale import scale_policy
from policy.schedule_checks import schedule_warnings

# component -> "module:function"; the function is setup(app, environ) -> None
COMPONENTS: dict[str, str] = {
    "exporter": "exporter.app:setup_exporter",
    "receiver": "receiver.app:setup_receiver",
}
DEFAULT_LISTEN = {"run": "127.0.0.1:9120", "exporter": "127.0.0.1:9120",
                  "receiver": "127.0.0.1:9121"}

SWITCH_INTERVAL = 0.0005
log = logging.getLogger("callwatch")


def configure(parser: argparse.ArgumentParser) -> None:
    command = parser.get_default("_command")
    add_policy_option(parser)
    add_listen_option(parser, DEFAULT_LISTEN.get(command, "127.0.0.1:9120"))
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"))


def components_for(command: str) -> list[str]:
    return list(COMPONENTS) if command == "run" else [command]


def load_setup(component: str) -> Callable[[web.Application, Mapping[str, str]], None] | None:
    """The component's setup function, or None while that component is not installed."""
    module_name, function = COMPONENTS[component].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    return getattr(module, function)


def time_scale(environ: Mapping[str, str]) -> float:
    """``CALLWATCH_TIME_SCALE`` (demos, end-to-end tests): policy durations divided by it."""
    text = environ.get("CALLWATCH_TIME_SCALE", "1")
    try:
        factor = float(text)
    except ValueError:
        factor = 0
    if factor <= 0:
        raise ValueError(f"CALLWATCH_TIME_SCALE must be a number above 0, got {text!r}")
    return factor


def build_app(args: argparse.Namespace, environ: Mapping[str, str]) -> web.Application:
    """The app for ``args._command`` with every available component mounted."""
    policy = load_policy_from_args(args)
    for warning in (*policy.warnings, *schedule_warnings(policy, datetime.now(UTC))):
        log.warning("policy: %s", warning)
    app = create_app(scale_policy(policy, time_scale(environ)))
    for component in components_for(args._command):
        setup = load_setup(component)
        if setup is None:
            log.warning("component not available", extra={"component": component})
            continue
        setup(app, environ)
    return app


def main(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        print(f"callwatch {args._command}: {exc}", file=sys.stderr)
        return 2
    try:
        app = build_app(args, os.environ)
    except PolicyError:
        raise  # reported by callwatch.cli as one line
    except ValueError as exc:  # configuration from the environment
        print(f"callwatch {args._command}: {exc}", file=sys.stderr)
        return 2
    # The receiver's SQLite thread and the event loop hand the GIL back and forth once per
    # statement; the default 5 ms switch interval turns that into a convoy (bench_receiver.py:
    # about 1.7x the throughput at 0.5 ms). Threads here are few, so the finer slicing is cheap.
    sys.setswitchinterval(SWITCH_INTERVAL)
    log.info("listening", extra={"command": args._command, "listen": args.listen})
    web.run_app(app, host=host, port=port, print=None, access_log=None)
    return 0
