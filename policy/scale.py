"""A policy with every duration divided by a factor: demos and end-to-end tests run a minute
of policy time per second (``factor=60``) so escalation and SLA clocks are watchable."""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from typing import Any

from policy.model import Policy


def scale_policy(policy: Policy, factor: float) -> Policy:
    """``policy`` with every ``*_seconds`` value (nested, in mappings too) divided by ``factor``.

    Timeouts are the exception: a network round trip takes as long as it takes, whatever the
    policy's clock says.
    """
    if factor <= 0:
        raise ValueError(f"time scale must be above 0, got {factor:g}")
    if factor == 1:
        return policy
    return _scale(policy, factor)


def _scale(value: Any, factor: float, name: str = "") -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _scale(getattr(value, f.name), factor, f.name) for f in fields(value)}
        return replace(value, **changes)
    if isinstance(value, dict):
        # a mapping of durations (``poll_intervals``) scales its values like *_seconds fields
        inherit = name.endswith(("_seconds", "_intervals"))
        return {key: _scale(item, factor, "x_seconds" if inherit else str(key))
                for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_scale(item, factor, name) for item in value)
    if (isinstance(value, (int, float)) and not isinstance(value, bool)
            and name.endswith("_seconds") and "timeout" not in name):
        return value / factor
    return value
