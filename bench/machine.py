"""A description of the machine a run happened on."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def describe() -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        "unknown",
    )  # fmt: skip
    free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout  # noqa: S607
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "free_h": free.strip(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
