"""The incident console: server-rendered HTML at ``/ui/`` for the on-call engineer at 3 a.m.

Pages (``pages.py``, ``incident.py``): sign-in, the incident list (open first, filters,
refreshing itself), one incident (alerts, pages sent and their outcomes, the timeline, the
SLA countdown, Acknowledge / Resolve / Escalate now / Add note, the communications drafts and
the post-incident report), who is on call, and the response trends drawn as SVG
(``charts.py``). ``views.py`` shapes the store's records for the templates (``templates/``);
``static/`` holds the one stylesheet and the one small script (no build step, no library:
every page reads and every form works with JavaScript off).

Who may see it: the web shell's access check lets ``/ui/*`` through (``callwatch.access``,
``Exempt.CONSOLE``), and the console checks its own session cookie and CSRF tokens
(``session.py``, ``page.py``). Every action goes through the services the JSON API, the
phone and Slack use (``receiver.services.people``). docs/console.md is the user's guide.
"""
