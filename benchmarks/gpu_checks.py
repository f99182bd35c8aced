"""Every GPU check of the temporal module in one process (run by ``benchmarks/gpu.sh``).

1. CPU vs GPU output equality (fp32, and bf16 autocast against fp32 CPU): backbone
   features and key-frame heatmaps of each temporal variant on the same input.
2. bf16 training on cached features: steps/s and peak memory per variant.
3. Person-frames/s of BlazePose (256 x 256) and HRNet-W48 (384 x 288) with the temporal
   module (backbone once per frame + the clip decoder, as ``predict`` runs with its
   feature cache), eager and ``torch.compile``, bf16.
4. A temporal training run at a larger setting (``gpu_temporal_fit.py``): ours and the
   single-frame adapter of equal capacity, 600 steps x 64 clips on a synthetic feature
   cache, with the neighbour-use figures (key-only gap, blacked-out key recovery).

``--dry-run``: the same code on CPU with tiny sizes and few iterations (a test runs
it); its JSON says ``dry_run: true`` and is no measurement. Backbone weights are
random unless the BlazePose asset is cached (speed and equality do not depend on them).
Each check has a time budget; a check that fails records its error and the rest go on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from gpu_temporal_fit import check_temporal_fit
from harness.machine import machine_info
from harness.models import fit_preset
from harness.paths import RESULTS

VARIANTS = {
    "single_frame": ["model.temporal=none"],
    "temporal_difference": ["model.temporal=temporal_difference"],
    "heatmap_warping": [
        "model.temporal=heatmap_warping",
        "model.dim=16",
        "model.warp_dilations=[3]",
    ],
    "ours_full": ["model.temporal=mlsme_smml"],
}


def config(backbone: str, variant: str, dry: bool) -> Any:
    from semapose.config import load_config

    base = fit_preset(backbone=True) + ["model.freeze_backbone=true", "model.backbone_weights="]
    if backbone == "blazepose":
        base += ["model.backbone=blazepose"]
    elif backbone == "hrnet_w48":
        base += ["model.backbone=hrnet_w48", "data.image_size=[384,288]", "model.cube_size=8"]
    if dry:
        base += ["model.backbone=tiny", "data.image_size=[64,64]", "model.cube_size=4"]
    return load_config(None, base + VARIANTS[variant])


def build(backbone: str, variant: str, dry: bool, device: torch.device) -> tuple[Any, Any]:
    from semapose.models.build import build_model

    torch.manual_seed(0)
    cfg = config(backbone, variant, dry)
    model = build_model(cfg)
    with torch.no_grad():  # a trained model's residual is not zero: wake it
        for m in model.temporal.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and not m.weight.any():
                m.weight.normal_(0, 0.02)
    return cfg, model.to(device).eval()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_equality(device: torch.device, dry: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant in VARIANTS:
        cfg, cpu_model = build("blazepose", variant, dry, torch.device("cpu"))
        h, w = cfg.data.image_size
        t = len(cfg.data.offsets) + 1
        g = torch.Generator().manual_seed(1)
        clip = torch.randn(2, t, 3, h, w, generator=g)
        with torch.no_grad():
            ref = cpu_model(clip)
            dev_model = cpu_model.to(device)
            got = dev_model(clip.to(device)).float().cpu()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                bf = dev_model(clip.to(device)).float().cpu()
        scale = float(ref.abs().max())
        out[variant] = {
            "fp32_max_abs_diff": float((got - ref).abs().max()),
            "bf16_max_abs_diff": float((bf - ref).abs().max()),
            "heatmap_max": scale,
            "argmax_agreement_fp32": float(
                (got.flatten(2).argmax(-1) == ref.flatten(2).argmax(-1)).float().mean()
            ),
            "argmax_agreement_bf16": float(
                (bf.flatten(2).argmax(-1) == ref.flatten(2).argmax(-1)).float().mean()
            ),
        }
    return out


def check_training(device: torch.device, dry: bool, steps: int, batch: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant in VARIANTS:
        cfg, model = build("blazepose", variant, dry, device)
        model.train()
        c = model.feature_channels
        h, w = (s // model.feature_stride for s in cfg.data.image_size)
        t = len(cfg.data.offsets) + 1
        feats = torch.randn(batch, t, c, h, w, device=device)
        hm = torch.rand(batch, t, 17, h, w, device=device)
        wt = torch.ones(batch, t, 17, device=device)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

        args = (model, opt, cfg, feats, hm, wt, device)
        _train_step(*args)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            _train_step(*args)
        sync(device)
        dt = time.perf_counter() - t0
        out[variant] = {
            "batch": batch,
            "steps_per_s": steps / dt,
            "clips_per_s": steps * batch / dt,
            "peak_memory_mb": torch.cuda.max_memory_allocated(device) / 2**20
            if device.type == "cuda"
            else None,
        }
    return out


def _train_step(
    model: Any, opt: Any, cfg: Any, feats: Any, hm: Any, wt: Any, device: torch.device
) -> None:
    from semapose.losses import total_loss

    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        terms = model.feature_loss_terms(feats, hm, wt)
    loss, _ = total_loss(terms, cfg.loss)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _frame(
    enc: Any, dec: Any, crops: torch.Tensor, window: list[torch.Tensor], t: int, dev: torch.device
) -> None:
    """One video frame as predict runs it: encode the crops once, decode the clip."""
    with (
        torch.no_grad(),
        torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"),
    ):
        window.append(enc(crops))
        del window[:-t]
        dec(torch.stack([window[min(i, len(window) - 1)] for i in range(t)], 1))


def check_throughput(device: torch.device, dry: bool, iters: int, people: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backbone in ("blazepose", "hrnet_w48"):
        for variant in ("single_frame", "ours_full"):
            cfg, model = build(backbone, variant, dry, device)
            h, w = cfg.data.image_size
            t = len(cfg.data.offsets) + 1
            crops = torch.randn(people, 3, h, w, device=device)
            for mode in ("eager", "compile"):
                key = f"{backbone}/{variant}/{mode}"
                try:
                    enc, dec = model.encode_frames, model.decode_clip
                    if mode == "compile":  # dry run: dynamo only (inductor takes minutes on CPU)
                        backend = "eager" if dry else "inductor"
                        enc = torch.compile(model.encode_frames, backend=backend)
                        dec = torch.compile(model.decode_clip, backend=backend)
                    window: list[torch.Tensor] = []

                    for _ in range(max(2, t)):
                        _frame(enc, dec, crops, window, t, device)  # warm-up (and compilation)
                    sync(device)
                    t0 = time.perf_counter()
                    for _ in range(iters):
                        _frame(enc, dec, crops, window, t, device)
                    sync(device)
                    dt = time.perf_counter() - t0
                    out[key] = {"person_frames_per_s": iters * people / dt, "people": people}
                    if mode == "compile":
                        out[key]["backend"] = backend
                except Exception as exc:  # noqa: BLE001 - record and go on
                    out[key] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes (for the test)")
    ap.add_argument("--out", default=str(RESULTS / "gpu.json"))
    args = ap.parse_args(argv)
    dry = args.dry_run
    if not dry and not torch.cuda.is_available():
        print("no CUDA device: run with --dry-run for the CPU check", file=sys.stderr)
        return 2
    device = torch.device("cpu" if dry else "cuda")
    result: dict[str, Any] = {
        "dry_run": dry,
        "machine": machine_info(),
        "device": torch.cuda.get_device_name(0) if not dry else "cpu (dry run)",
    }
    checks = {
        "equality": lambda: check_equality(device, dry),
        "training_bf16": lambda: check_training(device, dry, 3 if dry else 30, 2 if dry else 32),
        "throughput": lambda: check_throughput(device, dry, 2 if dry else 50, 2 if dry else 64),
        "temporal_fit": lambda: check_temporal_fit(device, dry),
    }
    for name, fn in checks.items():
        t0 = time.perf_counter()
        try:
            result[name] = fn()
        except Exception as exc:  # noqa: BLE001 - one failed check must not lose the others
            result[name] = {"error": traceback.format_exc()[-2000:], "type": type(exc).__name__}
        result[f"{name}_seconds"] = time.perf_counter() - t0
        print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    from semapose.io.atomic import atomic_write_json

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, result, indent=1)
    print(json.dumps({"out": args.out, "dry_run": dry}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
