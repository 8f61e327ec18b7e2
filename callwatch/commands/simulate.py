"""``callwatch simulate``: the simulator standalone (same as ``python -m simulator``).

Register with one line in ``callwatch.cli.COMMANDS``:
``"simulate": ("callwatch.commands.simulate", "run the provider and notifier simulator")``.
"""

from __future__ import annotations

import argparse
import asyncio


def configure(parser: argparse.ArgumentParser) -> None:
    from simulator.__main__ import configure as configure_simulator
    configure_simulator(parser)


def main(args: argparse.Namespace) -> int:
    from simulator.__main__ import run
    return asyncio.run(run(args))
