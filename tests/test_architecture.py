"""What the import contracts in pyproject.toml cannot say: ``receiver.services`` never
imports aiohttp's web (server) module. Its HTTP client (``aiohttp.ClientSession``) is fine.

(import-linter sees only the top-level name of an outside package, ``aiohttp``.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parent.parent / "receiver" / "services"


def web_imports(source: str) -> list[str]:
    """Every import of aiohttp.web (or a web_* submodule) in ``source``, as written."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("aiohttp.web")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiohttp"):
            if (node.module or "").startswith("aiohttp.web"):
                found.append(node.module or "")
            found += [f"aiohttp.{a.name}" for a in node.names
                      if node.module == "aiohttp" and a.name.startswith("web")]
    return found


@pytest.mark.parametrize("source, expected", [
    ("import aiohttp\nsession = aiohttp.ClientSession", []),
    ("from aiohttp import web", ["aiohttp.web"]),
    ("def f():\n    from aiohttp.web import Request", ["aiohttp.web"]),
    ("import aiohttp.web_request", ["aiohttp.web_request"]),
])
def test_the_check_finds_web_imports_however_they_are_written(source, expected):
    assert web_imports(source) == expected


@pytest.mark.parametrize("path", sorted(SERVICES.glob("*.py")), ids=lambda p: p.name)
def test_a_service_module_never_imports_aiohttp_web(path):
    assert web_imports(path.read_text(encoding="utf-8")) == []
