"""``semapose export``: the model as two ONNX graphs (backbone and clip decoder)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from semapose.weights.resolve import WEIGHTS_HELP

    parser.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    parser.add_argument("--format", choices=("onnx",), default="onnx", help="export format")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--no-check", action="store_true", help="skip the ONNX Runtime vs PyTorch comparison"
    )


def run(args: argparse.Namespace) -> int:
    from semapose.inference.export import HEATMAP_TOLERANCE, export_onnx
    from semapose.inference.loading import load

    loaded = load(args.weights, "cpu")
    result = export_onnx(loaded.model, loaded.cfg, args.out, check=not args.no_check)
    print(f"encoder (backbone, per crop): {result.encoder}")
    print(f"decoder (clip -> heatmaps):   {result.decoder}")
    print(f"manifest:                     {result.manifest}")
    if not args.no_check:
        print(
            f"ONNX Runtime vs PyTorch: max |diff| heatmaps {result.max_abs_diff:.2g}, "
            f"features {result.features_abs_diff:.2g} (tolerance {HEATMAP_TOLERANCE:g})"
        )
    return 0
