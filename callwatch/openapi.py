"""The API's contract, ``callwatch/openapi.yaml`` (OpenAPI 3.1; ``docs/openapi.yaml`` links to
it), served as ``GET /openapi.json``.

The document lists every operation of ``callwatch run``; each process serves it narrowed to
the operations its app mounts (``callwatch exporter`` the exporter's, ``callwatch receiver``
the receiver's, each with the shell's), encoded once. The file is package data (a plain
install and the image serve it) and is read once per process.

``operations`` lists an app's routes and ``documented`` a document's operations, both as
(METHOD, path) pairs with aiohttp's path spelling (``/incidents/{incident_id}``), which is also
OpenAPI's: tests/test_openapi.py holds the two equal for ``callwatch run``.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib.resources import files
from typing import Any

import yaml
from aiohttp import hdrs, web

PATH = "/openapi.json"
CONSOLE = "/ui/"        # the incident console (receiver/http/ui, docs/console.md)
METHODS = ("get", "put", "post", "delete", "patch", "options", "trace")


@functools.cache
def spec() -> dict[str, Any]:
    """The whole document (do not change it: it is shared)."""
    return yaml.safe_load((files("callwatch") / "openapi.yaml").read_text(encoding="utf-8"))


def operations(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path) of every route ``app`` mounts; HEAD, which aiohttp adds beside each
    GET, left out, and so are the incident console's pages (``CONSOLE``): HTML for browsers
    signed in with a session cookie, not the API."""
    found = set()
    for route in app.router.routes():
        if route.method not in (hdrs.METH_HEAD, hdrs.METH_ANY) and route.resource is not None \
                and not route.resource.canonical.startswith(CONSOLE):
            found.add((route.method, route.resource.canonical))
    return found


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation in ``document``."""
    return {(method.upper(), path) for path, item in document["paths"].items()
            for method in item if method in METHODS}


def narrowed(document: dict[str, Any], keep: set[tuple[str, str]]) -> dict[str, Any]:
    """``document`` with only the operations in ``keep`` (and paths left with none dropped)."""
    result = copy.deepcopy(document)
    paths = {}
    for path, item in result["paths"].items():
        kept = {key: value for key, value in item.items()
                if key not in METHODS or (key.upper(), path) in keep}
        if any(key in METHODS for key in kept):
            paths[path] = kept
    result["paths"] = paths
    return result


def add_route(app: web.Application) -> None:
    """Serve ``GET /openapi.json`` on ``app``: the document narrowed to what it mounts."""
    app.router.add_get(PATH, _serve)


@functools.lru_cache(maxsize=8)  # one entry per distinct set of routes: a process has one
def _encoded(keep: frozenset[tuple[str, str]]) -> bytes:
    return json.dumps(narrowed(spec(), set(keep))).encode()


async def _serve(request: web.Request) -> web.Response:
    return web.Response(body=_encoded(frozenset(operations(request.app))),
                        content_type="application/json")
