"""``policy/v1``'s optional ``remediation`` section: actions callwatch may take on an incident.

.. code-block:: yaml

    remediation:
      failover:
        webhook: https://calls.example.com/callwatch/failover   # the team's own endpoint
        secret_env: CALLWATCH_FAILOVER_SECRET   # or secret_file: /run/secrets/failover_secret
        requires_approval: true                 # a second person approves (default true)

``webhook`` is an http(s) URL; exactly one of ``secret_env`` / ``secret_file`` (the HMAC key
the body is signed with); the secret itself is never written in the policy.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from policy.model import Failover, Remediation
from policy.reader import Node

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_remediation(node: Node) -> Remediation:
    """The section's model (empty when absent); PolicyError at the first problem."""
    if node.value is None:
        return Remediation()
    node.mapping((), ("failover",))
    failover = node.child("failover")
    return Remediation(failover=None if failover.value is None else read_failover(failover))


def read_failover(node: Node) -> Failover:
    """``remediation.failover`` (module docstring); PolicyError at the first problem."""
    if isinstance(node.value, dict) and "secret" in node.value:
        raise node.child("secret").error(
            "secrets are never written in the policy: name an environment variable "
            "(secret_env) or a file (secret_file) instead")
    node.mapping(("webhook",), ("secret_env", "secret_file", "requires_approval"))
    webhook = node.child("webhook").string()
    parts = urlsplit(webhook)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise node.child("webhook").error(f"must be an http(s) URL, got {webhook[:80]!r}")
    env = node.child("secret_env").string() if node.has("secret_env") else None
    path = node.child("secret_file").string() if node.has("secret_file") else None
    if (env is None) == (path is None):
        raise node.error("needs exactly one of secret_env (a variable name) or secret_file "
                         "(a path): the webhook secret is never written in the policy")
    if env is not None and not _ENV_NAME.match(env):
        raise node.child("secret_env").error(
            f"must be an environment variable name, got {env!r}")
    approval = node.child("requires_approval").boolean() \
        if node.has("requires_approval") else True
    return Failover(webhook=webhook, requires_approval=approval, secret_env=env,
                    secret_file=path)
