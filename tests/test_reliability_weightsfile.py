"""Weights files from someone else (issue 24): the config they embed sizes nothing
before it is checked, and names no URL or file that semapose would fetch or open."""

from __future__ import annotations

import json
import resource
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from semapose.config import to_dict  # noqa: E402
from semapose.errors import SemaposeError  # noqa: E402
from semapose.inference.loading import load_model  # noqa: E402


def _with_config(tmp_path: Path, name: str, edit: Any, meta: dict[str, str] | None = None) -> Path:
    """A tiny semapose checkpoint whose embedded config is ``edit(config dict)``."""
    from semapose.engine.checkpoint import save_weights
    from test_predict_helpers import tiny_cfg, tiny_model

    cfg = tiny_cfg()
    raw = to_dict(cfg)
    edit(raw)
    path = tmp_path / name
    save_weights(tiny_model(cfg), path, {"semapose_config": json.dumps(raw), **(meta or {})})
    return path


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda c: c["model"].update(dim=8192, patch_depth=64, heads=4), "model.dim"),
        (lambda c: c["data"].update(image_size=[48000, 36000]), "data.image_size"),
    ],
)
def test_a_huge_model_in_an_embedded_config_is_refused_before_building(
    tmp_path: Path, edit: Any, key: str
) -> None:
    path = _with_config(tmp_path, "big.safetensors", edit)
    before = _rss_mib()
    with pytest.raises(SemaposeError, match=rf"big\.safetensors: {key}: expected"):
        load_model(path)
    assert _rss_mib() - before < 500  # nothing was allocated for the model


@pytest.mark.parametrize(
    "value", ["http://127.0.0.1:9/evil.pth#sha256=" + "0" * 64, "/etc/passwd", "../x.pth"]
)
@pytest.mark.parametrize("where", ["config", "meta"])
@pytest.mark.parametrize("complete", [True, False])
def test_a_weights_file_naming_a_url_or_a_path_never_makes_semapose_open_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, where: str, complete: bool
) -> None:
    """Before: the URL was downloaded, ``/etc/passwd`` opened as weights. Now the address
    is never followed: a file holding every tensor loads without it, a file leaving
    tensors out is refused naming the field."""
    import semapose.models.build as build
    import semapose.weights.download as download

    opened: list[str] = []
    monkeypatch.setattr(download, "fetch_url", lambda *a, **k: opened.append(str(a)))
    monkeypatch.setattr(build, "load_pretrained", lambda *a, **k: opened.append(str(a)) or [])

    def edit(c: dict[str, Any]) -> None:
        if where == "config":
            c["model"]["backbone_weights"] = value

    meta = {"init_backbone_weights": value} if where == "meta" else {}
    path = _with_config(tmp_path, "w.safetensors", edit, meta)
    if not complete:  # leave the backbone out, as a frozen-backbone file does
        from safetensors.torch import load_file, save_file

        from semapose.weights.read import safetensors_metadata

        tensors = {k: v for k, v in load_file(str(path)).items() if not k.startswith("backbone.")}
        save_file(tensors, str(path), metadata=safetensors_metadata(path))
        field = "model.backbone_weights" if where == "config" else "init_backbone_weights"
        with pytest.raises(
            SemaposeError, match=rf"w\.safetensors: {field}: expected empty, a weights name"
        ):
            load_model(path)
    else:
        assert load_model(path).cfg.model.backbone_weights == ""
    assert opened == []


def test_a_weights_file_naming_a_registry_asset_still_loads(tmp_path: Path) -> None:
    from semapose.weights.resolve import check_embedded_reference

    check_embedded_reference("blazepose_full", tmp_path / "x.safetensors", "f")
    check_embedded_reference("", tmp_path / "x.safetensors", "f")


def test_a_backbone_beside_the_file_is_followed_one_elsewhere_is_not(tmp_path: Path) -> None:
    from semapose.weights.resolve import is_allowed_reference

    own = tmp_path / "run" / "w.safetensors"
    own.parent.mkdir()
    own.write_bytes(b"x")
    (own.parent / "bb.safetensors").write_bytes(b"x")
    (tmp_path / "out.safetensors").write_bytes(b"x")
    (own.parent / "link.safetensors").symlink_to(tmp_path / "out.safetensors")
    assert is_allowed_reference("bb.safetensors", own)
    assert is_allowed_reference(str(own.parent / "bb.safetensors"), own)
    elsewhere = [
        "../out.safetensors",
        str(tmp_path / "out.safetensors"),
        "link.safetensors",
        "/etc/passwd",
        "file:///etc/passwd",
        "~/bb.safetensors",
        "missing.safetensors",
    ]
    for value in elsewhere:
        assert not is_allowed_reference(value, own), value


def test_a_missing_tensor_is_named_as_a_tensor(tmp_path: Path) -> None:
    """Before: ``PATH: temporal.x.weight: missing``, read as a place in the file."""
    from safetensors.torch import load_file, save_file

    from semapose.models.partial import save_partial_weights
    from semapose.weights.read import safetensors_metadata
    from test_predict_helpers import tiny_cfg, tiny_model

    path = save_partial_weights(tiny_model(tiny_cfg()), tiny_cfg(), tmp_path / "t.safetensors")
    tensors = load_file(str(path))
    dropped = sorted(k for k in tensors if k.startswith("temporal."))[0]
    del tensors[dropped]
    save_file(tensors, str(path), metadata=safetensors_metadata(path))
    with pytest.raises(
        SemaposeError, match=rf"t\.safetensors: expected every tensor .* '{dropped}'"
    ):
        load_model(path)
