"""Where and how a run was made: versions, commit, device, times."""

from __future__ import annotations

import platform
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import torch

from . import __version__


def git_commit() -> str | None:
    """Commit of the checkout this library runs from, with '+dirty' for local changes."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "--", "."],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"cpu: {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return f"cpu: {platform.processor() or platform.machine()}"


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' picks CUDA when present; an unavailable CUDA request is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):  # torch's message lists every backend it knows
        raise ValueError(f"unknown device {device!r}; use cpu, cuda[:N] or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}; use cpu, cuda[:N] or auto")
    return dev


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def environment(device: torch.device) -> dict:
    import numpy

    return {
        "library_version": __version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "device_name": device_name(device),
        "threads": torch.get_num_threads(),
        "host": socket.gethostname(),
    }
