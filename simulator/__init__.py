"""Protocol-level stand-ins for Twilio, Telnyx, Statuspage, PagerDuty, Slack, SMTP and the
customer's app, with scenario control and a signed-webhook traffic generator.

Tests and ``callwatch demo`` use it; production code never imports it. Start everything with
``async with Simulator(...) as sim`` (see ``simulator.sim``) or ``python -m simulator``.
"""

from simulator.scenarios import SCENARIOS, ProviderKnobs, Scenario, get_scenario
from simulator.sim import Simulator

__all__ = ["SCENARIOS", "ProviderKnobs", "Scenario", "Simulator", "get_scenario"]
