"""A small pure-Python reader of TensorFlow frozen graphs (``GraphDef`` protobuf, ``.pb``).

A frozen graph is one serialized ``tensorflow.GraphDef`` message in the protobuf wire
format: every field is a key varint ``(field number << 3) | wire type`` followed by a
varint (type 0), 8 bytes (1), a length-prefixed run of bytes (2) or 4 bytes (5). This
module decodes it with its own code (neither TensorFlow nor the ``protobuf`` package)
and keeps what a weight converter needs: the nodes (name, op, inputs, attributes) and
the constant tensors. It executes nothing.

The schema is fixed (``tensorflow/core/framework/*.proto``), so the decoder follows it
message by message with bounded depth; it never recurses on the input. Field numbers:
``GraphDef{node 1}``; ``NodeDef{name 1, op 2, input 3, device 4, attr 5}`` (``attr``
is a map: entries ``{key 1, value 2}``); ``AttrValue{list 1, s 2, i 3, f 4, b 5,
type 6, shape 7, tensor 8}``; ``AttrValue.ListValue{s 2, i 3, f 4, b 5, type 6,
shape 7}``; ``TensorProto{dtype 1, tensor_shape 2, tensor_content 4, float_val 5,
double_val 6, int_val 7, int64_val 10, bool_val 11, half_val 13}``;
``TensorShapeProto{dim 2, unknown_rank 3}``, ``Dim{size 1}``. ``DataType`` values:
``DT_FLOAT 1, DT_DOUBLE 2, DT_INT32 3, DT_UINT8 4, DT_INT16 5, DT_INT8 6,
DT_STRING 7, DT_INT64 9, DT_BOOL 10, DT_HALF 19``.

Any inconsistency (a truncated varint, a length beyond its message, a tensor whose
data do not match its shape, limits below exceeded) is a :class:`CheckpointError`
naming the file: one line, never a traceback.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import CheckpointError

__all__ = ["TFGraph", "TFNode", "read_tf_graph", "MAX_GRAPH_BYTES"]

# the bounds on a graph file (limits.py)
from semapose.limits import MAX_GRAPH_ATTRS as _MAX_ATTRS
from semapose.limits import MAX_GRAPH_BYTES
from semapose.limits import MAX_GRAPH_DIMS as _MAX_DIMS
from semapose.limits import MAX_GRAPH_ELEMENTS as _MAX_ELEMENTS
from semapose.limits import MAX_GRAPH_INPUTS as _MAX_INPUTS
from semapose.limits import MAX_GRAPH_LIST_VALUES as _MAX_LIST_VALUES
from semapose.limits import MAX_GRAPH_NODES as _MAX_NODES

#: DataType enum -> numpy dtype (little-endian as TensorFlow writes tensor_content).
_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),
    2: np.dtype("<f8"),
    3: np.dtype("<i4"),
    4: np.dtype("u1"),
    5: np.dtype("<i2"),
    6: np.dtype("i1"),
    9: np.dtype("<i8"),
    10: np.dtype("?"),
    19: np.dtype("<f2"),
}
_DT_STRING = 7


@dataclass(frozen=True)
class TFNode:
    """One ``NodeDef``: ``attrs`` maps attribute names to Python values.

    Attribute values: ``str`` (``s``, decoded as UTF-8), ``int`` (``i``, ``type``),
    ``float``, ``bool``, ``tuple[int, ...]`` (``shape``; -1 for unknown sizes),
    ``np.ndarray`` (``tensor``) or a ``list`` of those (``list``).
    """

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict[str, Any]


@dataclass(frozen=True)
class TFGraph:
    """The nodes of a frozen graph, in file order."""

    path: str
    nodes: list[TFNode]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {n.name: n for n in self.nodes})

    def node(self, name: str) -> TFNode:
        """The node called ``name`` (an input reference ``name:0`` or ``^name`` also works)."""
        key = name.lstrip("^").split(":")[0]
        found = self._by_name.get(key)  # type: ignore[attr-defined]
        if found is None:
            raise CheckpointError(f"{self.path}: the graph has no node {name!r}")
        return found

    def has(self, name: str) -> bool:
        return name.lstrip("^").split(":")[0] in self._by_name  # type: ignore[attr-defined]

    def resolve(self, name: str) -> TFNode:
        """The node ``name`` refers to once ``Identity`` nodes are followed."""
        node = self.node(name)
        for _ in range(len(self.nodes)):
            if node.op != "Identity" or not node.inputs:
                return node
            node = self.node(node.inputs[0])
        raise CheckpointError(f"{self.path}: a cycle of Identity nodes at {name!r}")

    def constant(self, name: str) -> np.ndarray:
        """The value of the ``Const`` node ``name`` refers to (through ``Identity``)."""
        node = self.resolve(name)
        value = node.attrs.get("value")
        if node.op != "Const" or not isinstance(value, np.ndarray):
            raise CheckpointError(
                f"{self.path}: node {name!r}: expected a constant, got the op {node.op!r}"
            )
        return value


class _Reader:
    """Bounded protobuf wire-format access to ``data``; errors name ``path``."""

    def __init__(self, data: bytes, path: str) -> None:
        self.data = data
        self.path = path

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: not a valid TensorFlow GraphDef file ({what})")

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        result = shift = 0
        for _ in range(10):
            if pos >= end:
                raise self.fail(f"truncated varint at byte {pos}")
            b = self.data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result, pos
            shift += 7
        raise self.fail(f"varint longer than 10 bytes at byte {pos}")

    def fields(self, start: int, end: int) -> Iterator[tuple[int, int, Any]]:
        """(field number, wire type, value) of a message; value is an int or (start, end)."""
        pos = start
        while pos < end:
            key, pos = self.varint(pos, end)
            number, wire = key >> 3, key & 7
            value: Any
            if number == 0:
                raise self.fail(f"field number 0 at byte {pos}")
            if wire == 0:
                value, pos = self.varint(pos, end)
            elif wire == 1:
                if pos + 8 > end:
                    raise self.fail(f"truncated 64-bit field at byte {pos}")
                value, pos = self.data[pos : pos + 8], pos + 8
            elif wire == 2:
                n, pos = self.varint(pos, end)
                if n > end - pos:
                    raise self.fail(f"field {number}: {n} bytes at byte {pos} overrun the message")
                value, pos = (pos, pos + n), pos + n
            elif wire == 5:
                if pos + 4 > end:
                    raise self.fail(f"truncated 32-bit field at byte {pos}")
                value, pos = self.data[pos : pos + 4], pos + 4
            else:
                raise self.fail(f"unsupported wire type {wire} at byte {pos}")
            yield number, wire, value

    def text(self, span: tuple[int, int]) -> str:
        return self.data[span[0] : span[1]].decode("utf-8", errors="replace")

    def packed_varints(self, wire: int, value: Any) -> list[int]:
        if wire == 0:
            return [value]
        if wire != 2:
            raise self.fail(f"expected varints, got wire type {wire}")
        out: list[int] = []
        pos, end = value
        while pos < end:
            v, pos = self.varint(pos, end)
            out.append(v)
            if len(out) > _MAX_LIST_VALUES:
                raise self.fail("too many packed values")
        return out

    def packed_fixed(self, wire: int, value: Any, fmt: str) -> list[Any]:
        size = struct.calcsize(fmt)
        if wire in (1, 5):
            raw = bytes(value)
        elif wire == 2:
            raw = self.data[value[0] : value[1]]
        else:
            raise self.fail(f"expected fixed-size values, got wire type {wire}")
        if len(raw) % size:
            raise self.fail(f"{len(raw)} bytes of packed {size}-byte values")
        if len(raw) // size > _MAX_LIST_VALUES:
            raise self.fail("too many packed values")
        return list(struct.unpack(f"<{len(raw) // size}{fmt}", raw))


def _signed(v: int) -> int:
    """A varint read as int64 (two's complement)."""
    return v - (1 << 64) if v >= 1 << 63 else v


def read_tf_graph(path: str | Path) -> TFGraph:
    """Read the nodes of the frozen TensorFlow graph ``path``.

    Raises :class:`CheckpointError` naming the file when it cannot be read or is not
    a GraphDef.
    """
    path = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_GRAPH_BYTES:
            raise CheckpointError(
                f"{path}: {size} bytes is larger than a frozen graph semapose reads "
                f"({MAX_GRAPH_BYTES} bytes at most)"
            )
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the TensorFlow graph ({exc.strerror})") from exc
    reader = _Reader(data, path)
    nodes: list[TFNode] = []
    try:
        for number, wire, value in reader.fields(0, len(data)):
            if number == 1 and wire == 2:
                nodes.append(_node(reader, *value))
                if len(nodes) > _MAX_NODES:
                    raise reader.fail(f"more than {_MAX_NODES} nodes")
    except (struct.error, ValueError, OverflowError, MemoryError) as exc:
        raise reader.fail(str(exc)) from None
    if not nodes:
        raise reader.fail("no nodes")
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise reader.fail("two nodes share a name")
    return TFGraph(path, nodes)


def _node(r: _Reader, start: int, end: int) -> TFNode:
    name = op = ""
    inputs: list[str] = []
    attrs: dict[str, Any] = {}
    for number, wire, value in r.fields(start, end):
        if wire != 2:
            continue
        if number == 1:
            name = r.text(value)
        elif number == 2:
            op = r.text(value)
        elif number == 3:
            inputs.append(r.text(value))
            if len(inputs) > _MAX_INPUTS:
                raise r.fail(f"node {name!r} has more than {_MAX_INPUTS} inputs")
        elif number == 5:
            key, attr = "", None
            for n2, w2, v2 in r.fields(*value):
                if n2 == 1 and w2 == 2:
                    key = r.text(v2)
                elif n2 == 2 and w2 == 2:
                    attr = _attr_value(r, *v2)
            attrs[key] = attr
            if len(attrs) > _MAX_ATTRS:
                raise r.fail(f"node {name!r} has more than {_MAX_ATTRS} attributes")
    if not name or not op:
        raise r.fail(f"a node without {'a name' if not name else 'an op'} at byte {start}")
    return TFNode(name, op, tuple(inputs), attrs)


def _attr_value(r: _Reader, start: int, end: int) -> Any:
    out: Any = None
    for number, wire, value in r.fields(start, end):
        if number == 1 and wire == 2:
            out = _list_value(r, *value)
        elif number == 2 and wire == 2:
            out = r.text(value)
        elif number == 3 and wire == 0:
            out = _signed(value)
        elif number == 4 and wire == 5:
            out = struct.unpack("<f", value)[0]
        elif number == 5 and wire == 0:
            out = bool(value)
        elif number == 6 and wire == 0:
            out = int(value)
        elif number == 7 and wire == 2:
            out = _shape(r, *value)
        elif number == 8 and wire == 2:
            out = _tensor(r, *value)
    return out


def _list_value(r: _Reader, start: int, end: int) -> list[Any]:
    out: list[Any] = []
    for number, wire, value in r.fields(start, end):
        if number == 2 and wire == 2:
            out.append(r.text(value))
        elif number in (3, 6):
            out.extend(_signed(v) for v in r.packed_varints(wire, value))
        elif number == 4:
            out.extend(r.packed_fixed(wire, value, "f"))
        elif number == 5:
            out.extend(bool(v) for v in r.packed_varints(wire, value))
        elif number == 7 and wire == 2:
            out.append(_shape(r, *value))
        if len(out) > _MAX_LIST_VALUES:
            raise r.fail("attribute list too long")
    return out


def _shape(r: _Reader, start: int, end: int) -> tuple[int, ...]:
    dims: list[int] = []
    for number, wire, value in r.fields(start, end):
        if number == 2 and wire == 2:
            size = 0
            for n2, w2, v2 in r.fields(*value):
                if n2 == 1 and w2 == 0:
                    size = _signed(v2)
            dims.append(size)
            if len(dims) > _MAX_DIMS:
                raise r.fail(f"a shape with more than {_MAX_DIMS} dimensions")
    return tuple(dims)


def _tensor(r: _Reader, start: int, end: int) -> np.ndarray | None:
    dtype_code = 0
    shape: tuple[int, ...] = ()
    content: tuple[int, int] | None = None
    values: list[Any] = []
    for number, wire, value in r.fields(start, end):
        if number == 1 and wire == 0:
            dtype_code = value
        elif number == 2 and wire == 2:
            shape = _shape(r, *value)
        elif number == 4 and wire == 2:
            content = value
        elif number == 5:
            values.extend(r.packed_fixed(wire, value, "f"))
        elif number == 6:
            values.extend(r.packed_fixed(wire, value, "d"))
        elif number in (7, 10, 11, 13):
            values.extend(_signed(v) for v in r.packed_varints(wire, value))
        if len(values) > _MAX_LIST_VALUES:
            raise r.fail("too many tensor values")
    if dtype_code == _DT_STRING:
        return None  # string constants (e.g. asset names) are not weights
    dtype = _DTYPES.get(dtype_code)
    if dtype is None:
        raise r.fail(f"a tensor of the unsupported DataType {dtype_code} at byte {start}")
    if any(d < 0 for d in shape):
        raise r.fail(f"a constant tensor of unknown shape {shape}")
    count = 1
    for d in shape:
        count *= d
        if count > _MAX_ELEMENTS:
            raise r.fail(f"a tensor of shape {shape} is too large")
    if content is not None:
        n = content[1] - content[0]
        if n != count * dtype.itemsize:
            raise r.fail(f"tensor_content of {n} bytes for shape {shape} of {dtype}")
        return np.frombuffer(r.data, dtype=dtype, count=count, offset=content[0]).reshape(shape)
    if count > _MAX_LIST_VALUES:
        raise r.fail(f"a tensor of shape {shape} without tensor_content")
    if dtype_code == 19:  # half_val holds the fp16 bit patterns as ints
        array = np.array(values, dtype=np.uint16).view(np.float16)
    else:
        array = np.array(values, dtype=dtype)
    if array.size == count:
        return array.reshape(shape)
    if array.size == 0:
        return np.zeros(shape, dtype=dtype)
    if array.size < count:  # TF repeats the last value to fill the shape
        return np.concatenate([array, np.full(count - array.size, array[-1], dtype)]).reshape(shape)
    raise r.fail(f"{array.size} values for a tensor of shape {shape}")
