"""The one aiohttp app serving every HTTP stand-in whose paths do not collide.

Twilio (``/2010-04-01/…``, ``/v1/…``), Telnyx (``/v2/…``), Statuspage (``/twilio/api/v2/…``,
``/telnyx/api/v2/…``), Slack (``/api/…``, ``/slack/response/…``), the customer app (``/app/…``)
and the control API (``/control/…``). PagerDuty has its own TLS server (``pagerduty.py``); SMTP
its own (``smtp.py``).
"""

from __future__ import annotations

from aiohttp import web

from simulator import (
    appsite,
    control_messages,
    oob,
    slack,
    slack_clicks,
    sms,
    statuspage,
    statuspage_manage,
    telnyx,
    twilio,
)
from simulator import control as control_api
from simulator.core import MAX_BODY, Faults, Recorder, json_errors, middleware
from simulator.state import SimState
from simulator.voice import Voice

STATE = web.AppKey("sim_state", SimState)
RECORDER = web.AppKey("sim_recorder", Recorder)
FAULTS = web.AppKey("sim_faults", Faults)


def create_app(state: SimState, recorder: Recorder, faults: Faults,
               slack_state: slack.SlackState | None = None, *,
               telnyx_public_key: str | None = None, app_stats: appsite.AppStats | None = None,
               control: control_api.Control | None = None,
               voice: Voice | None = None, clicks: slack_clicks.SlackClicks | None = None,
               sms_state: sms.Sms | None = None,
               oob_pager: oob.OobPager | None = None) -> web.Application:
    """The shared simulator app over ``state``; every request recorded, faults applied.

    The app stand-in is mounted when ``telnyx_public_key`` is given (it verifies Telnyx
    signatures with it), the control API when ``control`` is. With ``voice``, created calls
    that name a callback are played out; without, they are only recorded. ``clicks`` mounts
    the click ``response_url``s, ``sms_state`` the SMS send paths of both providers,
    ``oob_pager`` the out-of-band pager Alertmanager can reach around callwatch.
    """
    app = web.Application(middlewares=[json_errors, middleware(recorder, faults)],
                          client_max_size=MAX_BODY)
    app[STATE], app[RECORDER], app[FAULTS] = state, recorder, faults
    twilio.add_routes(app, state, voice)
    telnyx.add_routes(app, state, voice)
    statuspage.add_routes(app, state)
    statuspage_manage.add_routes(app, state)
    slack.add_routes(app, state, slack_state if slack_state is not None else slack.SlackState())
    if clicks is not None:
        slack_clicks.add_routes(app, clicks)
    if sms_state is not None:
        sms.add_routes(app, state, sms_state)
    if oob_pager is not None:
        oob.add_routes(app, oob_pager)
    if telnyx_public_key is not None:
        appsite.add_routes(app, state, telnyx_public_key, app_stats or appsite.AppStats())
    if control is not None:
        control_api.add_routes(app, control)
        control_messages.add_routes(app, control)
    return app
