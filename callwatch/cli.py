"""``callwatch``: one entry point, one module per command.

Each command module has ``configure(parser)`` and ``main(args) -> int``; it is imported only
when its command runs, so ``callwatch render`` never pays for aiohttp or the provider SDKs.
A command needing a package of an extra that is not installed (pyproject.toml
``[project.optional-dependencies]``) exits 1 with one line naming the extra to install.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from callwatch import version
from policy import PolicyError

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "render": ("callwatch.commands.render",
               "generate Prometheus rules, Alertmanager config and Grafana dashboards "
               "from the policy"),
    "run": ("callwatch.commands.serve", "run the exporter and the receiver on one port"),
    "exporter": ("callwatch.commands.serve", "run the exporter alone"),
    "probe": ("callwatch.commands.probe",
              "send signed test webhooks and API probes once (runbook 3)"),
    "demo": ("callwatch.commands.demo",
             "the whole stack on this machine: a provider fault becomes pages, live"),
    "simulate": ("callwatch.commands.simulate", "run the provider and notifier simulator"),
    "receiver": ("callwatch.commands.serve",
                 "run the receiver alone: Alertmanager webhook, incidents, notifications"),
    "incidents": ("callwatch.commands.incidents",
                  "list, show, acknowledge, resolve or declare incidents on a running callwatch"),
    "report": ("callwatch.commands.report",
               "the monthly review (Markdown, HTML or JSON) from a running callwatch"),
    "drill": ("callwatch.commands.drill",
              "fire a synthetic drill alert through Alertmanager and time the response"),
    "oncall": ("callwatch.commands.oncall",
               "who is on call: from a running callwatch, or from a policy file (--policy)"),
}

# top-level module -> the extra that installs it (pyproject.toml [project.optional-dependencies])
EXTRAS = {"grafana_foundation_sdk": "render", "rich": "demo", "aiosmtpd": "demo"}


class _Version(argparse.Action):
    """``--version``: prints ``callwatch <version>`` and exits; the version is looked up only
    then (argparse's own version action wants it before parsing, for every command)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print callwatch's version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"callwatch {version()}")
        parser.exit()


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser for ``argv``: every command is listed, but only the chosen command's module
    is imported (for its options), so ``callwatch render`` never loads aiohttp or an SDK."""
    chosen = _chosen(argv)
    parser = argparse.ArgumentParser(prog="callwatch", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module, _command=name)
        if name == chosen:
            importlib.import_module(module).configure(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(argv).parse_args(argv)
        module = importlib.import_module(args._module)
        return module.main(args)
    except PolicyError as exc:
        print(f"callwatch {_chosen(argv)}: invalid policy: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").partition(".")[0])
        if extra is None:
            raise
        print(f"callwatch {_chosen(argv)}: {exc.name} is not installed; it comes with the "
              f"{extra!r} extra: pip install 'callwatch[{extra}]'", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _chosen(argv: list[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


if __name__ == "__main__":
    raise SystemExit(main())
