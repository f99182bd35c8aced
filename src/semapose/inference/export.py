"""ONNX export: the backbone (``encode_frames``) and the clip decoder (``decode_clip``) as
two graphs, so that a runtime can cache per-frame features exactly like the PyTorch
pipeline does (one backbone pass per frame and person, T reads per feature).

``export_onnx`` writes ``encoder.onnx`` ((N,3,H,W) -> (N,C,h,w)), ``decoder.onnx``
((B,T,C,h,w) -> (B,J,H/4,W/4)) and ``manifest.json`` (input size, offsets, key
index, normalisation, and the measured ONNX Runtime vs PyTorch difference). The
batch axes are dynamic. Every file is written atomically. Needs the ``onnx``
extra (``pip install semapose[onnx]``).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import SemaposeError
from semapose.io.atomic import atomic_path, atomic_write_json

#: ONNX Runtime must reproduce PyTorch's heatmaps within this absolute difference
#: (heatmap peaks are ~1; float32 reordering gives ~1e-6 here).
HEATMAP_TOLERANCE = 1e-4
OPSET = 17


class ExportError(SemaposeError):
    """The model could not be exported or the exported graphs disagree with PyTorch."""


@dataclass
class ExportResult:
    encoder: Path
    decoder: Path
    manifest: Path
    max_abs_diff: float
    features_abs_diff: float


def _modules(model: Any) -> tuple[Any, Any]:
    from torch import nn

    class Encode(nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, images: Any) -> Any:
            return self.m.encode_frames(images)

    class Decode(nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, features: Any) -> Any:
            return self.m.decode_clip(features)

    return Encode(model).eval(), Decode(model).eval()


def export_onnx(
    model: Any, cfg: Any, out_dir: str | Path, check: bool = True, seed: int = 0
) -> ExportResult:
    """Export ``model`` (an Estimator) to ``out_dir``; with ``check`` compare with ONNX Runtime."""
    import torch

    try:
        import onnx  # noqa: F401
    except ImportError as exc:
        raise ExportError(
            "ONNX export needs the onnx package: pip install 'semapose[onnx]'"
        ) from exc
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").eval()
    h, w = (int(v) for v in cfg.data.image_size)
    t = 1 + len(cfg.data.offsets)
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(2 * t, 3, h, w, generator=gen)
    enc, dec = _modules(model)
    with torch.inference_mode():
        feats = enc(images)
    clip = feats.reshape(2, t, *feats.shape[1:]).clone()
    encoder_path, decoder_path = out / "encoder.onnx", out / "decoder.onnx"
    _export(enc, images, encoder_path, "images", "features", {0: "crops"})
    _export(dec, clip, decoder_path, "features", "heatmaps", {0: "clips"})
    max_diff = feat_diff = float("nan")
    if check:
        feat_diff, max_diff = _compare(encoder_path, decoder_path, enc, dec, seed + 1, (t, h, w))
        if not max_diff <= HEATMAP_TOLERANCE:
            raise ExportError(
                f"{out}: ONNX Runtime heatmaps differ from PyTorch by {max_diff:.3g} "
                f"(tolerance {HEATMAP_TOLERANCE:g})"
            )
    from semapose.config import to_dict
    from semapose.models.build import key_index_of

    manifest = out / "manifest.json"
    atomic_write_json(
        manifest,
        {
            "encoder": encoder_path.name,
            "decoder": decoder_path.name,
            "input_size": [h, w],
            "offsets": list(cfg.data.offsets),
            "key_index": key_index_of(list(cfg.data.offsets)),
            "num_frames": t,
            "normalisation": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
            "opset": OPSET,
            "tolerance": HEATMAP_TOLERANCE,
            "max_abs_diff_heatmaps": max_diff,
            "max_abs_diff_features": feat_diff,
            "config": to_dict(cfg),
        },
        indent=1,
    )
    return ExportResult(encoder_path, decoder_path, manifest, max_diff, feat_diff)


def _export(module: Any, example: Any, path: Path, name_in: str, name_out: str, axes: dict) -> None:
    import torch

    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                module,
                (example,),
                str(tmp),
                input_names=[name_in],
                output_names=[name_out],
                dynamic_axes={name_in: axes, name_out: axes},
                opset_version=OPSET,
                dynamo=False,
            )
        except Exception as exc:  # the exporter raises many types
            raise ExportError(f"{path}: ONNX export failed: {exc}") from exc


def _compare(
    encoder: Path, decoder: Path, enc: Any, dec: Any, seed: int, size: tuple[int, int, int]
) -> tuple[float, float]:
    """Max |ORT - PyTorch| of features and heatmaps on a fresh random batch (other batch size)."""
    import torch

    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ExportError(
            "checking the export needs onnxruntime: pip install 'semapose[onnx]'"
        ) from exc
    t, h, w = size
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((3 * t, 3, h, w)).astype(np.float32)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    with contextlib.redirect_stderr(None):
        s_enc = ort.InferenceSession(str(encoder), opts, providers=["CPUExecutionProvider"])
        s_dec = ort.InferenceSession(str(decoder), opts, providers=["CPUExecutionProvider"])
    f_ort = s_enc.run(None, {"images": images})[0]
    with torch.inference_mode():
        f_pt = enc(torch.from_numpy(images)).numpy()
        clip = f_pt.reshape(3, t, *f_pt.shape[1:])
        h_pt = dec(torch.from_numpy(clip)).numpy()
    h_ort = s_dec.run(None, {"features": clip})[0]
    return float(np.abs(f_ort - f_pt).max()), float(np.abs(h_ort - h_pt).max())


__all__ = ["HEATMAP_TOLERANCE", "ExportError", "ExportResult", "export_onnx"]
