"""The dependency files agree: pyproject.toml's bounds, constraints.txt (what install.sh
installs), tools/lowest_constraints.py (what CI's lowest-versions job installs)."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")
packaging_req = pytest.importorskip("packaging.requirements")

REPO = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("lowest", REPO / "tools/lowest_constraints.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _requirements(extras: tuple[str, ...] = ("dev",)) -> list:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    return [packaging_req.Requirement(r) for r in reqs]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("torch>=2.13", ("torch", "2.13")),
        ("opencv-python-headless>=4.8.0.74,<5.1", ("opencv-python-headless", "4.8.0.74")),
        ("foo[bar] <3, >=1.2 ; python_version>'3'", ("foo", "1.2")),
        ("types-PyYAML", ("types-PyYAML", None)),
    ],
)
def test_lower_bound_reads_requirements(text: str, expected: tuple) -> None:
    assert _tool().lower_bound(text) == expected


def test_every_runtime_dependency_has_a_lower_bound_ci_installs() -> None:
    lines = _tool().lowest_constraints(REPO / "pyproject.toml", [])
    names = {line.split("==")[0].lower() for line in lines}
    assert names == {r.name.lower() for r in _requirements(())}


def test_constraints_pin_every_dependency_within_pyprojects_bounds() -> None:
    pins = _pins()
    for req in _requirements():
        key = req.name.lower().replace("_", "-")
        assert key in pins, f"constraints.txt has no pin for {req.name}"
        assert req.specifier.contains(pins[key], prereleases=True), (req, pins[key])
    assert "+" not in pins["torch"], "torch pinned without a local label (+cpu)"


def test_install_script_is_valid_bash_and_shows_pip_progress() -> None:
    for script in ("install.sh", ".ci/run"):
        subprocess.run(["bash", "-n", str(REPO / script)], check=True)
    text = (REPO / "install.sh").read_text()
    pip_lines = [line for line in text.splitlines() if "pip" in line and "install" in line]
    assert pip_lines and not any("--quiet" in line or " -q" in line for line in pip_lines)
    assert "download.pytorch.org/whl/cpu" in text and "constraints.txt" in text
