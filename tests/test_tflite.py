"""The pure-Python .tflite reader (semapose.weights.tflite) on BlazePose's model file."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from blazepose_helpers import tflite_file
from semapose.errors import CheckpointError
from semapose.weights.tflite import read_tflite


@pytest.fixture(scope="module")
def model():
    return read_tflite(tflite_file())


def test_graph_inventory_matches_the_published_model(model):
    counts = Counter(op.opcode for op in model.operators)
    assert len(model.operators) == 332
    assert counts == {
        "DEQUANTIZE": 192,
        "CONV_2D": 58,
        "DEPTHWISE_CONV_2D": 38,
        "ADD": 28,
        "PAD": 5,
        "RESIZE_BILINEAR": 5,
        "RESHAPE": 3,
        "MAX_POOL_2D": 2,
        "LOGISTIC": 1,
    }
    fp16 = [t for t in model.tensors if t.data is not None and t.dtype == np.float16]
    assert sum(t.data.size for t in fp16) == 3_169_489
    assert [model.tensors[i].shape for i in model.inputs] == [(1, 256, 256, 3)]
    shapes = {model.tensors[i].name: model.tensors[i].shape for i in model.outputs}
    assert shapes == {
        "Identity": (1, 195),
        "Identity_1": (1, 1),
        "Identity_2": (1, 256, 256, 1),
        "Identity_3": (1, 64, 64, 39),
        "Identity_4": (1, 117),
    }


def test_options_and_dequantised_constants(model):
    first_conv = next(op for op in model.operators if op.opcode == "CONV_2D")
    assert first_conv.options["stride_h"] == 2 and first_conv.options["padding"] == "VALID"
    assert first_conv.options["fused_activation"] == "RELU6"
    weight = model.constant(first_conv.inputs[1])  # through DEQUANTIZE
    assert weight.dtype == np.float32 and weight.shape == (24, 3, 3, 3)
    assert np.isfinite(weight).all() and weight.std() > 0
    resizes = [op for op in model.operators if op.opcode == "RESIZE_BILINEAR"]
    assert all(op.options == {"align_corners": 0, "half_pixel_centers": True} for op in resizes)
    same_s2 = [
        op
        for op in model.operators
        if op.opcode == "DEPTHWISE_CONV_2D"
        and op.options["stride_h"] == 2
        and op.options["padding"] == "SAME"
    ]
    assert len(same_s2) == 2  # the two TF-'SAME' (asymmetric) stride-2 layers
    with pytest.raises(CheckpointError, match="not a constant"):
        model.constant(model.inputs[0])


def test_refuses_files_that_are_not_tflite(tmp_path):
    text = tmp_path / "weights.tflite"
    text.write_text("hello, not a flatbuffer")
    with pytest.raises(CheckpointError, match=r"weights\.tflite: not a TFLite model file"):
        read_tflite(text)
    with pytest.raises(CheckpointError, match="cannot read"):
        read_tflite(tmp_path / "missing.tflite")


def test_damaged_files_give_checkpoint_errors_only(tmp_path):
    data = tflite_file().read_bytes()
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(data[:4096])
    with pytest.raises(CheckpointError, match="truncated.tflite"):
        read_tflite(truncated)
    rng = np.random.default_rng(0)
    damaged = tmp_path / "damaged.tflite"
    head = bytearray(data[:200_000])
    for trial in range(20):
        buf = bytearray(head)
        for pos in rng.integers(8, len(buf), size=8):
            buf[pos] = int(rng.integers(0, 256))
        damaged.write_bytes(bytes(buf))
        try:
            read_tflite(damaged)
        except CheckpointError as exc:
            assert "damaged.tflite" in str(exc), trial
