"""Typed configuration: dataclasses, YAML in and out, ``key=value`` overrides.

A config is a tree of dataclasses (:mod:`semapose.config.sections`).
``load_config(path, overrides)`` reads YAML (``yaml.safe_load``), applies dotted
overrides such as ``train.lr=1e-4`` (:mod:`semapose.config.loading`) and validates every
field against its type hint and range (:mod:`semapose.config.checks`), raising
:class:`~semapose.errors.ConfigError` that names the file, the key and what was
expected. No registries, no string eval: a model is chosen by a plain string
field that the builder matches against a fixed table.
"""

from __future__ import annotations

from semapose.config.checks import check_config, from_dict
from semapose.config.loading import dump_config, load_config, save_config, to_dict
from semapose.config.sections import (
    BACKBONE_NAMES,
    Config,
    DataConfig,
    LossConfig,
    ModelConfig,
    TestConfig,
    TrainConfig,
)
from semapose.errors import InputError

__all__ = [
    "BACKBONE_NAMES",
    "Config",
    "DataConfig",
    "ModelConfig",
    "LossConfig",
    "TrainConfig",
    "TestConfig",
    "load_config",
    "check_config",
    "from_dict",
    "to_dict",
    "dump_config",
    "save_config",
    "InputError",
]
