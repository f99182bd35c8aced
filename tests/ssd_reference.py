"""Test-only reference: the SSDLite graph run by OpenCV's ``cv2.dnn`` (opencv-python-headless<5.1).

semapose's detector was this code until the PyTorch port (issue 22); the tests keep it
to prove the port equal (``tests/test_ssd_torch.py``). It needs ``cv2.dnn``'s TensorFlow
importer, which opencv 5.1 removed: :func:`cv2_dnn_available` says why it cannot run.

Build the OpenCV DNN text graph (.pbtxt) of a TF Object Detection API SSD graph.

``cv2.dnn.readNetFromTensorflow(frozen.pb, graph.pbtxt)`` runs SSD models when
the text graph describes only the convolutional part plus OpenCV's own SSD
layers (``PriorBox``, ``DetectionOutput``). This module produces that graph for
the standard ``ssd_anchor_generator`` (as used by ``ssdlite_mobilenet_v2``),
following the procedure OpenCV documents for its ``tf_text_graph_ssd.py``
(independent implementation):

1. dump the frozen graph as text with ``cv2.dnn.writeTextGraph`` (weights omitted;
   ``readNetFromTensorflow`` takes them from the .pb by node name);
2. drop the TF pre-/post-processing and anchor subgraphs and every op the
   importer does not need, and bypass ``Identity`` nodes; the first layer then
   reads the input placeholder directly (normalisation is done by
   ``cv2.dnn.blobFromImage``);
3. append: per feature map, flattened class and box predictions and a
   ``PriorBox`` with the anchor sizes of ``ssd_anchor_generator``; their
   concatenations; a sigmoid on the class scores; ``DetectionOutput``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: ops the convolutional trunk needs; others are removed
_KEEP_OPS = frozenset(
    {
        "Conv2D",
        "BiasAdd",
        "Add",
        "AddV2",
        "Relu6",
        "Relu",
        "Placeholder",
        "FusedBatchNorm",
        "FusedBatchNormV3",
        "DepthwiseConv2dNative",
        "ConcatV2",
        "Mul",
        "MaxPool",
        "AvgPool",
        "Identity",
    }
)
_DROP_PREFIXES = ("MultipleGridAnchorGenerator/", "Postprocessor/", "Preprocessor/")
_UNUSED_ATTRS = frozenset(
    {
        "T",
        "data_format",
        "Tshape",
        "N",
        "Tidx",
        "Tdim",
        "use_cudnn_on_gpu",
        "Index",
        "Tperm",
        "is_training",
        "Tpaddings",
        "_class",
        "U",
    }
)


@dataclass
class _Node:
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: list[tuple[str, str]] = field(default_factory=list)  # (key, raw "value {...}" text)

    def to_text(self) -> str:
        lines = ["node {", f'  name: "{self.name}"', f'  op: "{self.op}"']
        lines += [f'  input: "{i}"' for i in self.inputs]
        for key, value in self.attrs:
            lines += ["  attr {", f'    key: "{key}"', f"    {value}", "  }"]
        lines.append("}")
        return "\n".join(lines)


@dataclass(frozen=True)
class SSDAnchors:
    """``ssd_anchor_generator`` hyper-parameters (TF OD API defaults for SSD/SSDLite)."""

    num_layers: int = 6
    min_scale: float = 0.2
    max_scale: float = 0.95
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 0.3333)
    reduce_boxes_in_lowest_layer: bool = True
    image_width: int = 300
    image_height: int = 300

    def layer_sizes(self, i: int) -> tuple[list[float], list[float]]:
        """Anchor (widths, heights) in pixels of feature map ``i``."""
        n = self.num_layers
        scales = [
            self.min_scale + (self.max_scale - self.min_scale) * k / (n - 1) for k in range(n)
        ]
        scales.append(1.0)
        if i == 0 and self.reduce_boxes_in_lowest_layer:
            ws = [0.1, self.min_scale * math.sqrt(2.0), self.min_scale * math.sqrt(0.5)]
            hs = [0.1, self.min_scale / math.sqrt(2.0), self.min_scale / math.sqrt(0.5)]
        else:
            ws = [scales[i] * math.sqrt(a) for a in self.aspect_ratios]
            hs = [scales[i] / math.sqrt(a) for a in self.aspect_ratios]
            inter = math.sqrt(scales[i] * scales[i + 1])
            ws.append(inter)
            hs.append(inter)
        return [w * self.image_width for w in ws], [h * self.image_height for h in hs]


def _blocks(text: str, keyword: str) -> list[str]:
    """Bodies of the top-level ``keyword { ... }`` blocks of a protobuf text dump."""
    out: list[str] = []
    i, n = 0, len(text)
    pattern = re.compile(rf"(?m)^\s*{keyword}\s*\{{")
    while True:
        m = pattern.search(text, i)
        if not m:
            return out
        depth, j = 1, m.end()
        in_str = False
        while j < n and depth:
            c = text[j]
            if in_str:
                if c == "\\":
                    j += 1
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            j += 1
        out.append(text[m.end() : j - 1])
        i = j


def _parse_node(body: str) -> _Node:
    # top-level fields only: strip nested blocks before reading name/op/input
    flat = re.sub(r"\{[^{}]*\}", "", body)
    while "{" in flat:
        flat = re.sub(r"\{[^{}]*\}", "", flat)
    name = re.search(r'name:\s*"([^"]*)"', flat)
    op = re.search(r'op:\s*"([^"]*)"', flat)
    if not name or not op:
        raise ValueError("malformed node in text graph")
    node = _Node(name.group(1), op.group(1), re.findall(r'input:\s*"([^"]*)"', flat))
    for attr in _blocks(body, "attr"):
        key = re.search(r'key:\s*"([^"]*)"', attr)
        val = re.search(r"value\s*\{", attr)
        if key and val:
            node.attrs.append((key.group(1), attr[val.start() :].strip()))
    return node


def _const(name: str, values: list[float] | list[int]) -> _Node:
    return _Node(name, "Const", attrs=[("value", "value { " + _tensor(values) + " }")])


def _tensor(values: list[float] | list[int]) -> str:
    if all(isinstance(v, int) for v in values):
        dtype, fld = "DT_INT32", "int_val"
    else:
        dtype, fld = "DT_FLOAT", "float_val"
    body = " ".join(f"{fld}: {v!r}" for v in values)
    return f"tensor {{ dtype: {dtype} tensor_shape {{ dim {{ size: {len(values)} }} }} {body} }}"


def _attr_list(values: list[float]) -> str:
    return "value { " + _tensor([float(v) for v in values]) + " }"


def build_ssd_text_graph(
    frozen_pb: str | Path,
    output: str | Path,
    num_classes: int = 1,
    anchors: SSDAnchors | None = None,
    input_name: str = "image_tensor",
) -> Path:
    """Write the OpenCV text graph for the SSD ``frozen_pb`` to ``output``; returns ``output``."""
    import tempfile

    import cv2

    anchors = anchors or SSDAnchors()
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "full.pbtxt"
        cv2.dnn.writeTextGraph(str(frozen_pb), str(dump))
        nodes = [_parse_node(b) for b in _blocks(dump.read_text(), "node")]

    # bypass Identity nodes (resolve chains)
    alias = {n.name: n.inputs[0] for n in nodes if n.op == "Identity" and n.inputs}

    def resolve(name: str) -> str:
        seen = 0
        while name in alias and seen < 1000:
            name, seen = alias[name], seen + 1
        return name

    dropped: set[str] = set()
    kept: list[_Node] = []
    for n in nodes:
        if n.op == "Identity" or n.op not in _KEEP_OPS or n.name.startswith(_DROP_PREFIXES):
            if n.op != "Const":
                dropped.add(n.name)
            continue
        n.attrs = [(k, v) for k, v in n.attrs if k not in _UNUSED_ATTRS]
        kept.append(n)
    placeholders = [n for n in kept if n.op == "Placeholder"]
    if len(placeholders) != 1 or placeholders[0].name != input_name:
        raise ValueError(f"{frozen_pb}: expected one input placeholder {input_name!r}")
    placeholders[0].attrs = []
    for n in kept:
        new_inputs = []
        for inp in n.inputs:
            if inp.startswith("^"):
                continue  # control dependency
            src = resolve(inp)
            if src.startswith("Preprocessor/"):
                src = input_name  # the first layer reads the (already normalised) input
            elif src in dropped:
                continue
            new_inputs.append(src)
        n.inputs = new_inputs

    extra: list[_Node] = [
        _const("concat/axis_flatten", [-1]),
        _const("PriorBox/concat/axis", [-2]),
        _const("reshape_prior_boxes_to_4d", [1, 2, -1, 1]),
    ]
    for label in ("ClassPredictor", "BoxEncodingPredictor"):
        flat = []
        for i in range(anchors.num_layers):
            src = f"BoxPredictor_{i}/{label}/BiasAdd"
            extra.append(_Node(src + "/Flatten", "Flatten", [src]))
            flat.append(src + "/Flatten")
        extra.append(_Node(f"{label}/concat", "ConcatV2", [*flat, "concat/axis_flatten"]))
    priors = []
    for i in range(anchors.num_layers):
        ws, hs = anchors.layer_sizes(i)
        prior = _Node(
            f"PriorBox_{i}",
            "PriorBox",
            [f"BoxPredictor_{i}/BoxEncodingPredictor/BiasAdd", input_name],
            [
                ("flip", "value { b: false }"),
                ("clip", "value { b: false }"),
                ("width", _attr_list(ws)),
                ("height", _attr_list(hs)),
                ("variance", _attr_list([0.1, 0.1, 0.2, 0.2])),
            ],
        )
        extra.append(prior)
        extra.append(
            _Node(prior.name + "/4d", "Reshape", [prior.name, "reshape_prior_boxes_to_4d"])
        )
        priors.append(prior.name + "/4d")
    extra.append(_Node("PriorBox/concat", "ConcatV2", [*priors, "PriorBox/concat/axis"]))
    extra.append(_Node("ClassPredictor/concat/sigmoid", "Sigmoid", ["ClassPredictor/concat"]))
    extra.append(
        _Node(
            "detection_out",
            "DetectionOutput",
            ["BoxEncodingPredictor/concat", "ClassPredictor/concat/sigmoid", "PriorBox/concat"],
            [
                ("num_classes", f"value {{ i: {num_classes + 1} }}"),
                ("share_location", "value { b: true }"),
                ("background_label_id", "value { i: 0 }"),
                ("nms_threshold", "value { f: 0.6 }"),
                ("top_k", "value { i: 100 }"),
                ("code_type", 'value { s: "CENTER_SIZE" }'),
                ("keep_top_k", "value { i: 100 }"),
                ("confidence_threshold", "value { f: 0.01 }"),
                ("loc_pred_transposed", "value { b: true }"),
            ],
        )
    )
    graph = _prune_unconnected(kept + extra, "detection_out")
    out = Path(output)
    out.write_text("\n".join(n.to_text() for n in graph) + "\n")
    return out


def _prune_unconnected(nodes: list[_Node], output: str) -> list[_Node]:
    """Keep only the nodes the output depends on (Const nodes referenced by name stay)."""
    by_name = {n.name: n for n in nodes}
    needed: set[str] = set()
    stack = [output]
    while stack:
        name = stack.pop()
        if name in needed or name not in by_name:
            continue
        needed.add(name)
        stack.extend(by_name[name].inputs)
    return [n for n in nodes if n.name in needed]


def cv2_dnn_available() -> str | None:
    """None when this OpenCV runs TensorFlow graphs in cv2.dnn, else the reason it cannot."""
    try:
        import cv2
    except ImportError:
        return "OpenCV is not installed"
    if not hasattr(cv2, "dnn") or not hasattr(cv2.dnn, "readNetFromTensorflow"):
        return (
            f"opencv {cv2.__version__} has no cv2.dnn.readNetFromTensorflow (removed in 5.1); "
            "the reference needs opencv-python-headless<5.1 (CI's lowest-versions job runs it)"
        )
    if not hasattr(cv2.dnn, "writeTextGraph"):
        return f"opencv {cv2.__version__} has no cv2.dnn.writeTextGraph"
    return None


class ReferenceSSD:
    """The former cv2.dnn run of the SSDLite graph (test-only): same windows, same selection."""

    def __init__(
        self,
        pb: str | Path,
        score_threshold: float = 0.3,
        nms_iou: float = 0.5,
        min_size: float = 8.0,
        input_size: int = 300,
    ) -> None:
        import tempfile

        import cv2

        with tempfile.TemporaryDirectory() as tmp:
            pbtxt = build_ssd_text_graph(pb, Path(tmp) / "ssdlite_person.pbtxt", num_classes=1)
            self.net = cv2.dnn.readNetFromTensorflow(str(pb), str(pbtxt))
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.min_size = min_size
        self.input_size = input_size

    def raw(self, crops: list[Any]) -> Any:
        """DetectionOutput rows (image id, class, score, x1, y1, x2, y2) of 300x300 inputs."""
        import cv2
        import numpy as np

        s = self.input_size
        blob = cv2.dnn.blobFromImages(crops, 1 / 127.5, (s, s), (127.5, 127.5, 127.5), swapRB=False)
        self.net.setInput(blob)
        return np.asarray(self.net.forward()).reshape(-1, 7)

    def detect_windows(self, frame_rgb: Any, windows: list[tuple[int, int, int, int]]) -> Any:
        import numpy as np

        from semapose.inference.detectors.boxops import clip_boxes, empty_boxes, nms

        h, w = frame_rgb.shape[:2]
        crops = [np.ascontiguousarray(frame_rgb[y0:y1, x0:x1]) for x0, y0, x1, y1 in windows]
        out = self.raw(crops)
        out = out[(out[:, 2] >= self.score_threshold) & np.isfinite(out).all(axis=1)]
        if len(out) == 0:
            return empty_boxes()
        boxes = np.zeros((len(out), 5), dtype=np.float32)
        for k, (img_id, _cls, score, bx1, by1, bx2, by2) in enumerate(out):
            x0, y0, x1, y1 = windows[int(img_id)]
            cw, ch = x1 - x0, y1 - y0
            boxes[k] = (x0 + bx1 * cw, y0 + by1 * ch, x0 + bx2 * cw, y0 + by2 * ch, score)
        boxes = clip_boxes(boxes, w, h)
        big = (boxes[:, 2] - boxes[:, 0] >= self.min_size) & (
            boxes[:, 3] - boxes[:, 1] >= self.min_size
        )
        return nms(boxes[big], self.nms_iou)
