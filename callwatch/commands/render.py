"""``callwatch render [--check] [--time-scale F] [--out DIR]``: policy -> generated files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from callwatch.commands.common import add_policy_option, load_policy_from_args
from policy.render import RenderOptions, render_all


def configure(parser: argparse.ArgumentParser) -> None:
    add_policy_option(parser)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming every generated file that is stale")
    parser.add_argument("--time-scale", type=float, default=1.0, metavar="F",
                        help="divide every `for`, rate window and group timing by F (demo, tests)")
    parser.add_argument("--out", default=".", metavar="DIR",
                        help="root the generated deploy/ tree is written under (default: .)")


def main(args: argparse.Namespace) -> int:
    if args.time_scale <= 0:
        print("callwatch render: --time-scale must be above 0", file=sys.stderr)
        return 2
    policy = load_policy_from_args(args)
    files = render_all(policy, RenderOptions(time_scale=args.time_scale))
    root = Path(args.out)
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
