"""Stable YAML text for generated files: a do-not-edit header, keys in the order given."""

from __future__ import annotations

import yaml

from policy.render import HEADER


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line strings (PromQL) as literal blocks so they stay readable."""

    def ignore_aliases(self, data: object) -> bool:
        return True  # generated files are read by people: no &anchors / *aliases


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(document: object, header: bool = True) -> str:
    """``document`` as YAML, keys unsorted, with the generated-file header as a comment."""
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     width=4096, allow_unicode=True)
    return f"# {HEADER}\n{body}" if header else body
