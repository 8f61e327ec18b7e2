"""The receiver's runtime state (the HTTP layer keeps it on the app under ``RECEIVER``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from policy import Policy
from receiver.config import Credentials, ReceiverConfig
from receiver.services.metrics import ReceiverMetrics
from receiver.store.base import Store, StoreError


class StoreNotOpen(StoreError):
    """The store is not open yet (start-up) or no longer (shutdown): try again."""


@dataclass
class ReceiverState:
    config: ReceiverConfig
    credentials: Credentials
    policy: Policy
    metrics: ReceiverMetrics
    clock: Callable[[], float] = time.time
    store: Store | None = None
    dispatcher: object | None = None          # receiver.services.dispatcher.Dispatcher once started
    on_commit: list[Callable[[], None]] = field(default_factory=list)

    def opened_store(self) -> Store:
        """The store; StoreNotOpen before start-up opened it or after shutdown closed it."""
        if self.store is None:
            raise StoreNotOpen("the store is not open yet; retry")
        return self.store

    def committed(self) -> None:
        """Tell the dispatcher (and anyone else listening) that new rows are waiting."""
        for callback in self.on_commit:
            callback()

