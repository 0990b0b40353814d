"""Strict YAML reading for contracts and domain files.

Contracts are reviewed like code, so the loader refuses what YAML allows but a reviewer cannot see
at a glance: duplicate keys (the last one silently wins in plain YAML), anchors and aliases (the
"billion laughs" expansion bomb), non-string keys and oversized files. Holds no contract semantics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mesh.errors import ContractError

MAX_FILE_BYTES = 256 * 1024


# libyaml parses (ten times faster than the pure-Python parser); construction stays in Python, where
# duplicate and non-string keys are refused. Anchors and aliases are refused from the token stream.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_Base):  # type: ignore[valid-type, misc]
    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise yaml.MarkedYAMLError(
                    "while reading a mapping", None, f"keys must be strings, found {key!r}", key_node.start_mark
                )
            if key in seen:
                raise yaml.MarkedYAMLError(
                    "while reading a mapping",
                    None,
                    f"duplicate key {key!r} (first at line {seen[key].line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


# Dates stay strings: contracts name dates as text and the models parse them with clear errors.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _refuse_anchors(text: str) -> None:
    if "&" not in text and "*" not in text:  # no anchor or alias can be written without them
        return
    for token in yaml.scan(text, Loader=_Base):
        if isinstance(token, yaml.AnchorToken | yaml.AliasToken):
            raise yaml.MarkedYAMLError(
                "while reading", None, "anchors and aliases are not allowed in contracts", token.start_mark
            )


def load_yaml(path: Path, display: str | None = None) -> Any:
    """Read one YAML document strictly; errors name the file, the line and the problem."""
    shown = display or str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ContractError(shown, [("", "file not found")]) from None
    if size > MAX_FILE_BYTES:
        raise ContractError(shown, [("", f"file is {size} bytes; contracts are limited to {MAX_FILE_BYTES}")])
    text = path.read_text(encoding="utf-8", errors="strict")
    return parse_yaml(text, shown)


def parse_yaml(text: str, display: str) -> Any:
    try:
        _refuse_anchors(text)
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ContractError(display, [("", f"invalid YAML at {where}: {err.problem or err.context}")]) from None
    except yaml.YAMLError as err:
        raise ContractError(display, [("", f"invalid YAML: {err}")]) from None
