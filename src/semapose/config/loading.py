"""Configs in and out: YAML files, dotted ``key=value`` overrides, plain data and YAML text.

Reading goes through the bounded safe loader (:func:`semapose.io.yamlio.load_yaml`) and
ends in :func:`semapose.config.checks.from_dict`, so every value is checked.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from semapose.config.checks import config_keys, from_dict
from semapose.config.sections import Config
from semapose.errors import ConfigError
from semapose.io.yamlio import load_yaml


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load YAML (or defaults when ``path`` is None), apply ``key=value`` overrides, validate."""
    raw: dict[str, Any] = {}
    source = str(path) if path is not None else "<defaults>"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(p, "", "an existing YAML config file", "no such file")
        try:
            loaded = load_yaml(p.read_text(encoding="utf-8"), p)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(p, where, "valid YAML", str(exc).splitlines()[0]) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(p, "", "a readable UTF-8 file", str(exc)) from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(p, "top level", "a mapping of sections", type(loaded).__name__)
        raw = loaded
    for item in overrides or []:
        _apply_override(raw, item)
    return from_dict(Config, raw, source)


def _apply_override(raw: dict[str, Any], item: str) -> None:
    if "=" not in item:
        raise ConfigError("<command line>", item, "an override of the form section.key=value")
    key, _, text = item.partition("=")
    parts = key.strip().split(".")
    if any(not p for p in parts):
        raise ConfigError("<command line>", key, "a dotted key such as train.lr")
    try:
        value = load_yaml(text, "<command line>", key) if text.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError("<command line>", key, "a YAML value", text) from exc
    node = raw
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ConfigError("<command line>", key, f"'{p}' to be a section")
        node = child
    node[parts[-1]] = value


def to_dict(obj: Any) -> Any:
    """Plain-data form of a config (lists for tuples), suitable for YAML/JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in config_keys(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def dump_config(cfg: Config) -> str:
    """YAML text that ``load_config`` reads back to an equal config."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def save_config(cfg: Config, path: str | Path) -> None:
    from semapose.io.atomic import atomic_write_text

    atomic_write_text(path, dump_config(cfg))


__all__ = ["load_config", "to_dict", "dump_config", "save_config"]
