"""Model cost: parameters, FLOPs, CPU clip latency/throughput, peak memory, feature cache, ONNX.

Usage::

    python benchmarks/speed.py                      # every section
    python benchmarks/speed.py --only sizes,onnx    # some sections
    python benchmarks/speed.py --quick              # tiny settings (a smoke run)

Sections (results in ``benchmarks/results/speed.{json,md}``; each section's
numbers are kept when another section is re-run):

* ``sizes``: parameters and FLOPs per clip (FlopCounterMode on the meta device,
  1 multiply-add = 2 FLOPs) of tiny 128x96, HRNet-W32 256x192, HRNet-W48 384x288
  and ViT-B 256x192 with the temporal module at the paper-preset sizes
  (docs/paper_notes.md), the temporal module's share of the backbone, the
  baselines at HRNet-W48, and a token-size sweep at HRNet-W48.
* ``latency``: CPU wall time of one clip (batch 1), clips/s batched, the
  feature-cache path (one new frame encoded + one clip decoded per key frame)
  against recomputing all T frames per clip, and the peak resident memory
  (``ru_maxrss`` of a fresh process per configuration and batch).
* ``onnx``: ONNX Runtime (CPU) against PyTorch on the exported encoder/decoder.

Weights are random (speed does not depend on them). No GPU here: the GPU
measurements of issue 9 are not made by this script.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.child import run_child
from harness.cli import parser
from harness.machine import machine_info, set_threads
from harness.memory import peak_rss_mb, rss_mb
from harness.models import MODELS, SIZE_ONLY, W48, load_cfg
from harness.report import load_sections, md_table, section_footer, section_record, write_results
from harness.timing import time_calls

SCRIPT = Path(__file__).resolve()


# ----------------------------------------------------------------------------- sizes


def count(name: str, extra: list[str] | None = None) -> dict[str, Any]:
    """Parameters and FLOPs of one configuration (meta device: nothing is computed)."""
    import torch

    from semapose.models.build import build_model

    cfg = load_cfg(name, extra)
    with torch.device("meta"):
        model = build_model(cfg)
    params = model.param_count(inference_only=True)
    flops = model.flops_per_clip()
    t = cfg.num_frames
    return {
        "T": t,
        "params_M": {k: v / 1e6 for k, v in params.items()},
        "params_train_M": model.param_count()["temporal"] / 1e6,
        "gflops": {k: v / 1e9 for k, v in flops.items()},
        "temporal_share_of_backbone_clip": flops["temporal"] / flops["backbone"],
        "temporal_share_of_backbone_frame": flops["temporal"] / flops["backbone_per_frame"],
        "tokens_per_frame": _tokens(cfg),
    }


def _tokens(cfg: Any) -> int | None:
    if cfg.model.temporal != "mlsme_smml":
        return None
    stride = 16 if cfg.model.backbone.startswith("vit") else 4
    h, w = (s // stride // cfg.model.cube_size for s in cfg.data.image_size)
    return int(h * w)


def section_sizes(quick: bool) -> dict[str, Any]:
    names = ["tiny 128x96"] if quick else list(MODELS) + list(SIZE_ONLY)
    out: dict[str, Any] = {"models": {n: count(n) for n in names}}
    if not quick:
        out["baselines_w48"] = {
            t: count(W48, [f"model.temporal={t}"])
            for t in ("temporal_difference", "heatmap_warping")
        }
        sweep = {}
        for cube in (4, 6, 8):
            for dim in (384, 256):
                key = f"cube {cube}, dim {dim}"
                sweep[key] = count(W48, [f"model.cube_size={cube}", f"model.dim={dim}"])
        out["sweep_w48"] = sweep
    return out


def md_sizes(s: dict[str, Any]) -> str:
    rows = []
    for n, r in s["models"].items():
        p, g = r["params_M"], r["gflops"]
        rows.append(
            [
                n,
                r["T"],
                f"{p['backbone']:.2f}",
                f"{p['temporal']:.2f} ({r['params_train_M']:.2f})",
                f"{p['head']:.3f}",
                f"{g['backbone']:.1f} ({g['backbone_per_frame']:.1f})",
                f"{g['temporal']:.2f}",
                f"{100 * r['temporal_share_of_backbone_clip']:.1f}%",
                f"{100 * r['temporal_share_of_backbone_frame']:.1f}%",
            ]
        )
    head = [
        "model (ours, paper-preset temporal sizes)",
        "T",
        "backbone params (M)",
        "temporal params deploy (train) (M)",
        "head params (M)",
        "backbone GFLOPs/clip (per frame)",
        "temporal GFLOPs/clip",
        "temporal / backbone (T frames)",
        "temporal / backbone (1 frame, cached)",
    ]
    text = ["### Parameters and FLOPs per clip", "", md_table(head, rows)]
    for key, title in (
        ("baselines_w48", "Baselines at HRNet-W48 384x288 (same `dim` 384)"),
        ("sweep_w48", "Ours at HRNet-W48 384x288: token size (`cube_size`) and width (`dim`)"),
    ):
        if key not in s:
            continue
        rows = [
            [
                k,
                r["tokens_per_frame"] if r["tokens_per_frame"] is not None else "-",
                f"{r['params_M']['temporal']:.2f}",
                f"{r['gflops']['temporal']:.2f}",
                f"{100 * r['temporal_share_of_backbone_clip']:.1f}%",
                f"{100 * r['temporal_share_of_backbone_frame']:.1f}%",
            ]
            for k, r in s[key].items()
        ]
        hdr = ["setting", "tokens/frame", "temporal params (M)", "temporal GFLOPs/clip"]
        hdr += ["/ backbone (T frames)", "/ backbone (1 frame)"]
        text += ["", f"#### {title}", "", md_table(hdr, rows)]
    return "\n".join(text)


# ----------------------------------------------------------------------------- latency


def child_latency(name: str, batch: int, reps: int, threads: int) -> dict[str, Any]:
    """In a fresh process: time clip inference at ``batch``; with batch 1 also the cache path."""
    import torch

    from semapose.models.build import build_model

    set_threads(threads)
    torch.manual_seed(0)
    cfg = load_cfg(name)
    model = build_model(cfg).eval()
    h, w = cfg.data.image_size
    t = cfg.num_frames
    rss_model = rss_mb()
    clip = torch.randn(batch, t, 3, h, w)
    res: dict[str, Any] = {"name": name, "batch": batch, "T": t, "threads": threads}
    with torch.inference_mode():
        timing = time_calls(lambda: model(clip), repeat=reps, warmup=1)
        res["clip_s"] = timing["median_s"]
        res["clip_runs_s"] = timing["runs_s"]
        if batch == 1:
            frame = torch.randn(1, 3, h, w)
            feats = model.encode_frames(clip.flatten(0, 1)).unflatten(0, (1, t))
            enc = time_calls(lambda: model.encode_frames(frame), repeat=reps, warmup=1)
            dec = time_calls(lambda: model.decode_clip(feats), repeat=reps, warmup=1)
            res["encode_frame_s"] = enc["median_s"]
            res["decode_clip_s"] = dec["median_s"]
    res["rss_model_mb"] = rss_model
    res["peak_rss_mb"] = peak_rss_mb()
    return res


def section_latency(quick: bool, threads: int) -> dict[str, Any]:
    names = ["tiny 128x96"] if quick else list(MODELS)
    out: dict[str, Any] = {}
    for n in names:
        big = not n.startswith("tiny")
        reps = 2 if quick else (3 if big else 10)
        batched = 4 if big else 16
        r1 = run_child(SCRIPT, ["--_child", json.dumps([n, 1, reps, threads])])
        rb = run_child(SCRIPT, ["--_child", json.dumps([n, batched, max(2, reps // 2), threads])])
        t = r1["T"]
        cached = r1["encode_frame_s"] + r1["decode_clip_s"]
        out[n] = {
            "T": t,
            "clip_latency_b1_ms": 1e3 * r1["clip_s"],
            "clip_runs_b1_s": r1["clip_runs_s"],
            "clips_per_s_b1": 1 / r1["clip_s"],
            "batch": batched,
            "clips_per_s_batched": batched / rb["clip_s"],
            "clip_runs_batched_s": rb["clip_runs_s"],
            "encode_frame_ms": 1e3 * r1["encode_frame_s"],
            "decode_clip_ms": 1e3 * r1["decode_clip_s"],
            "key_frame_ms_cached": 1e3 * cached,
            "cache_speedup": r1["clip_s"] / cached,
            "rss_model_mb": r1["rss_model_mb"],
            "peak_rss_b1_mb": r1["peak_rss_mb"],
            "peak_rss_batched_mb": rb["peak_rss_mb"],
        }
    return out


def md_latency(s: dict[str, Any], threads: int) -> str:
    rows = [
        [
            n,
            r["T"],
            f"{r['clip_latency_b1_ms']:.0f}",
            f"{r['clips_per_s_b1']:.2f}",
            f"{r['clips_per_s_batched']:.2f} (B={r['batch']})",
            f"{r['encode_frame_ms']:.0f} + {r['decode_clip_ms']:.0f}",
            f"{r['cache_speedup']:.2f}x",
            f"{r['rss_model_mb']:.0f}",
            f"{r['peak_rss_b1_mb']:.0f} / {r['peak_rss_batched_mb']:.0f}",
        ]
        for n, r in s.items()
    ]
    head = [
        "model",
        "T",
        "clip latency B=1 (ms)",
        "clips/s B=1",
        "clips/s batched",
        "cached key frame: encode 1 + decode (ms)",
        "cache speed-up (T encodes vs 1)",
        "RSS after build (MiB)",
        "peak RSS B=1 / batched (MiB)",
    ]
    return "\n".join(
        [
            f"### CPU latency, throughput and memory (PyTorch eager, float32, {threads} threads,"
            " median)",
            "",
            md_table(head, rows),
        ]
    )


# ----------------------------------------------------------------------------- onnx


def section_onnx(quick: bool, threads: int) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort
    import torch

    from semapose.inference.export import export_onnx
    from semapose.models.build import build_model

    set_threads(threads)
    names = ["tiny 128x96"] if quick else ["tiny 128x96", "HRNet-W32 256x192"]
    out: dict[str, Any] = {}
    for n in names:
        torch.manual_seed(0)
        cfg = load_cfg(n)
        model = build_model(cfg).eval()
        h, w = cfg.data.image_size
        t = cfg.num_frames
        reps = 3 if n.startswith("HRNet") else 10
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = export_onnx(model, cfg, tmp)
            export_s = time.perf_counter() - t0
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            enc = ort.InferenceSession(str(res.encoder), so, providers=["CPUExecutionProvider"])
            dec = ort.InferenceSession(str(res.decoder), so, providers=["CPUExecutionProvider"])
            r: dict[str, Any] = {"export_s": export_s, "max_abs_diff_heatmaps": res.max_abs_diff}
            for batch in (1, 8):
                r[f"b{batch}"] = _onnx_vs_torch(model, enc, dec, batch, (t, h, w), reps)
            assert np.isfinite(r["b1"]["ort_encode_ms"])
        out[n] = r
    return out


def _onnx_vs_torch(
    model: Any, enc: Any, dec: Any, batch: int, size: tuple[int, int, int], reps: int
) -> dict[str, float]:
    import torch

    t, h, w = size
    x = torch.randn(batch, 3, h, w)
    with torch.inference_mode():
        feats = model.encode_frames(torch.randn(batch * t, 3, h, w))
        clip = feats.unflatten(0, (batch, t)).contiguous()
        pt_e = time_calls(lambda: model.encode_frames(x), repeat=reps)
        pt_d = time_calls(lambda: model.decode_clip(clip), repeat=reps)
    xn, cn = x.numpy(), clip.numpy()
    ox_e = time_calls(lambda: enc.run(None, {"images": xn}), repeat=reps)
    ox_d = time_calls(lambda: dec.run(None, {"features": cn}), repeat=reps)
    return {
        "torch_encode_ms": 1e3 * pt_e["median_s"],
        "ort_encode_ms": 1e3 * ox_e["median_s"],
        "torch_decode_ms": 1e3 * pt_d["median_s"],
        "ort_decode_ms": 1e3 * ox_d["median_s"],
    }


def md_onnx(s: dict[str, Any], threads: int) -> str:
    rows = []
    for n, r in s.items():
        for b in ("b1", "b8"):
            x = r[b]
            rows.append(
                [
                    n,
                    b[1:],
                    f"{x['torch_encode_ms']:.1f}",
                    f"{x['ort_encode_ms']:.1f}",
                    f"{x['torch_encode_ms'] / x['ort_encode_ms']:.2f}x",
                    f"{x['torch_decode_ms']:.1f}",
                    f"{x['ort_decode_ms']:.1f}",
                    f"{x['torch_decode_ms'] / x['ort_decode_ms']:.2f}x",
                    f"{r['max_abs_diff_heatmaps']:.1e}",
                ]
            )
    head = [
        "model",
        "batch (crops / clips)",
        "encode PyTorch (ms)",
        "encode ORT (ms)",
        "ORT speed-up",
        "decode_clip PyTorch (ms)",
        "decode_clip ORT (ms)",
        "ORT speed-up",
        "max heatmap diff",
    ]
    return "\n".join(
        [
            f"### ONNX Runtime (CPUExecutionProvider) vs PyTorch eager, {threads} threads, median",
            "",
            md_table(head, rows),
        ]
    )


# ----------------------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, threads=2)
    ap.add_argument("--only", default="sizes,latency,onnx")
    ap.add_argument("--quick", action="store_true", help="tiny model only, few repetitions")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._child:
        name, batch, reps, threads = json.loads(args._child)
        print(json.dumps(child_latency(name, batch, reps, threads)))
        return 0
    sections = [s for s in args.only.split(",") if s]
    bad = set(sections) - {"sizes", "latency", "onnx"}
    if bad:
        ap.error(f"unknown sections {sorted(bad)}")
    result = load_sections(args.out, "speed")
    for sec in sections:
        t0 = time.perf_counter()
        if sec == "sizes":
            data: dict[str, Any] = section_sizes(args.quick)
        elif sec == "latency":
            data = section_latency(args.quick, args.threads)
        else:
            data = section_onnx(args.quick, args.threads)
        result["sections"][sec] = section_record(
            data,
            machine_info(threads=args.threads),
            args.quick,
            time.perf_counter() - t0,
            threads=args.threads,
        )
    result["benchmark"] = "speed"
    write_results("speed", result, markdown(result), args.out)
    from semapose.io.atomic import atomic_write_text

    for sec in result["sections"]:  # one file per section, for docs/benchmarks.md
        atomic_write_text(args.out / f"speed_{sec}.md", markdown(result, [sec]) + "\n")
    return 0


def markdown(result: dict[str, Any], sections: list[str] | None = None) -> str:
    parts = ["# Model cost on CPU (random weights; no GPU in this environment)", ""]
    for sec in sections or ["sizes", "latency", "onnx"]:
        s = result["sections"].get(sec)
        if not s:
            continue
        if sec == "sizes":
            body = md_sizes(s["data"])
        elif sec == "latency":
            body = md_latency(s["data"], s["threads"])
        else:
            body = md_onnx(s["data"], s["threads"])
        parts += [body, "", *section_footer(s)]
    return "\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
