"""What the call callbacks use to talk back: Telnyx Call Control commands on a two-way call,
and the providers' signature checks built from the configuration.

A command that fails is logged and given up (the call then ends without the words it was
meant to carry); the page itself is settled by the provider's report either way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import telnyx

from callwatch.signatures import (
    TelnyxVerifier,
    TwilioVerifier,
    load_telnyx_public_key,
)
from receiver.config import VoiceSettings

log = logging.getLogger("callwatch.receiver.voice")
VOICE = {"voice": "female", "language": "en-US"}


class TelnyxCommands:
    """``gather_using_speak``, ``speak`` and ``hangup`` on a call; a text message back."""

    def __init__(self, api_key: str, base_url: str, timeout: float = 10.0) -> None:
        self._client = telnyx.AsyncTelnyx(api_key=api_key, base_url=base_url, timeout=timeout,
                                          max_retries=1)

    async def gather(self, call_id: str, text: str, client_state: str) -> None:
        """Say ``text`` and listen for one key."""
        await self._run("gather", self._client.calls.actions.gather_using_speak(
            call_id, payload=text, valid_digits="0123456789*#", minimum_digits=1,
            maximum_digits=1, timeout_millis=8000, client_state=client_state, **VOICE))

    async def speak(self, call_id: str, text: str, client_state: str) -> None:
        await self._run("speak", self._client.calls.actions.speak(
            call_id, payload=text, client_state=client_state, **VOICE))

    async def hangup(self, call_id: str) -> None:
        await self._run("hangup", self._client.calls.actions.hangup(call_id))

    async def text(self, to: str, from_number: str, body: str) -> None:
        """Answer a text message (Telnyx has no reply-in-response like Twilio's TwiML)."""
        await self._run("text", self._client.messages.send(to=to, from_=from_number, text=body))

    async def _run(self, command: str, request) -> None:
        try:
            await request
        except telnyx.TelnyxError as exc:
            log.warning("Telnyx call command failed",
                        extra={"command": command, "error": type(exc).__name__})

    async def close(self) -> None:
        await self._client.close()


class Voice:
    """The verifiers and command client the call callbacks need; a part that is not
    configured is None (its callbacks answer 503 not_configured)."""

    def __init__(self, settings: VoiceSettings, clock: Callable[[], float] = time.time) -> None:
        self.twilio = (TwilioVerifier(settings.twilio_auth_token)
                       if settings.twilio_auth_token else None)
        self.telnyx = (TelnyxVerifier(load_telnyx_public_key(settings.telnyx_public_key), clock)
                       if settings.telnyx_public_key else None)
        self.commands = (TelnyxCommands(settings.telnyx_api_key, settings.telnyx_base_url)
                         if settings.telnyx_api_key else None)

    async def close(self) -> None:
        if self.commands is not None:
            await self.commands.close()
