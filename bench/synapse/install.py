"""A separate virtual environment with a pinned Synapse, so its dependencies never meet ours.

``python -m bench.synapse.install`` (or any Synapse workload) creates ``bench/.synapse-venv``
with the stdlib ``venv`` module and installs ``matrix-synapse[postgres]`` with that venv's pip;
a stamp file naming the pinned version makes the second call free.
"""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

SYNAPSE_VERSION = "1.163.2"
REQUIREMENT = f"matrix-synapse[postgres]=={SYNAPSE_VERSION}"
VENV_DIR = Path(__file__).resolve().parent.parent / ".synapse-venv"
STAMP = VENV_DIR / ".installed"
INSTALL_TIMEOUT_S = 900


def venv_python(root: Path = VENV_DIR) -> Path:
    return root / "bin" / "python"


def installed_version(root: Path = VENV_DIR) -> str | None:
    """The version the stamp file names, or None when nothing (complete) is installed."""
    stamp = root / STAMP.name
    return stamp.read_text().strip() if stamp.is_file() else None


def ensure_installed(root: Path = VENV_DIR) -> Path:
    """Create the venv and install the pinned Synapse unless the stamp says it is there.

    Returns the venv's interpreter; raises ``RuntimeError`` with pip's last words on failure.
    """
    python = venv_python(root)
    if installed_version(root) == SYNAPSE_VERSION and python.exists():
        return python
    print(f"installing {REQUIREMENT} into {root}", flush=True)
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               REQUIREMENT]  # fmt: skip
    done = subprocess.run(  # noqa: S603 - our venv's pip, our pinned requirement
        command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"installing {REQUIREMENT} failed: {done.stderr[-2000:]}")
    (root / STAMP.name).write_text(SYNAPSE_VERSION + "\n")
    return python


if __name__ == "__main__":
    print(ensure_installed())
