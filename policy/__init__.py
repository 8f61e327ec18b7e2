"""The policy: the runbook's tables as data, loaded strictly. No I/O beyond reading the file.

>>> policy = load_policy("deploy/policy.yaml")
>>> policy.thresholds["call_drop_rate"].critical
0.05
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from policy.errors import PolicyError
from policy.model import Policy
from policy.reader import Node
from policy.source import read_document
from policy.spec import read_policy

DEFAULT_POLICY_PATH = "deploy/policy.yaml"

__all__ = ["DEFAULT_POLICY_PATH", "Policy", "PolicyError", "load_policy", "parse_policy",
           "policy_path"]


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """The policy in ``text``; raises PolicyError (one line: file, line, key path, problem)."""
    document = read_document(text, source)
    return replace(read_policy(Node(source, document.root, "", 1)), text=text)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and check the policy file at ``path``."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(source, None, "", f"cannot read policy file: {exc.strerror}") from None
    return parse_policy(text, source)


def policy_path(flag: str | None, environ: dict[str, str] | os._Environ[str]) -> str:
    """``--policy`` if given, else ``CALLWATCH_POLICY``, else deploy/policy.yaml."""
    return flag or environ.get("CALLWATCH_POLICY") or DEFAULT_POLICY_PATH
