"""The notifier set: one ``Notifier`` per policy channel, from the configured factory.

``load_notifier_set(factory, policy, environ)`` imports ``module:function`` and calls it. It
never raises: a factory that cannot be imported, has no such function, raises, or returns
something else leaves an empty set whose ``problem`` says why, and the receiver's ``/readyz``
reports it (pages wait in the outbox until a fixed receiver starts).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from callwatch.logs import scrub
from policy import Policy
from receiver.notify.base import Notifier
from receiver.notify.common import UnconfiguredNotifier

log = logging.getLogger("callwatch.receiver")


@dataclass
class NotifierSet:
    notifiers: Mapping[str, Notifier] = field(default_factory=dict)
    problem: str | None = None   # why the set could not be built; None when it was
    owned: bool = True           # built here, so closed here at shutdown

    def readiness(self, policy: Policy) -> tuple[bool, str]:
        """(ready, detail): ready when the set was built with a notifier for every channel.
        A channel whose secret is missing has a notifier that fails every send (and falls
        back): it is named in the detail without making the receiver unready."""
        if self.problem is not None:
            return False, self.problem
        missing = [name for name in policy.channels if name not in self.notifiers]
        if missing:
            return False, f"no notifier for channel(s): {', '.join(missing)}"
        unconfigured = [name for name, notifier in self.notifiers.items()
                        if isinstance(notifier, UnconfiguredNotifier)]
        detail = f"{len(self.notifiers)} channel(s)"
        return True, detail + (f"; not configured: {', '.join(unconfigured)}"
                               if unconfigured else "")

    async def close(self) -> None:
        if not self.owned:
            return
        for notifier in self.notifiers.values():
            with contextlib.suppress(Exception):
                await notifier.close()


def load_notifier_set(factory: str, policy: Policy, environ: Mapping[str, str]) -> NotifierSet:
    """The set built by ``module:function(policy, environ)`` (see the module docstring)."""
    module_name, _, function = factory.partition(":")
    try:
        build = getattr(importlib.import_module(module_name), function or "build_notifiers")
        notifiers = build(policy, environ)
    except Exception as exc:  # noqa: BLE001 - any failure: not ready, and the reason
        problem = f"notifier factory {factory!r} failed: {type(exc).__name__}: {scrub(str(exc))}"
        log.error("no notifiers; pages stay queued", extra={"problem": problem})
        return NotifierSet(problem=problem[:300])
    if not isinstance(notifiers, Mapping):
        problem = f"notifier factory {factory!r} returned {type(notifiers).__name__}, not a mapping"
        log.error("no notifiers; pages stay queued", extra={"problem": problem})
        return NotifierSet(problem=problem)
    return NotifierSet(dict(notifiers))
