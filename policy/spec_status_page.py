"""``policy/v1``'s optional ``status_page`` section: where the customer notice is published.

.. code-block:: yaml

    status_page:
      provider: statuspage            # Atlassian Statuspage, the only one
      page_id: abc123xyz
      api_key_file: /run/secrets/statuspage_api_key   # or api_key_env: STATUSPAGE_API_KEY
      components: {twilio: cmp_twilio_id}
      publish: auto                   # manual (default): a person publishes; auto: P0/P1 opening

Exactly one of ``api_key_env`` / ``api_key_file``; ``components`` names only providers the
policy lists, each with a non-empty component id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from policy.model import StatusPage
from policy.reader import Node

PROVIDERS = ("statuspage",)
CHANNEL = "status_page"   # the outbox channel its rows go on: no policy channel may take it
PUBLISH = ("manual", "auto")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_status_page(node: Node, providers: tuple[str, ...],
                     channels: Mapping[str, object]) -> StatusPage | None:
    """The section's model, None when it is absent; PolicyError at the first problem."""
    if node.value is None:
        return None
    if CHANNEL in channels:
        raise node.error(f"its notices go out as channel {CHANNEL!r}: rename the policy's "
                         f"channel of that name")
    if isinstance(node.value, dict) and "api_key" in node.value:
        raise node.child("api_key").error(
            "secrets are never written in the policy: name an environment variable "
            "(api_key_env) or a file (api_key_file) instead")
    node.mapping(("provider", "page_id", "components"),
                 ("api_key_env", "api_key_file", "publish"))
    env = node.child("api_key_env").string() if node.has("api_key_env") else None
    path = node.child("api_key_file").string() if node.has("api_key_file") else None
    if (env is None) == (path is None):
        raise node.error("needs exactly one of api_key_env (a variable name) or api_key_file "
                         "(a path): the API key is never written in the policy")
    if env is not None and not _ENV_NAME.match(env):
        raise node.child("api_key_env").error(
            f"must be an environment variable name, got {env!r}")
    components_node = node.child("components")
    if not isinstance(components_node.value, dict) or not components_node.value:
        raise components_node.error("must map at least one provider to a component id")
    components_node.mapping((), providers)
    components = {key: child.string() for key, child in components_node.items()}
    publish = node.child("publish").choice(PUBLISH, "publish mode") \
        if node.has("publish") else "manual"
    return StatusPage(provider=node.child("provider").choice(PROVIDERS, "status page provider"),
                      page_id=node.child("page_id").string(), components=components,
                      publish=publish, api_key_env=env, api_key_file=path)
