"""Options several commands share: ``--policy`` and ``--listen``, the same everywhere."""

from __future__ import annotations

import argparse
import os

from policy import Policy, load_policy, policy_path


def add_policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", metavar="PATH",
                        help="policy file (default: $CALLWATCH_POLICY, else deploy/policy.yaml)")


def add_listen_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--listen", metavar="HOST:PORT", default=default,
                        help=f"address to listen on (default {default})")


def load_policy_from_args(args: argparse.Namespace) -> Policy:
    return load_policy(policy_path(args.policy, os.environ))


def parse_listen(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (or ``"[::1]:PORT"``) as a pair; ValueError with the text otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen must be HOST:PORT, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)
