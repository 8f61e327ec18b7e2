"""Messages people read, from Jinja2 templates: every page, the notices, vendor email, report.

Templates live in ``receiver/domain/templates/`` and each can be replaced by a file named in the
policy (``templates: {vendor_email: /etc/callwatch/vendor_email.txt.j2}``). They render in a
sandbox (a template cannot reach Python internals) with undefined names as errors, and HTML
templates (names ending ``_html``) autoescape everything they insert. Each template is read
once: a changed override takes effect when the receiver restarts. Besides Jinja2's own
filters (``tojson`` among them) and the ``do`` statement, templates have ``slack_escape`` (Slack
mrkdwn's ``&``, ``<`` and ``>``) and ``slack_mention`` (a user id ``U…``/``W…`` as ``<@U…>``, a
user group ``S…`` as ``<!subteam^S…>``, anything else escaped: it notifies nobody).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from policy.catalog import TEMPLATE_NAMES

BUILTIN_DIR = Path(__file__).parent / "templates"
TEMPLATES: dict[str, str] = {
    "page_text": "page_text.txt.j2",
    "page_html": "page.html.j2",
    "slack_blocks": "slack_blocks.json.j2",
    "slack_settled": "slack_settled.json.j2",
    "sms": "sms.txt.j2",
    "internal_notice": "internal_notice.txt.j2",
    "internal_notice_html": "internal_notice.html.j2",
    "customer_notice": "customer_notice.txt.j2",
    "vendor_email": "vendor_email.txt.j2",
    "voice_script": "voice_script.txt.j2",
    "digest": "digest.txt.j2",
    "digest_html": "digest.html.j2",
    "post_incident_report": "post_incident_report.md.j2",
}
assert tuple(TEMPLATES) == TEMPLATE_NAMES, "policy.catalog.TEMPLATE_NAMES and TEMPLATES disagree"
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_GROUP = re.compile(r"^S[A-Z0-9]{2,}$")


class TemplateError(ValueError):
    """A template that cannot be loaded or rendered; the message names it."""


class _Loader(BaseLoader):
    """Loads a template by its name in TEMPLATES: the policy's override file, else the built-in."""

    def __init__(self, overrides: Mapping[str, str]) -> None:
        self.overrides = dict(overrides)

    def get_source(self, environment, template):
        if template not in TEMPLATES:
            raise TemplateNotFound(template)
        path = Path(self.overrides.get(template) or BUILTIN_DIR / TEMPLATES[template])
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TemplateError(
                f"template {template}: cannot read {path}: {exc.strerror}") from None
        return source, str(path), lambda: True   # read once (see auto_reload below)


def _autoescape(name: str | None) -> bool:
    return bool(name) and name.endswith("_html")


class Communications:
    """Renders the named templates with a context; one instance per loaded policy."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        for name in overrides or {}:
            if name not in TEMPLATES:
                raise TemplateError(f"unknown template {name!r}; known: {', '.join(TEMPLATES)}")
        self._env = SandboxedEnvironment(
            loader=_Loader(overrides or {}), autoescape=_autoescape, undefined=StrictUndefined,
            keep_trailing_newline=True, trim_blocks=False, lstrip_blocks=False,
            extensions=["jinja2.ext.do"], auto_reload=False)   # one stat per render otherwise
        self._env.filters.update(slack_escape=slack_escape, slack_mention=slack_mention)
        self._overridden = frozenset(name for name, path in (overrides or {}).items() if path)

    def overridden(self, name: str) -> bool:
        """Whether the policy replaces template ``name``."""
        return name in self._overridden

    def check(self) -> None:
        """Load and compile every template now, so a broken override fails at start-up."""
        for name in TEMPLATES:
            try:
                self._env.get_template(name)
            except TemplateSyntaxError as exc:
                raise TemplateError(f"template {name}: line {exc.lineno}: {exc.message}") from None

    def render(self, name: str, **context: Any) -> str:
        try:
            return self._env.get_template(name).render(**context)
        except TemplateError:
            raise
        except TemplateNotFound:
            raise TemplateError(f"unknown template {name!r}") from None
        except Exception as exc:  # noqa: BLE001 - jinja raises many kinds; name the template
            raise TemplateError(f"template {name}: {type(exc).__name__}: {exc}") from None


def slack_escape(text: object) -> str:
    """Slack mrkdwn's control characters (&, <, >) escaped as Slack documents."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_mention(recipient: object) -> str:
    """A Slack recipient as a mention that notifies: ``<@U…>`` or ``<!subteam^S…>``."""
    value = str(recipient)
    if _SLACK_USER.match(value):
        return f"<@{value}>"
    if _SLACK_GROUP.match(value):
        return f"<!subteam^{value}>"
    return slack_escape(value)
