"""Secrets from the environment or a file, never from the policy, never into logs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


class SecretError(ValueError):
    """A secret was named but could not be read. The message never holds the secret."""


def read_secret(environ: Mapping[str, str], name: str) -> str | None:
    """``$NAME`` if set, else the stripped contents of the file named by ``$NAME_FILE``, else
    None."""
    value = environ.get(name)
    if value:
        return value
    file_name = environ.get(f"{name}_FILE")
    if not file_name:
        return None
    return read_secret_file(file_name, name)


def read_secret_file(path: str, what: str) -> str:
    """The stripped contents of ``path``; SecretError naming ``what`` and the path otherwise."""
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(f"cannot read {what} from file {path}: {exc.strerror}") from None
    if not value:
        raise SecretError(f"{what} file {path} is empty")
    return value


def redact(text: str, secrets: list[str | None]) -> str:
    """``text`` with every non-empty secret replaced by ``[redacted]``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text
