"""``callwatch render [--check] [--time-scale F] [--out DIR] [--ha]
[--kubernetes | --alertmanager-snippet]``: policy -> generated files.

``--ha`` renders for docker-compose.yml's ``ha`` profile (docs/deploy.md): Prometheus sends
to both clustered Alertmanagers (the policy's plus ``alertmanager-2``) and scrapes the second
receiver too. Alertmanager's own file is the same for both peers.

``--kubernetes`` writes (or checks) only the Kubernetes manifests, straight into ``--out``
(default deploy/kubernetes/, where the plain command writes them too): docs/deploy.md.

``--alertmanager-snippet`` writes (or checks) deploy/alertmanager/callwatch-routes.yml alone:
callwatch's routes, receivers and inhibit rules for an Alertmanager shared with other teams
(docs/deploy.md). The plain command writes it too, with everything else.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from callwatch.commands.common import add_policy_option, load_policy_from_args
from policy.render import ALERTMANAGER_SNIPPET_PATH, RenderOptions, render_all
from policy.render.kubernetes import DIRECTORY as KUBE_DIR
from policy.schedule_checks import schedule_warnings

# the second peer and the second receiver of docker-compose.yml's `ha` profile
HA_ALERTMANAGERS = ("alertmanager-2:9093",)
HA_TARGETS = ("receiver-2:9120",)


def configure(parser: argparse.ArgumentParser) -> None:
    add_policy_option(parser)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming every generated file that is stale")
    parser.add_argument("--time-scale", type=float, default=1.0, metavar="F",
                        help="divide every `for`, rate window and group timing by F (demo, tests)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="root the generated deploy/ tree is written under (default: .); "
                             f"with --kubernetes, the manifests' directory (default: {KUBE_DIR})")
    parser.add_argument("--ha", action="store_true",
                        help="for the compose `ha` profile: both Alertmanagers, both receivers")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--kubernetes", action="store_true",
                      help="only the Kubernetes manifests, straight into --out")
    only.add_argument("--alertmanager-snippet", action="store_true",
                      help=f"only {ALERTMANAGER_SNIPPET_PATH}: callwatch's part of an "
                           "Alertmanager shared with other teams")


def main(args: argparse.Namespace) -> int:
    if args.time_scale <= 0:
        print("callwatch render: --time-scale must be above 0", file=sys.stderr)
        return 2
    policy = load_policy_from_args(args)
    # what loads but will not work as meant (on-call gaps from now on): said, never fatal
    for warning in (*policy.warnings, *schedule_warnings(policy, datetime.now(UTC))):
        print(f"callwatch render: warning: {warning}", file=sys.stderr)
    options = RenderOptions(time_scale=args.time_scale)
    if args.ha:
        options = RenderOptions(
            time_scale=args.time_scale,
            alertmanagers=_union(policy.prometheus.alertmanagers, HA_ALERTMANAGERS),
            callwatch_targets=_union(policy.prometheus.callwatch_targets, HA_TARGETS))
    files = render_all(policy, options)
    if args.alertmanager_snippet:
        files = {ALERTMANAGER_SNIPPET_PATH: files[ALERTMANAGER_SNIPPET_PATH]}
    if args.kubernetes:
        files = {relative.removeprefix(f"{KUBE_DIR}/"): text for relative, text in files.items()
                 if relative.startswith(f"{KUBE_DIR}/")}
    root = Path(args.out or (KUBE_DIR if args.kubernetes else "."))
    if args.check:
        return _check(root, files)
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {relative}")
    return 0


def _check(root: Path, files: dict[str, str]) -> int:
    stale = [relative for relative, text in files.items()
             if not (root / relative).exists()
             or (root / relative).read_text(encoding="utf-8") != text]
    for relative in stale:
        print(f"stale: {relative} differs from what the policy produces; run `callwatch render`",
              file=sys.stderr)
    return 1 if stale else 0


def _union(first: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *more)))
