"""Starting the real Prometheus and Alertmanager binaries on loopback: for the demo and tests.

Each process gets its own data directory and log file under a working directory, listens on
127.0.0.1 only, and is stopped (terminate, then kill) by ``ManagedProcess.stop``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

# binary -> (environment variable naming it, names to look for on PATH, Debian package)
BINARIES = {
    "prometheus": ("PROMETHEUS_BIN", ("prometheus",), "prometheus"),
    "promtool": ("PROMTOOL_BIN", ("promtool",), "prometheus"),
    "alertmanager": ("ALERTMANAGER_BIN", ("prometheus-alertmanager", "alertmanager"),
                     "prometheus-alertmanager"),
    "amtool": ("AMTOOL_BIN", ("amtool",), "prometheus-alertmanager"),
    # only the tests run it: the console's browser test (tests/receiver/test_console_browser.py)
    "chromium": ("CHROMIUM_BIN", ("chromium",), "chromium"),
}


class MissingBinary(RuntimeError):
    """A binary is not installed; the message is one line saying what to install."""


def find_binary(name: str, environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    variable, names, package = BINARIES[name]
    path = environ.get(variable)
    if path and os.access(path, os.X_OK):
        return path
    for candidate in names:
        found = shutil.which(candidate)
        if found:
            return found
    raise MissingBinary(f"{names[0]} not found: install the Debian package `{package}` "
                        f"(apt-get install {package}) or set {variable}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ManagedProcess:
    name: str
    process: subprocess.Popen
    log_path: Path
    url: str

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _spawn(name: str, argv: list[str], workdir: Path, url: str) -> ManagedProcess:
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return ManagedProcess(name, process, log_path, url)


def start_prometheus(binary: str, config_file: Path, workdir: Path, port: int,
                     extra_args: tuple[str, ...] = ()) -> ManagedProcess:
    """Prometheus on 127.0.0.1:``port``; ``extra_args`` go last (e.g. a short
    ``--rules.alert.resend-delay`` in tests)."""
    data = workdir / "prometheus-data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [binary, f"--config.file={config_file}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle", *extra_args]
    return _spawn("prometheus", argv, workdir, f"http://127.0.0.1:{port}")


def start_alertmanager(binary: str, config_file: Path, workdir: Path, port: int,
                       name: str = "alertmanager", cluster_port: int | None = None,
                       peers: tuple[str, ...] = (),
                       extra_args: tuple[str, ...] = ()) -> ManagedProcess:
    """Alertmanager on 127.0.0.1:``port``; a cluster peer when ``cluster_port`` is set.
    ``extra_args`` go last (e.g. ``--cluster.peer-timeout=...`` in tests)."""
    data = workdir / f"{name}-data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [binary, f"--config.file={config_file}", f"--storage.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url=http://127.0.0.1:{port}"]
    if cluster_port is None:
        argv.append("--cluster.listen-address=")
    else:
        argv.append(f"--cluster.listen-address=127.0.0.1:{cluster_port}")
        argv += [f"--cluster.peer={peer}" for peer in peers]
    argv += list(extra_args)
    return _spawn(name, argv, workdir, f"http://127.0.0.1:{port}")


async def wait_for(condition: Callable[[], Awaitable[bool]], timeout: float, what: str,
                   interval: float = 0.2, process: ManagedProcess | None = None) -> None:
    """Poll ``condition`` until true; TimeoutError naming ``what`` (and the process log) if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.process.poll() is not None:
            raise RuntimeError(f"{process.name} exited while waiting for {what}:\n"
                               f"{process.log_tail()}")
        try:
            if await condition():
                return
        except (OSError, ValueError, KeyError):
            pass  # not up yet: keep polling until the deadline
        await asyncio.sleep(interval)
    tail = f"\n{process.log_tail()}" if process is not None else ""
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}{tail}")
