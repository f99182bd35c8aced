"""Run logs: a JSONL line per logged step, a curves plot beside the checkpoints,
a tqdm progress bar (loss, lr, samples/s) and optional TensorBoard.

Only rank 0 writes. Every record has ``kind`` (``train`` / ``val`` / ``event``),
``step`` and ``epoch`` plus its metrics. On resume the log is cut back to the
resumed step, so the file always describes the one run that produced the weights.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from semapose.errors import ConfigError
from semapose.io.atomic import atomic_path, atomic_write_text

LOG_NAME = "log.jsonl"
PLOT_NAME = "curves.png"


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSONL log (a torn last line from a kill is ignored)."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


class RunLogger:
    """JSONL + plot + progress bar + TensorBoard for one run (inactive on ranks > 0)."""

    def __init__(
        self,
        output_dir: str | Path,
        *,
        active: bool = True,
        tensorboard: bool = False,
        resume_step: int | None = None,
        progress: bool = True,
    ) -> None:
        self.dir = Path(output_dir)
        self.active = active
        self.path = self.dir / LOG_NAME
        self.records: list[dict[str, Any]] = []
        self._bar: Any = None
        self._progress = progress and active
        self._tb: Any = None
        self._t_last = time.perf_counter()
        self._samples = 0
        if not active:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            atomic_write_text(self.path, "")
        else:
            kept = [r for r in read_log(self.path) if int(r.get("step", 0)) <= resume_step]
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
            self.records = kept
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise ConfigError(
                    "<config>",
                    "train.tensorboard",
                    "the tensorboard package (pip install 'semapose[tensorboard]')",
                    "not installed",
                ) from exc
            self._tb = SummaryWriter(str(self.dir / "tensorboard"))

    # ------------------------------------------------------------------ records
    def log(self, kind: str, step: int, epoch: float, metrics: dict[str, Any]) -> None:
        if not self.active:
            return
        rec = {"kind": kind, "step": int(step), "epoch": round(float(epoch), 4)}
        rec.update({k: _clean(v) for k, v in metrics.items()})
        rec["time"] = round(time.time(), 3)
        self.records.append(rec)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        if self._tb is not None:
            for k, v in metrics.items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    self._tb.add_scalar(f"{kind}/{k}", v, step)

    # ------------------------------------------------------------------ progress
    def start_epoch(self, epoch: int, total: int, initial: int = 0) -> None:
        self.close_bar()
        self._t_last = time.perf_counter()
        self._samples = 0
        if self._progress:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, initial=initial, desc=f"epoch {epoch}", dynamic_ncols=True, leave=True
            )

    def count(self, samples: int) -> None:
        self._samples += samples

    def throughput(self) -> float:
        """Samples/s since the last call (global samples, all ranks)."""
        now = time.perf_counter()
        rate = self._samples / max(now - self._t_last, 1e-9)
        self._t_last, self._samples = now, 0
        return rate

    def bar_update(self, n: int = 1, **postfix: Any) -> None:
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix(postfix, refresh=False)

    def close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def write(self, text: str) -> None:
        if not self.active:
            return
        if self._bar is not None:
            self._bar.write(text)
        else:
            print(text, flush=True)

    # ------------------------------------------------------------------ plot
    def plot(self, path: str | Path | None = None) -> Path | None:
        """Loss terms, lr and validation metrics against the step, as a PNG."""
        if not self.active or not self.records:
            return None
        return plot_curves(self.records, Path(path) if path else self.dir / PLOT_NAME)

    def close(self) -> None:
        self.close_bar()
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def plot_curves(records: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in records if r.get("kind") == "train"]
    val = [r for r in records if r.get("kind") == "val"]
    skip = {"kind", "step", "epoch", "time", "lr", "samples_per_s", "backbone_lr", "grad_norm"}
    loss_keys = sorted({k for r in train for k, v in r.items() if k not in skip and _num(v)})
    val_keys = sorted({k for r in val for k, v in r.items() if k not in skip and _num(v)})
    main_keys: list[str] = [k for k in ("mAP", "mAP_clean", "mAP_degraded") if k in val_keys]
    val_keys = main_keys or val_keys  # per joint / per degradation stay in log.jsonl
    panels = 2 + (1 if val_keys else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.8), squeeze=False)
    ax = axes[0][0]
    drawn = False
    for k in loss_keys:
        pts = [(r["step"], r[k]) for r in train if _num(r.get(k)) and r[k] > 0]
        if pts:
            ax.plot(*zip(*pts, strict=True), label=k)
            drawn = True
    if drawn:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title("training losses")
    if drawn:
        ax.legend(fontsize=7)
    ax = axes[0][1]
    drawn = False
    for k in ("lr", "backbone_lr"):
        pts = [(r["step"], r[k]) for r in train if _num(r.get(k)) and r[k] > 0]
        if pts:
            ax.plot(*zip(*pts, strict=True), label=k)
            drawn = True
    ax.set_xlabel("step")
    ax.set_title("learning rate")
    if drawn:
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    if val_keys:
        ax = axes[0][2]
        for k in val_keys:
            pts = [(r["step"], r[k]) for r in val if _num(r.get(k))]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=k)
        ax.set_xlabel("step")
        ax.set_title("validation")
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
