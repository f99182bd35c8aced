"""Print constraints.txt from the environment this Python runs in (its ``pip freeze``).

Usage, in a venv where ``.ci/run`` passed (e.g. one made by ``./install.sh --newest``)::

    .venv/bin/python tools/freeze_constraints.py > constraints.txt

semapose itself and editable installs are left out; local version labels (``+cpu``)
are dropped, so ``torch==X`` is met by the CPU build from PyTorch's index and by the
registry's build alike.
"""

from __future__ import annotations

import re
import subprocess
import sys

HEADER = """\
# Known-good versions: an environment the whole CI passed in (Python 3.11, Linux x86_64).
# install.sh installs with '-c constraints.txt', so './install.sh' gives this environment
# every time; './install.sh --newest' ignores it (what 'pip install .' gives; CI tests that).
# Refresh: in a venv where '.ci/run' passed, 'python tools/freeze_constraints.py > constraints.txt'.
"""


def frozen() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = []
    for line in out.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or " @ " in line or "==" not in line:
            continue
        name, version = line.split("==", 1)
        if name.lower() in ("semapose", "pip", "setuptools", "wheel"):
            continue
        lines.append(f"{name}=={re.sub(r'[+].*$', '', version)}")
    return sorted(lines, key=str.lower)


def main() -> int:
    sys.stdout.write(HEADER + "\n".join(frozen()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
