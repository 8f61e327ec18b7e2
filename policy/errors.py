"""The one error type the policy package raises."""

from __future__ import annotations


class PolicyError(ValueError):
    """An invalid policy: names the file, the line, the key path and the problem.

    ``str(error)`` is one line, e.g. ``deploy/policy.yaml:23:
    thresholds.call_drop_rate.warning: must be below critical (0.05), got 0.07``.
    """

    def __init__(self, source: str, line: int | None, path: str, problem: str) -> None:
        self.source = source
        self.line = line
        self.path = path
        self.problem = problem
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {path}: {problem}" if path else f"{where}: {problem}")
