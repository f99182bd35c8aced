"""Validation of a config: keys, types (coerced from YAML values), ranges and choices.

Every error is a :class:`~semapose.errors.ConfigError` naming the source (file path,
``<defaults>``, ``<command line>``), the dotted key and what was expected.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union

from semapose.config.sections import Config, DataConfig
from semapose.errors import ConfigError


def from_dict(cls: type, raw: Any, source: str, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping, checking keys, types and ranges."""
    where = prefix or "top level"
    if not isinstance(raw, dict):
        raise ConfigError(source, where, "a mapping", type(raw).__name__)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in config_keys(cls)}
    for key in raw:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(source, _join(prefix, str(key)), f"one of the known keys ({known})")
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        kwargs[name] = _coerce(hints[name], value, source, _join(prefix, name))
    obj = cls(**kwargs)
    if isinstance(obj, Config):
        obj.source = source
    _check_ranges(obj, source, prefix)
    return obj


def check_config(cfg: Config) -> None:
    """Re-check the ranges and choices of every section (a config built or changed in code
    skips :func:`from_dict`); errors name ``cfg.source``."""
    for f in config_keys(Config):
        _check_ranges(getattr(cfg, f.name), cfg.source, f.name)


def config_keys(cls: Any) -> list[dataclasses.Field[Any]]:
    """The fields of a config dataclass that are keys of the file."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("key", True)]


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _coerce(hint: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, source, key)  # type: ignore[arg-type]
    if origin in (Union, types.UnionType):
        errors = []
        for a in args:
            if a is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(a, value, source, key)
            except ConfigError as exc:
                errors.append(exc)
        raise ConfigError(source, key, " or ".join(_type_name(a) for a in args), value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(source, key, "true or false", value)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(source, key, "an integer", value)
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(source, key, "a number", value) from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value != value or value in (float("inf"), float("-inf")):
                raise ConfigError(source, key, "a finite number", value)
            return float(value)
        raise ConfigError(source, key, "a number", value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(source, key, "a string", value)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(source, key, f"a list ({_type_name(hint)})", value)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(source, key, f"a list of {len(args)} items", value)
            return tuple(
                _coerce(a, v, source, f"{key}[{i}]")
                for i, (a, v) in enumerate(zip(args, value, strict=True))
            )
        inner = args[0] if args else Any
        items = [_coerce(inner, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if hint is Any:
        return value
    raise ConfigError(source, key, _type_name(hint), value)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _check_ranges(obj: Any, source: str, prefix: str) -> None:
    ranges = getattr(type(obj), "_ranges", {})
    choices = getattr(type(obj), "_choices", {})
    for name, (lo, hi) in ranges.items():
        v = getattr(obj, name)
        if not (lo <= v <= hi):
            raise ConfigError(source, _join(prefix, name), f"a value in [{lo}, {hi}]", v)
    for name, allowed in choices.items():
        v = getattr(obj, name)
        if v not in allowed:
            raise ConfigError(source, _join(prefix, name), "one of " + ", ".join(allowed), v)
    if isinstance(obj, DataConfig):
        if 0 in obj.offsets:
            raise ConfigError(
                source,
                _join(prefix, "offsets"),
                "non-zero offsets (0 is the key frame)",
                obj.offsets,
            )
        if len(set(obj.offsets)) != len(obj.offsets):
            raise ConfigError(source, _join(prefix, "offsets"), "distinct offsets", obj.offsets)
        h, w = obj.image_size
        if h <= 0 or w <= 0 or h % obj.heatmap_stride or w % obj.heatmap_stride:
            raise ConfigError(
                source,
                _join(prefix, "image_size"),
                "positive sizes divisible by heatmap_stride",
                obj.image_size,
            )


__all__ = ["from_dict", "check_config", "config_keys"]
