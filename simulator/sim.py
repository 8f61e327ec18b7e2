"""``Simulator``: every stand-in started together on 127.0.0.1 ephemeral ports.

    async with Simulator(target_base_url="http://127.0.0.1:9120", rate=20) as sim:
        os.environ.update(sim.env())
        sim.set_scenario("high-drop-rate")
        ...
        sim.requests("pagerduty"); sim.messages(); sim.notifications()
        sim.phone_behaviour("+15550001", "answer", digits="1")
        ...; await sim.calls_settled(); sim.phone_calls()
        await sim.slack_click("callwatch_ack", url=receiver + "/slack/interactions")
        sim.sms_messages("twilio"); await sim.sms_reply("twilio", "+15550001", "1", url=...)

One aiohttp server carries Twilio, Telnyx, Statuspage, Slack, the app and the control API
(``sim.url``); PagerDuty runs on its own TLS server (``sim.pagerduty_url``, trusted through
``sim.pagerduty_ca_file``); the SMTP sink on ``sim.smtp_port``. When webhook targets are given,
the traffic generator runs in the background at ``rate`` calls per second. Calls the receiver
places with a callback are played out by ``sim.voice`` (``simulator.voice``). Button clicks
(``sim.clicks``, ``simulator.slack_clicks``) and SMS replies (``sim.sms``, ``simulator.sms``)
are sent, signed, when a test asks. Credentials are fresh random values per run unless passed
in.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import shutil
import ssl
import tempfile
import time

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simulator import pagerduty
from simulator.app import create_app
from simulator.appsite import AppStats
from simulator.control import Control
from simulator.core import Faults, Recorder
from simulator.oob import OobPager
from simulator.runner import serve
from simulator.scenarios import Scenario
from simulator.slack import SlackState
from simulator.slack_clicks import Click, SlackClicks, SlackResponse
from simulator.sms import SentSms, Sms, SmsReply
from simulator.smtp import Mail, SmtpSink
from simulator.state import Clock, SimState
from simulator.tls import Certificate, make_certificate
from simulator.traffic import TrafficConfig, TrafficGenerator
from simulator.voice import Behaviour, PlayedCall, Voice
from simulator.webhooks import public_key_b64

WEBHOOK_PATHS = {"twilio": "/telephony/webhooks/twilio", "telnyx": "/telephony/webhooks/telnyx"}


class Simulator:
    """All stand-ins; an async context manager. Attributes are valid inside the ``async with``."""

    def __init__(self, *, scenario: str = "normal", target_base_url: str | None = None,
                 twilio_webhook_url: str | None = None, telnyx_webhook_url: str | None = None,
                 rate: float = 5.0, hold_seconds: float = 3.0, progress_events: bool = True,
                 traffic: bool = True, answer_placed_calls: bool = False, seed: int = 1,
                 clock: Clock = time.time,
                 twilio_auth_token: str | None = None, telnyx_key: Ed25519PrivateKey | None = None,
                 smtp_username: str | None = None, smtp_password: str | None = None,
                 slack_signing_secret: str | None = None, host: str = "127.0.0.1") -> None:
        if target_base_url:
            base = target_base_url.rstrip("/")
            twilio_webhook_url = twilio_webhook_url or base + WEBHOOK_PATHS["twilio"]
            telnyx_webhook_url = telnyx_webhook_url or base + WEBHOOK_PATHS["telnyx"]
        self.host = host
        self.traffic_config = TrafficConfig(twilio_webhook_url, telnyx_webhook_url, rate,
                                            hold_seconds, progress_events,
                                            answer_placed_calls=answer_placed_calls)
        self._run_traffic = traffic and bool(twilio_webhook_url or telnyx_webhook_url)
        self._initial_scenario = scenario
        self._seed = seed
        self.telnyx_key = telnyx_key or Ed25519PrivateKey.generate()
        self.state = SimState(
            clock=clock, rng=random.Random(seed),
            twilio_account_sid="AC" + secrets.token_hex(16),
            twilio_auth_token=twilio_auth_token or secrets.token_hex(16),
            telnyx_api_key="KEY" + secrets.token_hex(24),
            slack_token="xoxb-sim-" + secrets.token_hex(12),
            statuspage_api_key="sim-statuspage-" + secrets.token_hex(12),
            slack_signing_secret=slack_signing_secret or secrets.token_hex(16),
            pagerduty_routing_key=secrets.token_hex(16))
        self.recorder = Recorder(clock)
        self.faults = Faults(rng=random.Random(seed + 1))
        self.slack = SlackState()
        self.pagerduty = pagerduty.PagerDutyState()
        self.app_stats = AppStats()
        self.smtp = SmtpSink(self.recorder, self.faults, smtp_username, smtp_password)
        self.voice = Voice(self.state, self.telnyx_key)
        self.clicks = SlackClicks(self.state, self.slack)
        self.sms = Sms(self.state, self.telnyx_key)
        self.oob = OobPager()
        self.control = Control(self.state, self.recorder, self.faults, self.slack,
                               self.pagerduty, self.app_stats, self.smtp, self.traffic_config,
                               voice=self.voice, clicks=self.clicks, sms=self.sms)
        self.generator = TrafficGenerator(self.state, lambda: self.control.scenario,
                                          self.traffic_config, self.telnyx_key,
                                          rng=random.Random(seed + 2), clock=clock)
        self.url = self.pagerduty_url = ""
        self.certificate: Certificate | None = None
        self._tmp: str | None = None
        self._runners: list[web.AppRunner] = []
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> Simulator:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def _start(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="callwatch-sim-")
        self.certificate = make_certificate(self._tmp)
        self.smtp.certificate = self.certificate  # STARTTLS offered, never required
        self.control.set_scenario(self._initial_scenario)
        app = create_app(self.state, self.recorder, self.faults, self.slack,
                         telnyx_public_key=self.telnyx_public_key, app_stats=self.app_stats,
                         control=self.control, voice=self.voice, clicks=self.clicks,
                         sms_state=self.sms, oob_pager=self.oob)
        runner, port = await serve(app, self.host)
        self._runners.append(runner)
        self.url = f"http://{self.host}:{port}"
        self.clicks.base_url = self.url  # response_urls point back here
        self.traffic_config.app_webhook_url = f"{self.url}/app/webhooks"
        pd_app = pagerduty.create_app(self.state, self.pagerduty, self.recorder, self.faults)
        runner, port = await serve(pd_app, self.host,
                                   ssl_context=self.certificate.server_context())
        self._runners.append(runner)
        self.pagerduty_url = f"https://{self.host}:{port}"
        await self.smtp.start(self.host)
        if self._run_traffic:
            self._task = asyncio.create_task(self.generator.run(), name="simulator-traffic")

    async def close(self) -> None:
        """Stop traffic, played calls, servers and the SMTP sink; remove the temporary
        directory."""
        await self.voice.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        await self.smtp.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # --- what tests and the demo read -------------------------------------------------------
    @property
    def pagerduty_ca_file(self) -> str:
        assert self.certificate is not None, "the simulator is not running"
        return self.certificate.cert_file

    def pagerduty_ssl_context(self) -> ssl.SSLContext:
        """An SSL context trusting the PagerDuty stand-in (for ``verify=``)."""
        return ssl.create_default_context(cafile=self.pagerduty_ca_file)

    @property
    def smtp_port(self) -> int:
        return self.smtp.port

    @property
    def twilio_account_sid(self) -> str:
        return self.state.twilio_account_sid

    @property
    def twilio_auth_token(self) -> str:
        return self.state.twilio_auth_token

    @property
    def telnyx_api_key(self) -> str:
        return self.state.telnyx_api_key

    @property
    def telnyx_public_key(self) -> str:
        """Base64 Ed25519 public key the Telnyx webhooks verify with (TELNYX_PUBLIC_KEY)."""
        return public_key_b64(self.telnyx_key)

    @property
    def slack_signing_secret(self) -> str:
        """The secret clicks are signed with (SLACK_SIGNING_SECRET)."""
        return self.state.slack_signing_secret

    @property
    def scenario(self) -> Scenario:
        return self.control.scenario

    def set_scenario(self, name: str) -> Scenario:
        """Switch scenario (ValueError naming the allowed ones when unknown)."""
        return self.control.set_scenario(name)

    def fail(self, service: str, status: int, count: int = 1, *,
             after_serving: bool = False) -> None:
        self.faults.fail(service, status, count, after_serving=after_serving)

    def requests(self, service: str | None = None) -> list:
        """Recorded requests (``Recorded``), oldest first; one service or all."""
        return self.recorder.requests(service)

    def messages(self) -> list[Mail]:
        """Mails the SMTP sink accepted."""
        return list(self.smtp.messages)

    def notifications(self) -> dict:
        return self.control.notifications()

    def phone_behaviour(self, number: str | None, behaviour: str, digits: str = "") -> Behaviour:
        """What the person at ``number`` (None or "*": every number without its own) does when
        a placed call rings: ``answer`` pressing ``digits`` (one per Gather round),
        ``no-answer``, ``busy``, ``failed``, ``canceled`` or ``machine``. ValueError
        (``BadBehaviour``) naming the problem otherwise."""
        return self.voice.phone_book.set(number, behaviour, digits)

    def phone_calls(self, provider: str | None = None) -> list[PlayedCall]:
        """The calls played so far (``simulator.voice.PlayedCall``), oldest first."""
        return self.voice.played(provider)

    async def calls_settled(self, timeout: float = 10.0) -> list[PlayedCall]:
        """Wait until every call played so far has finished; TimeoutError naming the others.
        A Telnyx call ends when ``call.hangup`` has been sent (the receiver hangs up)."""
        return await self.voice.settled(timeout)

    async def slack_click(self, action_id: str, *, url: str, value: str | None = None,
                          ts: str | None = None, channel: str | None = None,
                          user_id: str = "U0SIMUSER", user_name: str = "sim.user",
                          timestamp: int | None = None, secret: str | None = None
                          ) -> tuple[int, str]:
        """Click the button ``action_id`` on the message ``ts`` (in ``channel``), else on the
        most recent posted message that has it, and POST Slack's signed ``block_actions``
        payload to ``url``; the app's (status, body text). ``value`` defaults to the button's;
        ``timestamp`` and ``secret`` send a stale or forged click. ValueError
        (``NoSuchButton``) when no message has that button; ``outbound.Unreachable`` when
        ``url`` cannot be reached."""
        return await self.clicks.click(action_id, url=url, value=value, ts=ts, channel=channel,
                                       user_id=user_id, user_name=user_name,
                                       timestamp=timestamp, secret=secret)

    def slack_clicks(self) -> list[Click]:
        """The clicks sent so far, oldest first."""
        return list(self.clicks.clicks)

    def slack_responses(self) -> list[SlackResponse]:
        """What the app posted to the clicks' ``response_url``s, oldest first."""
        return list(self.clicks.responses)

    def sms_messages(self, provider: str | None = None) -> list[SentSms]:
        """SMS the app sent (through ``twilio``, ``telnyx`` or either), oldest first."""
        return self.sms.messages(provider)

    def sms_replies(self, provider: str | None = None) -> list[SmsReply]:
        """Inbound SMS delivered to the app so far, oldest first."""
        return self.sms.replied(provider)

    async def sms_reply(self, provider: str, from_: str, text: str, *, url: str,
                        to: str | None = None, timestamp: int | None = None,
                        secret_or_key=None) -> tuple[int, str]:
        """The person at ``from_`` texts ``text`` to ``to`` (default: the number that last
        texted them through ``provider``): ``provider`` delivers it to the app at ``url``,
        signed; the app's (status, body text). ``timestamp`` (Telnyx) sends a stale one;
        ``secret_or_key`` (a Twilio auth token / a Telnyx Ed25519PrivateKey) forges.
        ValueError (``BadSms``) naming the problem; ``outbound.Unreachable`` when ``url``
        cannot be reached."""
        return await self.sms.reply(provider, from_, text, url=url, to=to, timestamp=timestamp,
                                    secret_or_key=secret_or_key)

    def env(self) -> dict[str, str]:
        """The environment variables callwatch reads to use this simulator."""
        env = {
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "TWILIO_BASE_URL": self.url,
            "TELNYX_API_KEY": self.telnyx_api_key,
            "TELNYX_PUBLIC_KEY": self.telnyx_public_key,
            "TELNYX_BASE_URL": f"{self.url}/v2",
            "TELNYX_CONNECTION_ID": self.state.telnyx_connection_id,
            "PAGERDUTY_BASE_URL": self.pagerduty_url,
            "PAGERDUTY_ROUTING_KEY": self.state.pagerduty_routing_key,
            "PAGERDUTY_CA_FILE": self.pagerduty_ca_file,
            "SLACK_BASE_URL": f"{self.url}/api/",
            "SLACK_BOT_TOKEN": self.state.slack_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "STATUSPAGE_TWILIO_URL": f"{self.url}/twilio/api/v2/summary.json",
            "STATUSPAGE_TELNYX_URL": f"{self.url}/telnyx/api/v2/summary.json",
            "STATUSPAGE_API_URL": f"{self.url}/statuspage/v1",
            "STATUSPAGE_API_KEY": self.state.statuspage_api_key,
            "STATUSPAGE_PAGE_ID": self.state.statuspage_page_id,
            "SMTP_HOST": self.host,
            "SMTP_PORT": str(self.smtp_port),
            "APP_WEBHOOK_TWILIO_URL": f"{self.url}/app/webhooks/twilio",
            "APP_WEBHOOK_TELNYX_URL": f"{self.url}/app/webhooks/telnyx",
            "APP_API_URL": f"{self.url}/app/api/health",
            "SIMULATOR_CONTROL_URL": f"{self.url}/control",
            "SIMULATOR_OOB_URL": f"{self.url}/oob/alertmanager",
        }
        if self.smtp.username is not None:
            env["SMTP_USERNAME"] = self.smtp.username
            env["SMTP_PASSWORD"] = self.smtp.password or ""
        return env
