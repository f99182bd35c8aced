"""Hostile .tflite files (issue 24): an operator reading its own output, a 5,000-deep
chain of DEQUANTIZE operators, negative or out-of-range tensor indices. Each is a
CheckpointError naming the file (before: RecursionError, IndexError, or another tensor
silently selected)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from blazepose_helpers import tflite_file
from semapose.errors import CheckpointError
from semapose.weights.tflite import TFLiteModel, TFLiteOperator, TFLiteTensor, _Buf, read_tflite


def _patched(tmp_path: Path, edit: object) -> Path:
    """The real BlazePose file with ``edit(buf, data)`` applied (bytes changed in place)."""
    data = bytearray(tflite_file().read_bytes())
    buf = _Buf(bytes(data), "x")
    edit(buf, data)  # type: ignore[operator]
    out = tmp_path / "hostile.tflite"
    out.write_bytes(bytes(data))
    return out


def _first_subgraph(buf: _Buf) -> int:
    root = buf.unpack("I", 0)
    return buf.tables(root, 2)[0]


def _dequantize(buf: _Buf) -> int:
    """Table of the first operator with one input and one output (a DEQUANTIZE)."""
    sg = _first_subgraph(buf)
    for op in buf.tables(sg, 3):
        if len(buf.ints(op, 1)) == 1 and len(buf.ints(op, 2)) == 1:
            return op
    raise AssertionError("no single-input operator")


def test_an_operator_reading_its_own_output_is_refused(tmp_path: Path) -> None:
    def edit(buf: _Buf, data: bytearray) -> None:
        op = _dequantize(buf)
        start, _ = buf.vector(op, 1)
        struct.pack_into("<i", data, start, buf.ints(op, 2)[0])

    with pytest.raises(CheckpointError, match=r"hostile\.tflite: .*operator \d+"):
        read_tflite(_patched(tmp_path, edit))


@pytest.mark.parametrize("value", [-5, -2, 10**6])
def test_an_operator_input_out_of_range_is_refused(tmp_path: Path, value: int) -> None:
    def edit(buf: _Buf, data: bytearray) -> None:
        start, _ = buf.vector(_dequantize(buf), 1)
        struct.pack_into("<i", data, start, value)

    with pytest.raises(CheckpointError, match=r"hostile\.tflite: .*outside"):
        read_tflite(_patched(tmp_path, edit))


@pytest.mark.parametrize("value", [99_999, -1])
def test_a_subgraph_input_out_of_range_is_refused(tmp_path: Path, value: int) -> None:
    def edit(buf: _Buf, data: bytearray) -> None:
        start, _ = buf.vector(_first_subgraph(buf), 1)
        struct.pack_into("<i", data, start, value)

    with pytest.raises(CheckpointError, match=r"hostile\.tflite: .*subgraph inputs"):
        read_tflite(_patched(tmp_path, edit))


def test_a_5000_deep_dequantize_chain_is_walked_without_recursion() -> None:
    n = 5000
    tensors = [TFLiteTensor(0, "w", (2,), np.dtype("<f2"), np.ones(2, np.float16))]
    tensors += [TFLiteTensor(i, f"t{i}", (2,), np.dtype("<f4"), None) for i in range(1, n + 1)]
    ops = [TFLiteOperator(i, "DEQUANTIZE", (i,), (i + 1,)) for i in range(n)]
    model = TFLiteModel("chain.tflite", tensors, ops, (), ())
    assert model.constant(n).tolist() == [1.0, 1.0]
    cyclic = TFLiteModel(
        "cycle.tflite",
        tensors[:3],
        [TFLiteOperator(0, "DEQUANTIZE", (2,), (1,)), TFLiteOperator(1, "DEQUANTIZE", (1,), (2,))],
        (),
        (),
    )
    with pytest.raises(CheckpointError, match=r"cycle\.tflite: .*cycle"):
        cyclic.constant(2)


def test_a_symlink_to_dev_zero_is_bounded(tmp_path: Path) -> None:
    link = tmp_path / "zero.tflite"
    link.symlink_to("/dev/zero")
    with pytest.raises(CheckpointError, match="zero.tflite"):
        read_tflite(link)
