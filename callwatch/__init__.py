"""callwatch: the command line and the web application shell shared by exporter and receiver."""

from __future__ import annotations


def version() -> str:
    """The installed ``callwatch`` distribution's version (pyproject.toml's, the one source),
    or ``unknown`` when the code runs from a tree that was never installed."""
    from importlib import metadata  # here: about 30 ms to import, and most commands never ask

    try:
        return metadata.version("callwatch")
    except metadata.PackageNotFoundError:
        return "unknown"


def __getattr__(name: str) -> str:
    # ``callwatch.__version__``, read from the distribution only when asked for.
    if name == "__version__":
        return version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
