"""Run untrusted generated code (HumanEval completions) in a separate, locked-down Python process.

Never in acf's process. Each program runs in `python -I` (isolated: no site, no environment, no user path)
inside a fresh temporary directory that is deleted afterwards, with these layers:

- resource limits: address space (`memory_mb`), CPU seconds, file size, open files, and no core dumps;
  a wall-clock `timeout` after which the whole process group is killed;
- its own session and, where the kernel allows it, its own empty network namespace (no interface but a
  down loopback: nothing to connect to);
- an audit hook installed before the program runs (audit hooks cannot be removed from Python) that refuses
  processes (fork, exec, spawn, system, subprocess), signals to other processes, sockets, loading native
  code through ctypes, and any write, delete, rename or permission change outside the sandbox directory.

A refused operation raises inside the program, which then fails its tests; the parent sees a non-zero exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

# Runs first in the child: limits what the program may do, then executes it.
GUARD = r'''
import os, sys
SANDBOX = os.path.realpath(os.getcwd())
BLOCKED = {"os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.startfile",
           "subprocess.Popen", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill", "os.setuid",
           "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto",
           "ctypes.dlopen", "ctypes.dlsym", "ctypes.call_function", "ctypes.addressof", "ctypes.cdata",
           "os.chroot", "sys.addaudithook", "os.unshare", "os.setns", "mmap.__new__"}
# Modules that reach the OS below the audited functions (raw fork/exec, native calls, sockets, limits).
IMPORTS = {"_posixsubprocess", "subprocess", "_ctypes", "ctypes", "_socket", "socket", "pty", "multiprocessing",
           "_multiprocessing", "resource", "signal", "_signal", "mmap", "fcntl"}
PATH_EVENTS = {"os.remove": 1, "os.rmdir": 1, "os.rename": 2, "os.link": 2, "os.symlink": 2, "os.truncate": 1,
               "os.chmod": 1, "os.chown": 1, "os.mkdir": 1, "os.utime": 1, "shutil.rmtree": 1, "shutil.copyfile": 2,
               "shutil.move": 2, "os.chdir": 1}

def _inside(path):
    try:
        path = os.fsdecode(path)
    except TypeError:
        return False  # a file descriptor: only ones the program opened itself, which were checked
    real = os.path.realpath(path)
    return real == SANDBOX or real.startswith(SANDBOX + os.sep)

def _guard(event, args):
    if event == "import" and args[0].partition(".")[0] in IMPORTS:
        raise ImportError(f"sandbox: importing {args[0]} is not allowed")
    if event in BLOCKED or event.startswith("os.exec") or event.startswith("os.spawn"):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "open":
        path, mode, flags = args
        writing = (mode and any(c in mode for c in "wax+")) or (flags and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))
        if writing and not (isinstance(path, int) or _inside(path)):
            raise PermissionError(f"sandbox: writing {path!r} outside the sandbox directory")
    elif event in PATH_EVENTS:
        for path in args[:PATH_EVENTS[event]]:
            if path is not None and not isinstance(path, int) and not _inside(path):
                raise PermissionError(f"sandbox: {event} on {path!r} outside the sandbox directory")

with open("program.py") as fh:
    _source = fh.read()
_code = compile(_source, "program.py", "exec")
for _name in [m for m in sys.modules if m.partition(".")[0] in IMPORTS]:
    del sys.modules[_name]
sys.addaudithook(_guard)
del _source
exec(_code, {"__name__": "__main__"})
'''

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000


@dataclass
class Outcome:
    passed: bool
    reason: str  # "passed", "timed out", "failed: <last line of stderr>", ...


def _limit(memory_mb: int, cpu_seconds: int) -> None:
    """In the child, before exec: resource limits, a new session, and a network namespace if allowed."""
    import resource

    os.setsid()
    limits = [(resource.RLIMIT_AS, memory_mb * 2**20), (resource.RLIMIT_CPU, cpu_seconds),
              (resource.RLIMIT_FSIZE, 16 * 2**20), (resource.RLIMIT_NOFILE, 64), (resource.RLIMIT_CORE, 0)]
    if os.geteuid() != 0:  # not enforced for root; the audit hook refuses fork either way
        limits.append((resource.RLIMIT_NPROC, 0))
    for which, value in limits:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    _unshare_network()


def _unshare_network() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0 and os.geteuid() != 0:
            libc.unshare(CLONE_NEWUSER | CLONE_NEWNET)
    except (OSError, AttributeError):
        pass


def run_program(source: str, *, timeout: float = 10.0, memory_mb: int = 1024) -> Outcome:
    """Run `source` as a program in the sandbox; passed means it exited 0 within the limits."""
    folder = tempfile.mkdtemp(prefix="acf-sandbox-")
    try:
        with open(os.path.join(folder, "program.py"), "w") as fh:
            fh.write(source)
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", GUARD], cwd=folder, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
            preexec_fn=lambda: _limit(memory_mb, int(timeout) + 1), close_fds=True,
        )
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return Outcome(False, "timed out")
        _kill_group(proc)  # anything it left behind
        if proc.returncode == 0:
            return Outcome(True, "passed")
        lines = err.decode(errors="replace").strip().splitlines()
        return Outcome(False, f"failed: {lines[-1] if lines else f'exit {proc.returncode}'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
