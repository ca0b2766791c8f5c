"""Run untrusted generated code (HumanEval completions) in a separate, locked-down Python process.

Never in acf's process. Each program runs in `python -I -S` (isolated: no site, no environment, no user path)
inside a fresh temporary directory that is deleted afterwards, in its own session (the whole process group is
killed at the time limit). What the child does before the program runs — resource limits, its own network
namespace, Landlock, the audit hook, and how a pass is proven with a per-run token — is described in
`sandbox_guard.py`. No `preexec_fn`: the child sets itself up while still single-threaded and trusted, so
running many programs from a thread pool is safe.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from acf_plugins_builtin.evaluators.tasks.sandbox_guard import GUARD


@dataclass
class Outcome:
    passed: bool
    reason: str  # "passed", "timed out", "failed: <last line of stderr>", ...
    isolation: dict[str, int] = field(default_factory=dict)  # {"netns": 0|1, "landlock": ABI or 0}


def run_program(
    source: str,
    *,
    test: str | None = None,
    entry_point: str | None = None,
    timeout: float = 10.0,
    memory_mb: int = 1024,
    landlock: bool = True,
) -> Outcome:
    """Run `source` in the sandbox; with `test`, then run the test's code and `check(entry_point)`.

    Passed means the guard wrote this run's random token after the program (and the check) returned, and the
    process then exited 0 within the limits. `landlock=False` leaves the kernel's file-system rules out (tests
    use it to show that the audit hook alone holds, as on kernels without Landlock).
    """
    token = secrets.token_hex(16)
    folder = tempfile.mkdtemp(prefix="acf-sandbox-")
    logs = tempfile.mkdtemp(prefix="acf-sandbox-logs-")  # outside the sandbox: the program cannot open them
    job = json.dumps({"token": token, "source": source, "test": test, "entry_point": entry_point}).encode()
    read_end, write_end = os.pipe()
    try:
        # output goes to files, which RLIMIT_FSIZE caps: a program that floods them cannot fill acf's memory
        with open(os.path.join(logs, "out"), "wb") as out, open(os.path.join(logs, "err"), "wb") as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-c",
                    GUARD,
                    str(memory_mb),
                    str(int(timeout) + 1),
                    str(read_end),
                    str(int(landlock)),
                ],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                close_fds=True,
                pass_fds=(read_end,),
                env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
                start_new_session=True,
            )
        os.close(read_end)
        read_end = -1
        try:
            with os.fdopen(write_end, "wb") as fh:
                write_end = -1
                fh.write(job)
        except BrokenPipeError:
            pass  # the child died before reading its job: its exit status says why
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return Outcome(False, "timed out", _isolation(_head(os.path.join(logs, "out"))))
        _kill_group(proc)  # anything it left behind
        lines = _tail(os.path.join(logs, "out"))
        isolation = _isolation(_head(os.path.join(logs, "out")))
        last = next((line for line in reversed(lines) if line.strip()), "")
        if proc.returncode == 0 and last == token:
            return Outcome(True, "passed", isolation)
        errors = [line for line in _tail(os.path.join(logs, "err")) if line.strip()]
        why = errors[-1] if errors else (f"exit {proc.returncode}" if proc.returncode else "exited before the check")
        return Outcome(False, f"failed: {why[:300]}", isolation)
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)


def _head(path: str) -> str:
    with open(path, "rb") as fh:
        return fh.readline(200).decode(errors="replace")


def _tail(path: str, size: int = 4096) -> list[str]:
    with open(path, "rb") as fh:
        fh.seek(max(0, os.path.getsize(path) - size))
        return fh.read().decode(errors="replace").splitlines()


def _isolation(line: str) -> dict[str, int]:
    if not line.startswith("ACF-SANDBOX "):
        return {}
    return {k: int(v) for k, v in (item.split("=", 1) for item in line.split()[1:])}


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
