"""The run lock: one process owns a run directory at a time (flock, released even by SIGKILL)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from acf.errors import RunStoreError
from acf.rundir.names import RUN_LOCK


class RunLock:
    """An exclusive, advisory lock on `run.lock`; released when the process dies, even by SIGKILL."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / RUN_LOCK
        self._fh = None

    def acquire(self) -> None:
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
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
