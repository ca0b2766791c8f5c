"""Plain JSON on disk, written atomically (temporary file, fsync, rename), and where acf keeps its cache."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from acf.errors import RunStoreError


def cache_dir() -> Path:
    """Where acf keeps converted models and cached evaluations (`ACF_CACHE_DIR`, default ~/.cache/acf)."""
    root = os.environ.get("ACF_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "acf")
    return Path(root)


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same folder, fsync it, then rename over `path`."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def atomic_write_text(path: Path, text: str) -> None:
    """Write text to a temporary file in the same folder, fsync it, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~umask())  # mkstemp makes 0600; give the file the mode open() would
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def umask() -> int:
    """The process's umask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_json(path: Path) -> Any:
    path = Path(path)
    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise RunStoreError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunStoreError(f"{path} is corrupt or truncated ({exc})") from None
