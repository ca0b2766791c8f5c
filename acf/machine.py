"""What this machine has free: memory on the device, disk, and a hardware id for cache keys."""

from __future__ import annotations

import platform
import shutil
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
    import os

    return f"cpu:{name}:{os.cpu_count()}"
