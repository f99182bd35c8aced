"""``--device`` reaches the person detector: the factory, predict's and the API's detector,
and the network, anchors and NMS of SSDLite and BlazePose's detector (PyTorch, one code
path). This machine has no GPU: the ``meta`` device (tensors without storage) shows that
the detector builds its tensors on the device it is given, and device strings that do not
exist here (``cuda:3``) are passed through unchanged, without loading anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from semapose.inference.detectors import build_detector
from test_predict_helpers import NO_SSDLITE, ssdlite_available


@pytest.mark.parametrize("name", ["ssdlite", "blazepose", "ssdlite+blazepose"])
def test_factory_passes_the_device(name: str) -> None:
    det = build_detector(name, device="cuda:3")  # nothing loads: no GPU needed
    parts = [det.first, det.second] if name == "ssdlite+blazepose" else [det]  # type: ignore[attr-defined]
    assert [p.device for p in parts] == ["cuda:3"] * len(parts)
    cpu = torch.device("cpu")
    det = build_detector(name, device=cpu)
    parts = [det.first, det.second] if name == "ssdlite+blazepose" else [det]  # type: ignore[attr-defined]
    assert all(p.device == cpu for p in parts)


def test_default_device_is_cpu() -> None:
    assert build_detector("ssdlite").device == "cpu"  # type: ignore[attr-defined]


def test_predict_and_api_build_the_detector_on_the_model_device() -> None:
    from semapose.inference.predictor import Predictor

    dev = torch.device("meta")
    predictor = Predictor(loaded=None, options=None, device=dev)  # type: ignore[arg-type]
    assert predictor.make_detector(Path("clip.mp4"), None, None, False).device == dev
    assert predictor.make_detector(Path("clip.mp4"), None, "blazepose", False).device == dev


@pytest.mark.skipif(not ssdlite_available(), reason=NO_SSDLITE)
def test_ssdlite_network_anchors_and_nms_on_the_device() -> None:
    det = build_detector("ssdlite", device=torch.device("meta")).load()  # type: ignore[attr-defined]
    assert {p.device.type for p in det._net.parameters()} == {"meta"}
    assert det._net.anchors.device.type == "meta"
    # selection runs where the boxes are (torch NMS, no copy to the CPU before it)
    from semapose.inference.detectors.torch_nms import batched_nms

    boxes = torch.tensor([[[0.0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]]])
    keep = batched_nms(boxes, torch.tensor([[0.9, 0.8, 0.7]]), 0.5)
    assert keep.device == boxes.device and keep.tolist() == [[0, 2, -1]]
    cpu = build_detector("ssdlite", device=torch.device("cpu")).load()  # type: ignore[attr-defined]
    assert {p.device.type for p in cpu._net.parameters()} == {"cpu"}
    out = cpu.detect(np.zeros((64, 96, 3), np.uint8))
    assert out.dtype == np.float32 and out.shape[1] == 5


def test_blazepose_detector_network_on_the_device() -> None:
    from semapose.weights.assets import cached_asset

    if cached_asset("blazepose_detector") is None:
        pytest.skip("blazepose_detector not cached (run `semapose fetch blazepose_detector`)")
    det = build_detector("blazepose", device=torch.device("meta")).load()  # type: ignore[attr-defined]
    assert {p.device.type for p in det._net.parameters()} == {"meta"}
