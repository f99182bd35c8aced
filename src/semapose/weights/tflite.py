"""A small pure-Python reader of TensorFlow Lite model files (``.tflite``).

A ``.tflite`` file is a FlatBuffer with the schema of TensorFlow's
``tensorflow/lite/schema/schema.fbs`` (file identifier ``TFL3``). This module reads
only what a weight converter needs: the tensors (name, shape, type, constant data),
the operators of the first subgraph (builtin operator, inputs, outputs and the
options of the layer kinds that carry them) and the subgraph's inputs/outputs. It does
not execute anything and needs neither TensorFlow nor a TFLite runtime.

Field numbers (from schema.fbs): ``Model{version 0, operator_codes 1, subgraphs 2,
description 3, buffers 4}``, ``SubGraph{tensors 0, inputs 1, outputs 2, operators 3,
name 4}``, ``Tensor{shape 0, type 1, buffer 2, name 3}``, ``Buffer{data 0, offset 1,
size 2}``, ``Operator{opcode_index 0, inputs 1, outputs 2, builtin_options_type 3,
builtin_options 4}``, ``OperatorCode{deprecated_builtin_code 0, custom_code 1,
version 2, builtin_code 3}``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import CheckpointError
from semapose.limits import MAX_TFLITE_OPERATORS

__all__ = ["TFLiteModel", "TFLiteOperator", "TFLiteTensor", "read_tflite", "OPCODE_NAMES"]

#: BuiltinOperator codes of schema.fbs that we name (others are shown as ``OP_<code>``).
OPCODE_NAMES: dict[int, str] = {
    0: "ADD",
    1: "AVERAGE_POOL_2D",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE",
    6: "DEQUANTIZE",
    9: "FULLY_CONNECTED",
    14: "LOGISTIC",
    17: "MAX_POOL_2D",
    18: "MUL",
    19: "RELU",
    21: "RELU6",
    22: "RESHAPE",
    23: "RESIZE_BILINEAR",
    25: "SOFTMAX",
    28: "TANH",
    32: "CUSTOM",
    34: "PAD",
    41: "SUB",
    97: "RESIZE_NEAREST_NEIGHBOR",
    98: "LEAKY_RELU",
    117: "HARD_SWISH",
    124: "DENSIFY",
}

#: TensorType enum -> numpy dtype.
_TENSOR_TYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("<f2"),
    2: np.dtype("<i4"),
    3: np.dtype("u1"),
    4: np.dtype("<i8"),
    6: np.dtype("?"),
    7: np.dtype("<i2"),
    9: np.dtype("i1"),
    10: np.dtype("<f8"),
}

_PADDING = {0: "SAME", 1: "VALID"}
_ACTIVATION = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}

#: Options tables by operator: (field name, field index, struct format, enum map or None).
_OPTION_FIELDS: dict[str, tuple[tuple[str, int, str, dict[int, str] | None], ...]] = {
    "CONV_2D": (
        ("padding", 0, "b", _PADDING),
        ("stride_w", 1, "i", None),
        ("stride_h", 2, "i", None),
        ("fused_activation", 3, "b", _ACTIVATION),
        ("dilation_w", 4, "i", None),
        ("dilation_h", 5, "i", None),
    ),
    "DEPTHWISE_CONV_2D": (
        ("padding", 0, "b", _PADDING),
        ("stride_w", 1, "i", None),
        ("stride_h", 2, "i", None),
        ("depth_multiplier", 3, "i", None),
        ("fused_activation", 4, "b", _ACTIVATION),
        ("dilation_w", 5, "i", None),
        ("dilation_h", 6, "i", None),
    ),
    "MAX_POOL_2D": (
        ("padding", 0, "b", _PADDING),
        ("stride_w", 1, "i", None),
        ("stride_h", 2, "i", None),
        ("filter_w", 3, "i", None),
        ("filter_h", 4, "i", None),
        ("fused_activation", 5, "b", _ACTIVATION),
    ),
    "ADD": (("fused_activation", 0, "b", _ACTIVATION),),
    "MUL": (("fused_activation", 0, "b", _ACTIVATION),),
    "SUB": (("fused_activation", 0, "b", _ACTIVATION),),
    "CONCATENATION": (("axis", 0, "i", None), ("fused_activation", 1, "b", _ACTIVATION)),
    "RESIZE_BILINEAR": (("align_corners", 2, "?", None), ("half_pixel_centers", 3, "?", None)),
    "FULLY_CONNECTED": (("fused_activation", 0, "b", _ACTIVATION),),
    "DEPTH_TO_SPACE": (("block_size", 0, "i", None),),
}
_OPTION_FIELDS["AVERAGE_POOL_2D"] = _OPTION_FIELDS["MAX_POOL_2D"]
#: Defaults of schema.fbs for the fields above (a FlatBuffer omits fields at default).
_OPTION_DEFAULTS = {"stride_w": 0, "stride_h": 0, "dilation_w": 1, "dilation_h": 1}


@dataclass(frozen=True)
class TFLiteTensor:
    """One tensor; ``data`` is its constant content (``None`` for activations)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    data: np.ndarray | None


@dataclass(frozen=True)
class TFLiteOperator:
    """One operator: builtin name, tensor indices (-1 = optional input absent), options."""

    index: int
    opcode: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TFLiteModel:
    """The first subgraph of a ``.tflite`` file."""

    path: str
    tensors: list[TFLiteTensor]
    operators: list[TFLiteOperator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def tensor(self, name: str) -> TFLiteTensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def constant(self, index: int) -> np.ndarray:
        """Float32 value of a constant tensor, following DEQUANTIZE operators (fp16 weights).

        Walked in a loop (a chain of any length is no RecursionError); the reader has
        already refused cycles and out-of-range indices."""
        seen: set[int] = set()
        while True:
            if not 0 <= index < len(self.tensors) or index in seen:
                raise CheckpointError(
                    f"{self.path}: tensor {index}: expected a constant tensor of the file, got "
                    f"{'a cycle' if index in seen else 'an index out of range'}"
                )
            seen.add(index)
            t = self.tensors[index]
            if t.data is not None:
                return t.data.astype(np.float32) if t.data.dtype.kind == "f" else t.data
            producer = next((op for op in self.operators if index in op.outputs), None)
            if (
                producer is None
                or producer.opcode not in ("DEQUANTIZE", "DENSIFY")
                or not producer.inputs
            ):
                raise CheckpointError(
                    f"{self.path}: tensor {t.name!r} is not a constant (produced by "
                    f"{producer.opcode if producer else 'nothing'})"
                )
            index = producer.inputs[0]


class _Buf:
    """Bounds-checked FlatBuffer access; any inconsistency is a CheckpointError."""

    def __init__(self, data: bytes, path: str) -> None:
        self.data = data
        self.path = path

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: not a valid TFLite model file ({what})")

    def unpack(self, fmt: str, pos: int) -> Any:
        size = struct.calcsize("<" + fmt)
        if pos < 0 or pos + size > len(self.data):
            raise self.fail(f"offset {pos} outside the file")
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def field_pos(self, table: int, index: int) -> int | None:
        vtable = table - self.unpack("i", table)
        vt_size = self.unpack("H", vtable)
        slot = 4 + 2 * index
        if slot + 2 > vt_size:
            return None
        off = self.unpack("H", vtable + slot)
        return table + off if off else None

    def scalar(self, table: int, index: int, fmt: str, default: Any) -> Any:
        pos = self.field_pos(table, index)
        return default if pos is None else self.unpack(fmt, pos)

    def ref(self, table: int, index: int) -> int | None:
        pos = self.field_pos(table, index)
        return None if pos is None else pos + self.unpack("I", pos)

    def vector(self, table: int, index: int) -> tuple[int, int]:
        """(start of elements, length); (0, 0) when the field is absent."""
        pos = self.ref(table, index)
        if pos is None:
            return 0, 0
        n = self.unpack("I", pos)
        return pos + 4, n

    def ints(self, table: int, index: int, fmt: str = "i") -> tuple[int, ...]:
        start, n = self.vector(table, index)
        size = struct.calcsize(fmt)
        if n and start + n * size > len(self.data):
            raise self.fail("vector beyond the end of the file")
        return tuple(struct.unpack_from(f"<{n}{fmt}", self.data, start)) if n else ()

    def tables(self, table: int, index: int) -> list[int]:
        start, n = self.vector(table, index)
        return [start + 4 * i + self.unpack("I", start + 4 * i) for i in range(n)]

    def string(self, table: int, index: int) -> str:
        start, n = self.vector(table, index)
        if start + n > len(self.data):
            raise self.fail("string beyond the end of the file")
        return self.data[start : start + n].decode("utf-8", errors="replace") if n else ""


def read_tflite(path: str | Path) -> TFLiteModel:
    """Read tensors, operators and inputs/outputs of the first subgraph of ``path``.

    Raises :class:`CheckpointError` naming the file when it is not a TFLite model.
    """
    from semapose.errors import InputError
    from semapose.io.bounded import check_regular_file, read_bounded
    from semapose.limits import MAX_WEIGHTS_BYTES

    path = str(path)
    try:
        check_regular_file(path, MAX_WEIGHTS_BYTES, "a TFLite model file")
        data = read_bounded(path, MAX_WEIGHTS_BYTES, "a TFLite model file")
    except InputError as exc:
        raise CheckpointError(f"cannot read the TFLite model: {exc}") from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise CheckpointError(
            f"{path}: not a TFLite model file (expected the FlatBuffer identifier 'TFL3' "
            f"at bytes 4-8, got {data[4:8]!r})"
        )
    buf = _Buf(data, path)
    try:
        return _read_model(buf, path)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise buf.fail(str(exc)) from exc


def _read_model(buf: _Buf, path: str) -> TFLiteModel:
    root = buf.unpack("I", 0)
    opcodes = []
    for oc in buf.tables(root, 1):
        code = buf.scalar(oc, 3, "i", 0)
        deprecated = buf.scalar(oc, 0, "b", 0)
        code = max(code, deprecated)  # files of old writers only set the deprecated byte
        opcodes.append(OPCODE_NAMES.get(code, f"OP_{code}"))
    buffers = buf.tables(root, 4)
    subgraphs = buf.tables(root, 2)
    if not subgraphs:
        raise buf.fail("no subgraph")
    sg = subgraphs[0]

    tensors = []
    for i, t in enumerate(buf.tables(sg, 0)):
        shape = buf.ints(t, 0)
        type_code = buf.scalar(t, 1, "b", 0)
        if type_code not in _TENSOR_TYPES:
            raise buf.fail(f"tensor {i} has the unsupported type code {type_code}")
        dtype = _TENSOR_TYPES[type_code]
        bindex = buf.scalar(t, 2, "I", 0)
        name = buf.string(t, 3)
        array = None
        if 0 < bindex < len(buffers):
            start, n = buf.vector(buffers[bindex], 0)
            sparsity = buf.ref(t, 6)
            if n and sparsity is not None:  # block-sparse constant (read by a DENSIFY)
                if n % dtype.itemsize or start + n > len(buf.data):
                    raise buf.fail(f"tensor {name!r}: {n} bytes of {dtype}")
                values = np.frombuffer(
                    buf.data, dtype=dtype, count=n // dtype.itemsize, offset=start
                )
                array = _densify(buf, sparsity, values, tuple(shape), name)
            elif n:
                count = int(np.prod(shape)) if shape else 1
                if n != count * dtype.itemsize or start + n > len(buf.data):
                    raise buf.fail(f"tensor {name!r}: {n} bytes for shape {shape} of {dtype}")
                array = np.frombuffer(buf.data, dtype=dtype, count=count, offset=start)
                array = array.reshape(shape).copy()
        tensors.append(TFLiteTensor(i, name, tuple(shape), dtype, array))

    op_tables = buf.tables(sg, 3)
    if len(op_tables) > MAX_TFLITE_OPERATORS:
        raise buf.fail(f"{len(op_tables)} operators, more than {MAX_TFLITE_OPERATORS}")
    operators = []
    produced: set[int] = set()
    for i, op in enumerate(op_tables):
        code_index = buf.scalar(op, 0, "I", 0)
        if code_index >= len(opcodes):
            raise buf.fail(f"operator {i} uses the operator code {code_index}")
        name = opcodes[code_index]
        inputs, outputs = buf.ints(op, 1), buf.ints(op, 2)
        # -1 marks an absent optional input; any other negative index, or one past the
        # tensors, would select another tensor or fail later
        if any(not -1 <= j < len(tensors) for j in inputs) or any(
            not 0 <= j < len(tensors) for j in outputs
        ):
            raise buf.fail(f"operator {i} refers to a tensor outside 0-{len(tensors) - 1}")
        # operators are stored in execution order: an input produced by this or a later
        # operator (a cycle, or an operator reading its own output) is not a valid graph
        if set(outputs) & (produced | set(inputs)):
            raise buf.fail(f"operator {i} writes a tensor that is written or read before it")
        produced.update(outputs)
        operators.append(TFLiteOperator(i, name, inputs, outputs, _options(buf, op, name)))
    later = {j: k for k, o in enumerate(operators) for j in o.outputs}
    for k, o in enumerate(operators):
        if any(later.get(j, -1) >= k for j in o.inputs if j >= 0):
            raise buf.fail(f"operator {k} reads a tensor of a later operator (a cycle)")
    sg_inputs, sg_outputs = buf.ints(sg, 1), buf.ints(sg, 2)
    if any(not 0 <= j < len(tensors) for j in sg_inputs + sg_outputs):
        raise buf.fail(f"subgraph inputs/outputs outside 0-{len(tensors) - 1}")
    return TFLiteModel(path, tensors, operators, sg_inputs, sg_outputs)


def _options(buf: _Buf, op: int, name: str) -> dict[str, Any]:
    spec = _OPTION_FIELDS.get(name)
    if spec is None:
        return {}
    table = buf.ref(op, 4)
    out: dict[str, Any] = {}
    for key, index, fmt, enum in spec:
        default = _OPTION_DEFAULTS.get(key, 0)
        value = default if table is None else buf.scalar(table, index, fmt, default)
        out[key] = enum.get(value, value) if enum else value
    return out


def _index_vector(buf: _Buf, table: int, type_index: int, name: str) -> np.ndarray:
    """A ``SparseIndexVector`` union (Int32Vector 1, Uint16Vector 2, Uint8Vector 3)."""
    kind = buf.scalar(table, type_index, "B", 0)
    ref = buf.ref(table, type_index + 1)
    if kind not in (1, 2, 3) or ref is None:
        raise buf.fail(f"tensor {name!r}: sparse index vector of type {kind}")
    return np.asarray(buf.ints(ref, 0, {1: "i", 2: "H", 3: "B"}[kind]), dtype=np.int64)


def _densify(
    buf: _Buf, sparsity: int, values: np.ndarray, shape: tuple[int, ...], name: str
) -> np.ndarray:
    """The dense array of a TFLite sparse tensor (``SparsityParameters``, schema.fbs).

    ``traversal_order`` lists the dimensions (the tensor's, then one per block
    dimension of ``block_map``) from outer to inner; each has a ``DimensionMetadata``:
    DENSE (``dense_size`` entries) or SPARSE_CSR (``array_segments`` per parent entry,
    ``array_indices`` the positions). ``values`` are the stored elements in that order.
    Expanded level by level with numpy (no recursion).
    """
    order = list(buf.ints(sparsity, 0))
    block_map = list(buf.ints(sparsity, 1))
    metas = buf.tables(sparsity, 2)
    rank = len(shape)
    if (
        len(order) != rank + len(block_map)
        or len(metas) != len(order)
        or sorted(order) != list(range(len(order)))
    ):
        raise buf.fail(f"tensor {name!r}: inconsistent sparsity parameters")
    block_size = [0] * len(block_map)
    parent = np.zeros(1, dtype=np.int64)  # position in the parent level
    idx = np.zeros((1, 0), dtype=np.int64)  # per element so far: index of each level
    for level, meta in enumerate(metas):
        fmt = buf.scalar(meta, 0, "b", 0)
        if fmt == 0:  # DENSE
            size = buf.scalar(meta, 1, "i", 0)
            if size <= 0 or len(parent) * size > 1 << 26:
                raise buf.fail(f"tensor {name!r}: dense size {size}")
            parent = (parent[:, None] * size + np.arange(size)[None, :]).reshape(-1)
            idx = np.concatenate(
                [np.repeat(idx, size, axis=0), np.tile(np.arange(size), len(idx))[:, None]], 1
            )
            if order[level] >= rank:
                block_size[order[level] - rank] = size
        else:  # SPARSE_CSR
            seg = _index_vector(buf, meta, 2, name)
            ind = _index_vector(buf, meta, 4, name)
            bad = seg.min(initial=0) < 0 or ind.min(initial=0) < 0
            if bad or len(seg) < parent.max(initial=0) + 2 or seg.max(initial=0) > len(ind):
                raise buf.fail(f"tensor {name!r}: sparse segments out of range")
            counts = seg[parent + 1] - seg[parent]
            if (counts < 0).any():
                raise buf.fail(f"tensor {name!r}: decreasing sparse segments")
            first = np.cumsum(counts) - counts  # where each parent's children start
            pos = (
                np.repeat(seg[parent], counts)
                + np.arange(int(counts.sum()))
                - np.repeat(first, counts)
            )
            idx = np.concatenate([np.repeat(idx, counts, axis=0), ind[pos][:, None]], 1)
            parent = pos.astype(np.int64)
    if len(idx) != len(values):
        raise buf.fail(f"tensor {name!r}: {len(values)} values for {len(idx)} sparse positions")
    full = np.zeros(len(idx), dtype=np.int64)
    orig = np.zeros((len(idx), rank), dtype=np.int64)
    for level, dim in enumerate(order[:rank]):
        orig[:, dim] = idx[:, level]
    for level in range(rank, len(order)):
        b = order[level] - rank
        d = block_map[b]
        orig[:, d] = orig[:, d] * block_size[b] + idx[:, level]
    if (orig >= np.asarray(shape)).any():
        raise buf.fail(f"tensor {name!r}: sparse index beyond the shape {shape}")
    for d in range(rank):
        full = full * shape[d] + orig[:, d]
    dense = np.zeros(int(np.prod(shape)), dtype=values.dtype)
    dense[full] = values
    return dense.reshape(shape)
