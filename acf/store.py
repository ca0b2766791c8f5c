"""The run directory: plain JSON written atomically, a lock while a process owns the run, an evaluation cache."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

from acf.errors import RunStoreError

EPISODE_DIR = re.compile(r"^episode_(\d{3,})$")


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
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
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


def _umask() -> int:
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


class RunLock:
    """An exclusive, advisory lock on `run.lock`; released when the process dies, even by SIGKILL."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / "run.lock"
        self._fh = None

    def acquire(self) -> None:
        import fcntl

        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "another process"
            fh.close()
            raise RunStoreError(
                f"run directory {self.path.parent} is in use by {owner}",
                hint="wait for it to finish, or use another --run-dir",
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self._fh = fh

    def held_elsewhere(self) -> bool:
        """Whether another process holds the lock now (the run is in progress)."""
        import fcntl

        if not self.path.is_file():
            return False
        with open(self.path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
        return False

    def release(self) -> None:
        if self._fh is not None:
            import fcntl

            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


class RunStore:
    """The files of one run; see the README's "Run directory" section for the layout."""

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)

    def path(self, name: str) -> Path:
        return self.dir / name

    def exists(self) -> bool:
        return (self.dir / "run_config.json").is_file()

    def create(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise RunStoreError(f"cannot write to run directory {self.dir}: {exc.strerror or exc}") from None

    def remove_partial_writes(self) -> list[Path]:
        """Delete temporary files a killed writer left behind (`.NAME.*.tmp`; the real file is intact)."""
        stale = [p for p in [*self.dir.glob(".*.tmp"), *self.dir.glob("episode_*/.*.tmp")] if p.is_file()]
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

    def write(self, name: str, data: Any) -> None:
        atomic_write_json(self.dir / name, data)

    def read(self, name: str) -> Any:
        return read_json(self.dir / name)

    def has(self, name: str) -> bool:
        return (self.dir / name).is_file()

    def episode_dir(self, episode: int) -> Path:
        return self.dir / f"episode_{episode:03d}"

    def write_episode(self, episode: int, name: str, data: Any) -> None:
        atomic_write_json(self.episode_dir(episode) / name, data)

    def finished_episodes(self) -> list[dict[str, Any]]:
        """Results of episodes 1..k, the longest prefix whose result.json is present and valid.

        Later episodes (interrupted, or after a gap) are run again on resume; their evaluations come
        back from the cache, so the searcher sees the same history as an uninterrupted run.
        """
        results = []
        episode = 1
        while True:
            path = self.episode_dir(episode) / "result.json"
            if not path.is_file():
                break
            try:
                results.append(read_json(path))
            except RunStoreError as exc:
                warnings.warn(f"{exc}; episode {episode} and later ones are run again (their evaluations are cached)",
                              stacklevel=2)
                break
            episode += 1
        return results

    def episode_numbers(self) -> list[int]:
        if not self.dir.is_dir():
            return []
        return sorted(int(m[1]) for p in self.dir.iterdir() if (m := EPISODE_DIR.match(p.name)))


class EvalCache:
    """Evaluation results keyed by (model fingerprint, strategy, evaluator, fidelity, config)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_dir() / "evals"

    @staticmethod
    def key(**parts: Any) -> str:
        blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            return read_json(path)
        except RunStoreError:
            return None  # a torn cache entry is just a miss

    def put(self, key: str, value: Any) -> None:
        try:
            atomic_write_json(self._path(key), value)
        except OSError:
            pass  # the cache is an optimisation; a read-only cache dir must not fail the run
