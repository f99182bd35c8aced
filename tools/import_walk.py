"""The walk of a model load: which semapose files it enters, how often, and its climbs.

A load is traced with :func:`sys.setprofile` (after one untraced warm-up call, so that
module imports and the BlazePose conversion cache are not counted). The walk is the
sequence of semapose files the innermost semapose frame moves through (frames of
torch, safetensors, the standard library ... count for the semapose frame that called
them).

* **entries of a file**: calls into it from another semapose file;
* **layers**: 0 = ``io/``; 1 = ``weights/`` (and ``data/``); 2 = ``models/``;
  3 = ``inference/``, ``engine/``; 4 = ``fitting/`` (above inference/, imported by the
  fit command only), ``commands/``, ``cli.py``, ``__init__.py``. The
  shared base modules every layer uses (``config/``, ``errors.py``, ``device.py``,
  ``keypoints.py``, ``losses.py``: data types and tables) have no layer: like the
  standard library, a call into them counts for the calling file (``--base`` counts
  them as layer 0 files instead);
* building a network (an ``nn.Module``'s ``__init__`` and what it calls) is one step
  in the file of its class, unless ``--construction``;
* **a climb**: the walk moving back up to a higher layer (a return, or a call) and
  later coming down again -- each time a finished step in a lower layer hands control
  back up only for the road to go down once more. The final unwinding to the caller
  is not counted.

Roads measured (each its own entry point, the way the command calls it)::

    PYTHONPATH=src OMP_NUM_THREADS=1 python tools/import_walk.py [--json OUT]

``predict --weights V`` is ``Predictor.create(V, "cpu")``; ``from_pretrained`` is
``PoseEstimator.from_pretrained``; ``export`` and ``demo`` the loads their commands do;
``train`` is ``build_model`` of a config with ``model.backbone_weights`` set. Needs
the BlazePose asset in the cache (``semapose fetch blazepose_full``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

SRC = (Path(__file__).resolve().parents[1] / "src" / "semapose").resolve()

LAYERS = {
    "weights": 1,
    "data": 1,
    "models": 2,
    "inference": 3,
    "engine": 3,
    "fitting": 4,
    "commands": 4,
}


def relative(filename: str) -> str | None:
    try:
        return Path(filename).resolve().relative_to(SRC).as_posix()
    except ValueError:
        return None


#: files (or, ending in "/", packages) under src/semapose
BASE = ("config/", "errors.py", "device.py", "keypoints.py", "losses.py")


def layer(rel: str) -> int:
    if "/" not in rel:
        return 4 if rel in ("cli.py", "__init__.py") else 0
    return LAYERS.get(rel.split("/", 1)[0], 0)


class Walk:
    """Profiles one call; :meth:`summary` gives the counts."""

    def __init__(self, construction: bool = False, base: bool = False) -> None:
        self.entries: Counter[str] = Counter()
        self.sequence: list[str] = []
        self._cache: dict[str, str | None] = {}
        #: follow the walk into network constructors (else a constructor is one step)
        self.construction = construction
        self._inside: FrameType | None = None
        #: count the shared base modules as files of layer 0
        self.base = base

    def _rel(self, frame: FrameType | None) -> str | None:
        """The file of the innermost semapose frame at or above ``frame``."""
        while frame is not None:
            name = frame.f_code.co_filename
            if name not in self._cache:
                self._cache[name] = relative(name)
            rel = self._cache[name]
            if rel is not None and (self.base or not rel.startswith(BASE)):
                return rel
            frame = frame.f_back
        return None

    def _move(self, rel: str | None) -> None:
        if rel is not None and (not self.sequence or self.sequence[-1] != rel):
            self.sequence.append(rel)

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if self._inside is not None:  # inside a network's constructor: one step
            if event == "return" and frame is self._inside:
                self._inside = None
                self._move(self._rel(frame.f_back) or self._rel(frame))
            return
        if event == "call":
            rel = self._rel(frame)
            if rel is None:
                return
            if self.sequence and self.sequence[-1] != rel:
                self.entries[rel] += 1
            self._move(rel)
            if not self.construction and _is_module_init(frame):
                self._inside = frame
        elif event == "return":
            here = self._rel(frame)
            if here is None:
                return
            self._move(self._rel(frame.f_back) or here)

    def run(self, fn: Callable[[], Any]) -> Any:
        sys.setprofile(self._profile)
        try:
            return fn()
        finally:
            sys.setprofile(None)

    def summary(self) -> dict[str, Any]:
        layers = [layer(r) for r in self.sequence]
        moves = [b - a for a, b in zip(layers, layers[1:], strict=False)]
        last_down = max((i for i, m in enumerate(moves) if m < 0), default=-1)
        climbs = sum(1 for i, m in enumerate(moves) if m > 0 and i < last_down)
        top = self.entries.most_common()
        return {
            "files": len(set(self.sequence)),
            "climbs": climbs,
            "max_entries": top[0][1] if top else 0,
            "entries": dict(top),
        }


def _is_module_init(frame: FrameType) -> bool:
    if frame.f_code.co_name != "__init__":
        return False
    from torch import nn

    return isinstance(frame.f_locals.get("self"), nn.Module)


def _official_hrnet(folder: Path) -> Path:
    """A random HRNet-W32 in the official layout (keys without backbone./head.)."""
    import torch

    from semapose.models.backbones.hrnet import HRNet
    from semapose.models.heads import FinalLayerHead

    torch.manual_seed(0)
    sd = {**HRNet(32).state_dict(), **FinalLayerHead(32, 17).state_dict()}
    path = folder / "pose_hrnet_w32_256x192.pth"
    torch.save(sd, path)
    return path


def roads(folder: Path) -> dict[str, Callable[[], Any]]:
    from semapose import PoseEstimator
    from semapose.config import Config
    from semapose.inference.predictor import Predictor

    def create(value: str | None) -> Callable[[], Any]:
        return lambda: Predictor.create(value, "cpu")

    def export() -> Any:  # what commands/export.run loads: the loader, on the CPU
        from semapose.inference import loading

        return getattr(loading, "load", None) or loading.load_model

    def demo() -> Any:  # the single-frame side (the temporal side is the default road)
        from semapose.weights.resolve import DEMO_SINGLE_WEIGHTS

        return Predictor.create(DEMO_SINGLE_WEIGHTS, "cpu")

    def train() -> Any:
        from semapose.models.build import build_model

        cfg = Config()
        cfg.model.backbone = "blazepose"
        cfg.model.backbone_weights = "blazepose_full"
        cfg.data.image_size = (256, 256)
        cfg.model.temporal = "none"
        cfg.data.offsets = []
        return build_model(cfg)

    official = _official_hrnet(folder)
    return {
        "predict --weights (default)": create(None),
        "predict --weights blazepose": create("blazepose"),
        "predict --weights blazepose_full (.tflite)": create("blazepose_full"),
        "predict --weights tiny_synthetic": create("tiny_synthetic"),
        "predict --weights official HRNet .pth": create(str(official)),
        "from_pretrained (default)": lambda: PoseEstimator.from_pretrained(device="cpu"),
        "export (default)": lambda: export()(None, "cpu"),
        "demo (single-frame side)": demo,
        "train model.backbone_weights=blazepose_full": train,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the numbers here")
    parser.add_argument("--before", help="a --json of an earlier run, compared in --markdown")
    parser.add_argument("--markdown", help="write a table (with --before: before -> after)")
    parser.add_argument("--detail", action="store_true", help="print every file's entries")
    parser.add_argument("--base", action="store_true", help="count config/ & co. as files")
    parser.add_argument("--sequence", action="store_true", help="print the walk's files in order")
    parser.add_argument("--only", help="measure only the roads whose name contains this")
    parser.add_argument(
        "--construction", action="store_true", help="follow the walk into network constructors"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in roads(Path(tmp)).items():
            if args.only and args.only not in name:
                continue
            fn()  # warm-up: imports, conversion cache
            walk = Walk(args.construction, args.base)
            walk.run(fn)
            s = walk.summary()
            out[name] = s
            worst = ", ".join(f"{k} {v}" for k, v in list(s["entries"].items())[:3])
            print(
                f"{name:48s} files {s['files']:3d}  climbs {s['climbs']:3d}  "
                f"max entries {s['max_entries']:3d}  ({worst})"
            )
            if args.sequence:
                for rel in walk.sequence:
                    print(f"    {layer(rel)} {rel}")
            if args.detail:
                for k, v in s["entries"].items():
                    print(f"    {v:4d}  {k}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    if args.markdown:
        before = json.loads(Path(args.before).read_text(encoding="utf-8")) if args.before else {}
        Path(args.markdown).write_text(table(out, before, sys.argv[1:]), encoding="utf-8")
    return 0


def table(after: dict[str, Any], before: dict[str, Any], argv: list[str]) -> str:
    """Markdown: per road, files / climbs / most entries (``before -> after`` if given)."""

    def cell(road: str, key: str) -> str:
        now = after[road][key]
        return f"{before[road][key]} -> {now}" if road in before else str(now)

    def worst(road: str) -> str:
        return ", ".join(f"`{k}` {v}" for k, v in list(after[road]["entries"].items())[:2])

    lines = [
        "# The walk of a model load (`tools/import_walk.py`)",
        "",
        f"`python tools/import_walk.py {' '.join(argv)}`",
        "",
        "| road | files entered | climbs | most entries of one file | most entered (after) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for road in after:
        lines.append(
            f"| {road} | {cell(road, 'files')} | {cell(road, 'climbs')} | "
            f"{cell(road, 'max_entries')} | {worst(road)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
