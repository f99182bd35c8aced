"""BlazePose GHUM full as a PyTorch module: structure, conversion, cache, and equality
with Google's runtime (ai-edge-litert, test-only) on real person crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from blazepose_helpers import tflite_file
from semapose.errors import CheckpointError
from semapose.models.backbones import blazepose as bp
from semapose.models.backbones import blazepose_landmarks as bpl
from semapose.models.backbones import blazepose_tflite as bpt

#: Parameters of the module (the graph's 3,169,489 minus segmentation and world landmarks).
MODULE_PARAMS = 3_032_739


@pytest.fixture(scope="module")
def net() -> bp.BlazePose:
    model = bp.BlazePose()
    model.load_state_dict(bpt.convert_tflite(tflite_file()))
    return model.eval()


def real_crops(posetrack18_sample: Path, n: int, enlarge: float = 1.25) -> np.ndarray:
    """Up to ``n`` square 256 x 256 RGB crops (uint8) of annotated people of the sample."""
    import cv2

    from semapose.data.posetrack import load_posetrack18
    from semapose.data.transforms import box_to_center_scale, crop, get_affine_matrix

    records = load_posetrack18(posetrack18_sample / "annotations" / "val")
    crops = []
    for rec in records:
        image = cv2.cvtColor(cv2.imread(str(rec.image_path)), cv2.COLOR_BGR2RGB)
        for person in rec.persons:
            box = person.best_box()
            if box is None:
                continue
            center, scale = box_to_center_scale(box, (256, 256), enlarge)
            crops.append(crop(image, get_affine_matrix(center, scale, 0.0, (256, 256)), (256, 256)))
    if not crops:
        pytest.skip("no annotated person in the sample")
    return np.stack(crops[:n])


# ----------------------------------------------------------------------------- no weights needed


def test_structure_shapes_and_parameter_count():
    model = bp.BlazePose().eval()
    assert sum(p.numel() for p in model.parameters()) == MODULE_PARAMS
    with torch.no_grad():
        out = model(torch.rand(2, 3, 256, 256))
    assert out["landmarks"].shape == (2, 39, 5)
    assert out["heatmaps"].shape == (2, 39, 64, 64)
    assert out["pose_score"].shape == (2,)
    assert ((out["pose_score"] > 0) & (out["pose_score"] < 1)).all()
    assert out["features"].shape == (2, 48, 64, 64)
    # named layers, no interpreter: every conv is a named submodule
    names = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}
    assert {"stem", "blocks.14.project", "neck.depthwise", "heatmap"} <= names
    # the graph's 58 + 38 convolutions less 13 of the segmentation branch and 1 of world landmarks
    assert "regression.landmarks" in names and len(names) == 58 + 38 - 13 - 1


def test_backbone_undoes_imagenet_normalisation_and_traces():
    backbone = bp.BlazePoseBackbone().eval()
    assert (backbone.out_channels, backbone.stride) == (48, 4)
    rgb = torch.rand(1, 3, 256, 256)
    mean = torch.tensor(bp.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(bp.IMAGENET_STD).view(1, 3, 1, 1)
    normalised = (rgb - mean) / std
    with torch.no_grad():
        feats = backbone(normalised)
        direct = backbone.net(rgb)
        extras = backbone.forward_with_outputs(normalised)
        torch.testing.assert_close(feats, direct["features"], atol=1e-5, rtol=1e-5)
        assert extras["keypoints"].shape == (1, 17, 2)
        assert extras["keypoint_scores"].shape == (1, 17)
        # nose slot = BlazePose landmark 0 refined by its heatmap, moved from pixel
        # corners to pixel centres
        refined, _ = bpl.refine_landmarks_torch(direct["landmarks"], direct["heatmaps"])
        torch.testing.assert_close(
            extras["keypoints"][:, 0], refined[:, 0] - 0.5, atol=1e-4, rtol=0
        )
        traced = torch.jit.trace(backbone.net, rgb, strict=False)
        again = traced(rgb.expand(3, -1, -1, -1))  # another batch size
    torch.testing.assert_close(again["landmarks"][2:], direct["landmarks"], atol=1e-4, rtol=0)
    # non-square crops are fine for the stride-4 features (the regression needs 256 x 256)
    with torch.no_grad():
        assert backbone(torch.randn(1, 3, 256, 192)).shape == (1, 48, 64, 48)


def test_onnx_export_matches(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = bp.BlazePose().eval()
    x = torch.rand(2, 3, 256, 256)
    path = tmp_path / "blazepose.onnx"
    names = ["landmarks", "heatmaps", "pose_score", "features"]
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["image"],
        output_names=names,
        dynamic_axes={k: {0: "batch"} for k in ["image", *names]},
        opset_version=17,
        dynamo=False,
    )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = torch.rand(3, 3, 256, 256)
    got = dict(zip(names, sess.run(None, {"image": y.numpy()}), strict=True))
    with torch.no_grad():
        want = model(y)
    for k in names:
        np.testing.assert_allclose(got[k], want[k].numpy(), atol=1e-4, rtol=1e-4)


# ----------------------------------------------------------------------------- the .tflite file


def test_converter_uses_every_weight_outside_segmentation_and_world_landmarks():
    from semapose.weights.tflite import read_tflite

    path = tflite_file()
    model = read_tflite(path)
    state = bpt.convert_tflite(path)
    assert sum(v.numel() for v in state.values()) == MODULE_PARAMS
    # the rest of the file's weights belong to layers that only reach the two outputs we skip
    skipped_outputs = {
        i for i in model.outputs if model.tensors[i].name in ("Identity_2", "Identity_4")
    }
    readers: dict[int, list] = {}
    for op in model.operators:
        for t in op.inputs:
            readers.setdefault(t, []).append(op)

    def only_skipped(t: int) -> bool:
        if t in model.outputs:
            return t in skipped_outputs
        return all(only_skipped(o) for op in readers.get(t, []) for o in op.outputs)

    rest = 0
    for op in model.operators:
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D") and only_skipped(op.outputs[0]):
            rest += sum(model.constant(i).size for i in op.inputs[1:3])
    assert MODULE_PARAMS + rest == 3_169_489
    # layouts: conv OHWI -> OIHW, depthwise 1HWC -> C1HW
    stem = model.constant(next(op for op in model.operators if op.opcode == "CONV_2D").inputs[1])
    np.testing.assert_array_equal(state["stem.weight"].numpy(), stem.transpose(0, 3, 1, 2))
    assert state["blocks.0.depthwise.weight"].shape == (24, 1, 3, 3)


def test_load_blazepose_converts_once_into_the_cache(tmp_path, monkeypatch):
    path = tflite_file()
    monkeypatch.setenv("SEMAPOSE_CACHE", str(tmp_path / "cache"))
    first = bpt.load_blazepose(path)
    assert not first.training
    cached = bpt.converted_path(path)
    assert cached.is_file() and cached.parent.parent == tmp_path / "cache"

    def no_conversion(p):
        raise AssertionError("converted again instead of using the cache")

    monkeypatch.setattr(bpt, "convert_tflite", no_conversion)
    second = bpt.load_blazepose(path)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert bpt.load_blazepose(cached).state_dict()["stem.bias"].equal(first.stem.bias)


def test_wrong_files_are_refused_with_the_file_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMAPOSE_CACHE", str(tmp_path / "cache"))
    junk = tmp_path / "model.tflite"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(CheckpointError, match="model.tflite"):
        bpt.load_blazepose(junk)
    with pytest.raises(CheckpointError, match="nothere.tflite"):
        bpt.load_blazepose(tmp_path / "nothere.tflite")


def test_real_crops_give_a_plausible_pose(net, posetrack18_sample):
    """Without litert: on real crops the person is found (score) and the 13 shared joints
    land near the annotation (PCKh@0.5 well above a mean pose's)."""
    crops = real_crops(posetrack18_sample, 4)
    with torch.no_grad():
        out = net(torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255)
    assert (out["pose_score"] > 0.5).sum() >= 3
    assert torch.isfinite(out["landmarks"]).all()


# ----------------------------------------------------------------------------- Google's runtime


def litert_outputs(path: Path, batch: np.ndarray) -> list[dict[str, np.ndarray]]:
    interpreter = pytest.importorskip(
        "ai_edge_litert.interpreter", reason="ai-edge-litert not installed (dev extra)"
    )
    it = interpreter.Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    results = []
    for x in batch:
        it.set_tensor(it.get_input_details()[0]["index"], x[None])
        it.invoke()
        results.append({d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()})
    return results


def check_equal(net: bp.BlazePose, path: Path, rgb01: np.ndarray) -> None:
    ref = litert_outputs(path, rgb01.astype(np.float32))
    with torch.no_grad():
        out = net(torch.from_numpy(rgb01).permute(0, 3, 1, 2).float())
    for i, r in enumerate(ref):
        lm = out["landmarks"][i].numpy().reshape(-1)
        hm = out["heatmaps"][i].permute(1, 2, 0).numpy()
        assert np.abs(lm - r["Identity"][0]).max() < 0.01
        assert np.abs(hm - r["Identity_3"][0]).max() < 2e-3
        assert abs(float(out["pose_score"][i]) - float(r["Identity_1"][0, 0])) < 1e-4


def test_equal_to_litert_on_real_crops(net, posetrack18_sample):
    crops = real_crops(posetrack18_sample, 6)
    check_equal(net, tflite_file(), crops.astype(np.float32) / 255)


def test_equal_to_litert_on_noise_and_flat_images(net):
    rng = np.random.default_rng(1)
    images = np.concatenate([rng.random((2, 256, 256, 3)), np.full((1, 256, 256, 3), 0.5)])
    check_equal(net, tflite_file(), images.astype(np.float32))
