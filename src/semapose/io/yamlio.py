"""YAML read with bounds: no Python objects, no alias bombs, no deep nesting, no huge integers.

``yaml.safe_load`` never runs code, but a 426-byte file can still make it
(or whatever walks the result) blow up: anchors and aliases build a graph whose
expanded size grows exponentially ("billion laughs"), 50,000 nested ``[`` end in
a ``RecursionError``, and a 5000-digit integer in a ``ValueError``. A config is a
few hundred values, so :func:`load_yaml` refuses, with a :class:`ConfigError`
naming the line, any document beyond these limits: at most :data:`MAX_NODES`
(100,000) values with every alias expanded, :data:`MAX_DEPTH` (64) levels of
nesting, integers of :data:`MAX_INT_DIGITS` (100) digits and :data:`MAX_BYTES`
(4 MiB) of text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from semapose.errors import ConfigError
from semapose.limits import MAX_YAML_BYTES as MAX_BYTES
from semapose.limits import MAX_YAML_DEPTH as MAX_DEPTH
from semapose.limits import MAX_YAML_INT_DIGITS as MAX_INT_DIGITS
from semapose.limits import MAX_YAML_NODES as MAX_NODES


class _Refused(yaml.YAMLError):
    def __init__(self, expected: str, got: str, mark: Any) -> None:
        super().__init__(expected)
        self.expected, self.got, self.problem_mark = expected, got, mark


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that counts nesting depth and expanded size while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> values in it, aliases expanded

    def compose_node(self, parent: Any, index: Any) -> Any:
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"at most {MAX_DEPTH} levels of nesting", "deeper", mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        # children are composed (and sized) first; an alias returns its anchored node,
        # whose size then counts again in every parent that uses it
        if self._size(node) > MAX_NODES:
            raise _Refused(
                f"at most {MAX_NODES:,} values with aliases expanded", "more (an alias bomb?)", mark
            )
        return node

    def _size(self, node: Any) -> int:
        key = id(node)
        if key not in self._sizes:
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = node.value
            else:
                children = []
            self._sizes[key] = 1 + sum(self._sizes.get(id(c), 1) for c in children)
        return self._sizes[key]

    def construct_yaml_int(self, node: Any) -> int:
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise _Refused(
                f"an integer of at most {MAX_INT_DIGITS} digits",
                f"{digits} digits",
                node.start_mark,
            )
        return int(super().construct_yaml_int(node))


BoundedSafeLoader.add_constructor("tag:yaml.org,2002:int", BoundedSafeLoader.construct_yaml_int)


def load_yaml(text: str, source: str | Path, where: str = "") -> Any:
    """Parse one YAML document within the module's limits; ConfigError names the line."""
    if len(text) > MAX_BYTES:
        raise ConfigError(source, where, f"at most {MAX_BYTES // 2**20} MiB of YAML", len(text))
    loader = BoundedSafeLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        line = f"line {exc.problem_mark.line + 1}" if exc.problem_mark is not None else ""
        raise ConfigError(source, where or line, exc.expected, exc.got) from None
    except RecursionError:  # deeper than Python's stack inside PyYAML itself
        raise ConfigError(
            source, where, f"at most {MAX_DEPTH} levels of nesting", "deeper"
        ) from None
    finally:
        loader.dispose()


__all__ = ["BoundedSafeLoader", "load_yaml"]
