"""What this machine has: free memory on the device, disk, a hardware id and library versions for cache keys."""

from __future__ import annotations

import functools
import os
import platform
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


def free_memory_bytes(device: str) -> int:
    if device.startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def free_disk_bytes(path: Path) -> int:
    path = Path(path)
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def model_bytes(model: Any) -> int:
    """Bytes held by a model's parameters and buffers."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def model_device(model: Any) -> Any:
    """The torch device a model's weights are on."""
    return next(model.parameters()).device


def hardware_id(device: str) -> str:
    """Identifies the hardware that timings were taken on (part of every evaluation cache key)."""
    if device.startswith("cuda"):
        import torch

        return f"cuda:{torch.cuda.get_device_name(torch.device(device))}"
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu:{name}:{os.cpu_count()}"


@functools.lru_cache(maxsize=None)
def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def library_versions(distributions: Any) -> dict[str, str]:
    """Installed version of each distribution (pip name); part of the evaluation cache key."""
    return {d: _version(d) for d in distributions}
