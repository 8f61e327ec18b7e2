"""The receiver's runtime state, kept on the app under ``RECEIVER`` (a typed AppKey)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from aiohttp import web

from policy import Policy
from receiver.http.auth import Credentials
from receiver.config import ReceiverConfig
from receiver.services.metrics import ReceiverMetrics
from receiver.store.base import Store


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

    def committed(self) -> None:
        """Tell the dispatcher (and anyone else listening) that new rows are waiting."""
        for callback in self.on_commit:
            callback()


RECEIVER = web.AppKey("receiver", ReceiverState)
